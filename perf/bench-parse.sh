#!/usr/bin/env bash
# Benchmark (issue 5): each parser's throughput alone, in MB/s (and lines/s) per core.
# For every parser a pipeline `file -> PARSER -> jsonl file sink` runs over LINES generated
# lines on tmpfs (/dev/shm); the figure is the parser node's own busy time from
# --stats-json (busy_cycles / TSC Hz, the Hz from the run's usage ledger), so the file
# source and the sink, on their own lcore or not, are not counted: MB/s per core =
# input bytes / parser busy seconds. The jsonl sink reads every field, so parsers that skip
# unread fields (nginx_parse's projection) write all of them here. Every line must parse
# (the `parsed` counter equals the lines). ROUNDS rounds, the parsers' order rotated each
# round; median, min and max per parser.
#   nginx       nginx_parse, combined (tests/lib/gen_nginx_log.py lines, seed 1)
#   nginx_rt    nginx_parse, log_format combined + $request_time (perf/peers/add_request_time.py)
#   syslog3164  syslog_parse format: rfc3164    syslog5424  syslog_parse format: rfc5424
#   json        json_parse (nested object flattened)   logfmt  logfmt_parse (typed)
#   regex       regex_parse, a named-capture PCRE2 pattern for the combined lines, with types
# Inputs other than nginx: perf/gen_parse_inputs.py.
# usage: perf/bench-parse.sh [--quick] [--rounds N] [--lines N] [--out DIR]
#   --quick   20,000 lines, 1 round (a smoke check)
# Busy cycles count wall time while the parser runs: on a loaded machine a preempted
# parser looks slower. Run it alone (flock /tmp/sluice-bench.lock perf/bench-parse.sh).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${SLUICE_BUILD:-$SRC/build}
SLUICE=$BUILD/sluice
BENCH_DIR=${BENCH_DIR:-/dev/shm/sluice-bench}
LINES=500000
ROUNDS=5
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) LINES=20000; ROUNDS=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--lines) LINES=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--lines N] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] || { echo "bench: $SLUICE not built" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
OUT=${OUT:-$BENCH_DIR/parse-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"kernel $(uname -r), DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?')"
	echo "sluice:  $("$SLUICE" --version 2>&1 | head -1), git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "lines:   $LINES per parser, $ROUNDS rounds"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before"
} | tee "$OUT/machine.txt"

gen_hash=$(cat "$SRC/tests/lib/gen_nginx_log.py" "$SRC/perf/gen_parse_inputs.py" \
	"$SRC/perf/peers/add_request_time.py" | sha256sum | cut -c1-16)
# input KIND: make (or reuse) $BENCH_DIR/parse-KIND-LINES.log, print its path.
input() {
	local kind=$1 f=$BENCH_DIR/parse-$1-$LINES.log
	if [ -f "$f" ] && [ "$(cat "$f.recipe" 2>/dev/null)" = "$gen_hash $(stat -c %s "$f")" ]; then
		echo "$f"
		return
	fi
	case $kind in
	nginx) python3 "$SRC/tests/lib/gen_nginx_log.py" -n "$LINES" -o "$f" --seed 1 ;;
	nginx_rt) python3 "$SRC/tests/lib/gen_nginx_log.py" -n "$LINES" -o - --seed 1 |
		python3 "$SRC/perf/peers/add_request_time.py" 1 >"$f" ;;
	*) python3 "$SRC/perf/gen_parse_inputs.py" "$kind" "$LINES" "$f" ;;
	esac
	echo "$gen_hash $(stat -c %s "$f")" >"$f.recipe"
	echo "$f"
}

