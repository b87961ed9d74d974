#!/usr/bin/env bash
# Benchmark (issue 5): nginx log analytics, Sluice against its peers, side by side in one run.
#   sluice        nginx_parse (log_format with $request_time) -> aggregate count by status
#                 and aggregate p99 of request_time by path -> two jsonl files, default lcores
#   sluice-lanes  the same with --replicas $(nproc) (one lane per CPU)
#   mawk          mawk '{c[$9]++}' (counting only, no request_time, no p99)
#   floor         perf/floor (single-purpose C, one core, counting only)
#   syslog-ng     perf/peers/run-syslog-ng.sh: csv-parser, status of each line to a file, counted
#   rsyslog       perf/peers/run-rsyslog.sh: imfile + mmnormalize, the same
# Input: LINES (default 5,000,000) generated nginx combined lines (tests/lib/gen_nginx_log.py,
# seed 1, no malformed lines) with a $request_time appended
# (perf/peers/add_request_time.py), on tmpfs (/dev/shm), made once and reused. syslog-ng and
# rsyslog take ~1 minute per 5 M lines each, so they read the first PEER_LINES lines
# (default 1,000,000) of the same file and are compared by time per line (lines/s); every
# other command reads all LINES.
# Before timing every answer is checked: the status counts of all six agree (the peers' on
# their prefix against mawk's on the same prefix), and Sluice's p99 per path is within the
# stated 1 % (DDSketch alpha) of the exact rank-floor(0.99 (n-1)) value computed in Python.
# Timing: hyperfine, one run of each command per round, order rotated every round; prints
# median, min and max wall per command, lines/s, and the ratios of time per line.
#
# usage: perf/bench-peers.sh [--quick] [--rounds N] [--lines N] [--peer-lines N] [--out DIR]
#   --quick   200,000 lines, peers on 20,000, 1 round: a smoke check
# Environment: SLUICE_BUILD (default build/), BENCH_DIR (default /dev/shm/sluice-bench),
#   RSYSLOG_ROOT (unpacked rsyslog .deb, default /opt/sluice-peers/rsyslog; prepared here).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${SLUICE_BUILD:-$SRC/build}
SLUICE=$BUILD/sluice
FLOOR=$BUILD/perf/floor
BENCH_DIR=${BENCH_DIR:-/dev/shm/sluice-bench}
RSYSLOG_ROOT=${RSYSLOG_ROOT:-/opt/sluice-peers/rsyslog}
export RSYSLOG_ROOT
LINES=5000000
PEER_LINES=1000000
ROUNDS=5
SEED=1
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) LINES=200000; PEER_LINES=20000; ROUNDS=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--lines) LINES=$2; shift ;;
	--peer-lines) PEER_LINES=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--lines N] [--peer-lines N] [--out DIR]" >&2
	   exit 2 ;;
	esac
	shift
done
[ "$PEER_LINES" -le "$LINES" ] || PEER_LINES=$LINES

for exe in "$SLUICE" "$FLOOR"; do
	[ -x "$exe" ] || { echo "bench: $exe not built (ninja -C $BUILD)" >&2; exit 1; }