RX='^(?<ip>\S+) - (?<user>\S+) \[(?<time>[^\]]+)\] "(?<method>\S+) (?<path>\S+) (?<protocol>[^"]+)" (?<status>\d{3}) (?<bytes>\d+|-) "(?<referer>[^"]*)" "(?<user_agent>(?:[^"\\]|\\.)*)"$'
declare -A STAGE IN
STAGE[nginx]='use: nginx_parse'
STAGE[nginx_rt]="use: nginx_parse, log_format: '\$remote_addr - \$remote_user [\$time_local] \"\$request\" \$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\" \$request_time'"
STAGE[syslog3164]='use: syslog_parse, format: rfc3164, year: 2026'
STAGE[syslog5424]='use: syslog_parse, format: rfc5424'
STAGE[json]='use: json_parse'
STAGE[logfmt]='use: logfmt_parse'
STAGE[regex]="use: regex_parse, pattern: '$RX', types: [\"status:int\", \"time:clf\"]"
IN[regex]=nginx
PARSERS=(nginx nginx_rt syslog3164 syslog5424 json logfmt regex)

RUN=$(mktemp -d "$BENCH_DIR/parse-run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
for p in "${PARSERS[@]}"; do
	f=$(input "${IN[$p]:-$p}")
	mkdir -p "$RUN/$p"
	cat >"$RUN/$p/pipeline.yaml" <<YAML
ledger: $RUN/$p/ledger.jsonl
sources:
  in: { type: file, path: $f }
stages:
  p: { ${STAGE[$p]}, inputs: [in] }
sinks:
  recs: { type: file, inputs: [p], path: $RUN/$p/out.jsonl, format: jsonl }
  errs: { type: file, inputs: [p.errors], path: $RUN/$p/errors.jsonl, format: jsonl }
YAML
	echo "$p $(stat -c %s "$f")" >>"$RUN/sizes"
done

for ((r = 0; r < ROUNDS; r++)); do
	n=${#PARSERS[@]}
	for ((k = 0; k < n; k++)); do
		p=${PARSERS[$(((r + k) % n))]}
		rm -f "$RUN/$p/out.jsonl" "$RUN/$p/errors.jsonl" "$RUN/$p/ledger.jsonl"
		"$SLUICE" run "$RUN/$p/pipeline.yaml" -q --stats-json "$OUT/$p-$r.json" \
			>"$RUN/$p/stdout" 2>"$RUN/$p/stderr" ||
			{ echo "bench: $p failed:" >&2; tail -5 "$RUN/$p/stderr" >&2; exit 1; }
		tail -1 "$RUN/$p/ledger.jsonl" >"$OUT/$p-$r.ledger"
	done
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after" | tee -a "$OUT/machine.txt"
python3 - "$OUT" "$ROUNDS" "$LINES" "$RUN/sizes" "${PARSERS[@]}" <<'PY'
import json, statistics, sys
out, rounds, lines, sizes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
parsers = sys.argv[5:]
size = dict((l.split()[0], int(l.split()[1])) for l in open(sizes))
print("%-11s %6s %10s %8s %8s %8s %10s %9s" % ("parser", "bytes/l", "MB", "MB/s med", "min",
                                                "max", "Mlines/s", "cyc/line"))
bad = 0
for p in parsers:
    mbs, cyc = [], []
    for r in range(rounds):
        st = json.load(open("%s/%s-%d.json" % (out, p, r)))
        led = json.loads(open("%s/%s-%d.ledger" % (out, p, r)).read())
        hz = led["tsc_hz"]
        node = [n for n in st["nodes"] if n["name"] == "p"][0]
        if node["counters"].get("parsed", node["counters"].get("matched")) != lines:
            print("bench: %s: %s lines parsed of %d" % (p, node["counters"], lines), file=sys.stderr)
            bad = 1
        secs = node["busy_cycles"] / hz
        mbs.append(size[p] / secs / 1e6)
        cyc.append(node["busy_cycles"] / lines)
    med = statistics.median(mbs)
    print("%-11s %6d %10.1f %8.0f %8.0f %8.0f %10.2f %9.0f" % (
        p, size[p] / lines, size[p] / 1e6, med, min(mbs), max(mbs),
        med * 1e6 / (size[p] / lines) / 1e6, statistics.median(cyc)))
print("MB/s per core: input bytes / the parser node's busy seconds (median of %d runs)" % rounds)
sys.exit(bad)
PY