done
need=()
command -v mawk >/dev/null || need+=(mawk)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v syslog-ng >/dev/null || need+=(syslog-ng-core)
[ -x "$RSYSLOG_ROOT/usr/sbin/rsyslogd" ] || need+=("rsyslog unpacked in $RSYSLOG_ROOT")
if [ ${#need[@]} -gt 0 ]; then
	echo "bench: missing ${need[*]}: run SLUICE_SETUP_PERF=1 scripts/setup" >&2
	exit 1
fi

mkdir -p "$BENCH_DIR"
OUT=${OUT:-$BENCH_DIR/peers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"kernel $(uname -r), DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?')"
	echo "sluice:  $("$SLUICE" --version 2>&1 | head -1), git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"+ $(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null | wc -l) modified files"
	echo "tools:   $(hyperfine --version), mawk $(mawk -W version 2>&1 | head -1 | cut -d' ' -f2-3)," \
		"syslog-ng $(syslog-ng --version | sed -n 's/^Installer-Version: *//p')," \
		"rsyslog $("$RSYSLOG_ROOT/usr/sbin/rsyslogd" -v | awk 'NR == 1 { print $2 }' | tr -d ,)"
	echo "lines:   $LINES (sluice, mawk, floor); $PEER_LINES (syslog-ng, rsyslog: a prefix)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before"
} | tee "$OUT/machine.txt"

# The input: combined lines + $request_time, cached by recipe.
INPUT=$BENCH_DIR/nginx-rt-$LINES.log
recipe="lines=$LINES seed=$SEED gen=$(cat "$SRC/tests/lib/gen_nginx_log.py" "$SRC/perf/peers/add_request_time.py" | sha256sum | cut -c1-16)"
if [ -f "$INPUT" ] && [ -f "$INPUT.recipe" ] && [ "$(head -1 "$INPUT.recipe")" = "$recipe" ] &&
	[ "$(sed -n 2p "$INPUT.recipe")" = "$(stat -c %s "$INPUT")" ]; then
	echo "bench: reusing $INPUT" >&2
else
	echo "bench: generating $INPUT" >&2
	rm -f "$INPUT" "$INPUT.recipe"
	python3 "$SRC/tests/lib/gen_nginx_log.py" -n "$LINES" -o - --seed "$SEED" |
		python3 "$SRC/perf/peers/add_request_time.py" "$SEED" >"$INPUT"
	printf '%s\n%s\n' "$recipe" "$(stat -c %s "$INPUT")" >"$INPUT.recipe"
fi
PREFIX=$BENCH_DIR/nginx-rt-$LINES-head-$PEER_LINES.log
head -n "$PEER_LINES" "$INPUT" >"$PREFIX"

RUN=$(mktemp -d "$BENCH_DIR/peers-run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
mkdir -p "$RUN/out"
cat >"$RUN/pipeline.yaml" <<YAML
sources:
  access: { type: file, path: $INPUT }
stages:
  parse:
    use: nginx_parse
    inputs: [access]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time'
  by_status:
    use: aggregate
    inputs: [parse]
    group_by: [status]
    window: all
    aggregations: ["{ name: requests, fn: count }"]
  by_path:
    use: aggregate
    inputs: [parse]
    group_by: [path]
    window: all
    max_groups: 4096
    aggregations: ["{ name: p99_request_time, fn: quantile, field: request_time, q: 0.99 }"]
sinks:
  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl, format: jsonl }
  path_p99:      { type: file, inputs: [by_path], path: out/path.jsonl, format: jsonl }
YAML
MAWK_PROG='{c[$9]++} END{for(k in c) print k, c[k]}'
LANES=$(nproc)
SLUICE_CMD="$SLUICE run $RUN/pipeline.yaml -q"
SLUICEL_CMD="$SLUICE run $RUN/pipeline.yaml -q --replicas $LANES"
MAWK_CMD="mawk '$MAWK_PROG' $INPUT"
FLOOR_CMD="$FLOOR $INPUT"
SNG_CMD="$SRC/perf/peers/run-syslog-ng.sh $PREFIX $RUN/sng"
RS_CMD="$SRC/perf/peers/run-rsyslog.sh $PREFIX $RUN/rs"

# Correctness first.
cd "$RUN"
counts() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["status"], r["requests"])' "$1" | sort -n; }
for mode in 1 lanes; do
	extra=(); [ $mode = lanes ] && extra=(--replicas "$LANES")
	"$SLUICE" run pipeline.yaml -q "${extra[@]}" >"$OUT/sluice-$mode.stdout" 2>"$OUT/sluice-$mode.stderr" ||
		{ echo "bench: sluice ($mode) failed:" >&2; tail "$OUT/sluice-$mode.stderr" >&2; exit 1; }
	counts out/status.jsonl >"$OUT/sluice-$mode.counts"
	cp out/path.jsonl "$OUT/sluice-$mode.p99"
done
LC_ALL=C mawk "$MAWK_PROG" "$INPUT" | sort -n >"$OUT/mawk.counts"
LC_ALL=C mawk "$MAWK_PROG" "$PREFIX" | sort -n >"$OUT/mawk-prefix.counts"
"$FLOOR" "$INPUT" >"$OUT/floor.counts"
$SNG_CMD >"$OUT/syslog-ng.counts"
$RS_CMD >"$OUT/rsyslog.counts"
bad=0
for f in sluice-1 sluice-lanes floor; do
	cmp -s "$OUT/$f.counts" "$OUT/mawk.counts" || { echo "bench: $f disagrees with mawk" >&2; bad=1; }
done
for f in syslog-ng rsyslog; do
	cmp -s "$OUT/$f.counts" "$OUT/mawk-prefix.counts" ||
		{ echo "bench: $f disagrees with mawk on the prefix" >&2; bad=1; }
done
[ $bad = 0 ] || { echo "bench: see $OUT/*.counts" >&2; exit 1; }
python3 - "$INPUT" "$OUT/sluice-1.p99" "$OUT/sluice-lanes.p99" <<'PY' || exit 1
import json, sys
times = {}
with open(sys.argv[1], "rb") as f:
    for line in f:
        q = line.index(b'" ', line.index(b'"') + 1)
        path = line[line.index(b'"') + 1:q].split(b" ")[1].decode()
        rt = float(line.rsplit(b" ", 1)[1])
        times.setdefault(path, []).append(rt)
for fn in sys.argv[2:]:
    got = {}
    for l in open(fn):
        r = json.loads(l)
        got[r["path"]] = r["p99_request_time"]
    assert set(got) == set(times), "%s: paths differ" % fn
    worst = 0.0
    for p, v in times.items():
        v.sort()
        exact = v[int(0.99 * (len(v) - 1))]
        err = abs(got[p] - exact) / exact if exact else abs(got[p])
        worst = max(worst, err)
        assert err <= 0.01 + 1e-9, "%s: %s p99 %r, exact %r" % (fn, p, got[p], exact)
    print("bench: %s: p99 of request_time for %d paths within %.3f %% of exact (stated 1 %%)"
          % (fn.rsplit("/", 1)[1], len(got), worst * 100), file=sys.stderr)
PY
echo "bench: all six agree on $(wc -l <"$OUT/mawk.counts") statuses ($LINES lines; peers on $PEER_LINES)" >&2

names=(sluice sluice-lanes mawk floor syslog-ng rsyslog)
cmds=("$SLUICE_CMD" "$SLUICEL_CMD" "$MAWK_CMD" "$FLOOR_CMD" "$SNG_CMD" "$RS_CMD")
n_cmds=${#names[@]}
for ((r = 0; r < ROUNDS; r++)); do
	args=()
	for ((k = 0; k < n_cmds; k++)); do
		i=$(((r + k) % n_cmds))
		args+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	hyperfine -N --runs 1 --style basic --prepare "rm -f $RUN/out/status.jsonl $RUN/out/path.jsonl" \
		--export-json "$OUT/round-$r.json" "${args[@]}" >"$OUT/round-$r.txt" 2>&1 ||
		{ cat "$OUT/round-$r.txt" >&2; exit 1; }
done
cd "$SRC"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after" | tee -a "$OUT/machine.txt"
[ "$ROUNDS" -gt 0 ] && python3 - "$OUT" "$ROUNDS" "$LINES" "$PEER_LINES" <<'PY'
import json, statistics, sys
out, rounds, lines, peer_lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs = {}
for r in range(rounds):
    for res in json.load(open("%s/round-%d.json" % (out, r)))["results"]:
        u = res["user"] if isinstance(res["user"], list) else [res["user"]]
        s = res["system"] if isinstance(res["system"], list) else [res["system"]]
        for t, uu, ss in zip(res["times"], u, s):
            runs.setdefault(res["command"], []).append({"wall": t, "cpu": uu + ss})
json.dump({"rounds": rounds, "lines": lines, "peer_lines": peer_lines, "results": [
    {"command": n, "times": [x["wall"] for x in v], "cpu": [x["cpu"] for x in v]}
    for n, v in runs.items()]}, open(out + "/hyperfine.json", "w"), indent=1)
n_of = lambda n: peer_lines if n in ("syslog-ng", "rsyslog") else lines
order = [x for x in ("sluice", "sluice-lanes", "mawk", "floor", "syslog-ng", "rsyslog") if x in runs]
print("%-13s %9s %8s %8s %8s %8s %12s" % ("command", "lines", "median", "min", "max", "cpu med",
                                          "lines/s"))
per_line = {}
for n in order:
    w = [x["wall"] for x in runs[n]]
    c = [x["cpu"] for x in runs[n]]
    med = statistics.median(w)
    per_line[n] = med / n_of(n)
    print("%-13s %9d %7.3fs %7.3fs %7.3fs %7.3fs %12.0f" % (n, n_of(n), med, min(w), max(w),
          statistics.median(c), n_of(n) / med))
for s in ("sluice", "sluice-lanes"):
    for base in ("mawk", "floor", "syslog-ng", "rsyslog"):
        if s in per_line and base in per_line:
            print("%-13s vs %-10s time per line: %6.2fx faster (%.2f of its time)"
                  % (s, base, per_line[base] / per_line[s], per_line[s] / per_line[base]))
print("runs per command: %d (rounds, order rotated); exports %s/round-*.json, merged %s/hyperfine.json"
      % (len(runs["sluice"]), out, out))
PY
