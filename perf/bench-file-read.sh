#!/usr/bin/env bash
# Benchmark (issue 3): read-once of a ~1 GiB log file on tmpfs into a `null` sink, side by
# side with `cat FILE > /dev/null` on the same file, in one run. Sluice runs the smallest
# pipeline that reads every line into an event (file source -> null sink), one replica
# ("sluice") and one per CPU ("sluice-lanes", --replicas $(nproc): the source splits the
# file and the null sink runs a replica per lane, fused to it on its lcore). The input is the issue-2 benchmark's 5 M-line nginx log repeated up to 1 GiB
# (cut at a line end), made once under BENCH_DIR and reused. Timing: hyperfine, one run
# of each command per round, order rotated every round; prints median, min and max wall
# time and the throughput ratio cat / sluice (>= 0.8 is the issue's target).
#
# usage: perf/bench-file-read.sh [--rounds N]
# Environment: SLUICE_BUILD (default build/), BENCH_DIR (default /dev/shm/sluice-bench).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
SLUICE=${SLUICE_BUILD:-$SRC/build}/sluice
BENCH_DIR=${BENCH_DIR:-/dev/shm/sluice-bench}
ROUNDS=5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	*) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] || { echo "bench: $SLUICE not built" >&2; exit 1; }
command -v hyperfine >/dev/null || apt-get install -y hyperfine >&2
mkdir -p "$BENCH_DIR"
BASE=$BENCH_DIR/nginx-5000000.log
if [ ! -f "$BASE" ]; then
	echo "bench: generating $BASE" >&2
	python3 "$SRC/tests/lib/gen_nginx_log.py" -n 5000000 -o "$BASE" --seed 1
fi
INPUT=$BENCH_DIR/read-1g.log
if [ ! -f "$INPUT" ] || [ "$(stat -c %s "$INPUT")" -lt $(((1 << 30) - 8192)) ]; then
	echo "bench: making $INPUT (1 GiB of $BASE, cut at a line end)" >&2
	python3 - "$BASE" "$INPUT" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
want = 1 << 30
data = open(src, "rb").read()
with open(dst, "wb") as f:
    n = 0
    while n + len(data) <= want:
        f.write(data)
        n += len(data)
    rest = data[:want - n]
    f.write(rest[:rest.rfind(b"\n") + 1])
PY
fi
OUT=$(mktemp -d "$BENCH_DIR/read.XXXXXX")
cat >"$OUT/p.yaml" <<YAML
sources:
  in: { type: file, path: $INPUT }
sinks:
  out: { type: "null", inputs: [in] }
YAML
lines=$(wc -l <"$INPUT")
# Correctness first: every line reaches the sink.
"$SLUICE" run "$OUT/p.yaml" -q --stats-json "$OUT/stats.json"
got=$(python3 -c 'import json,sys; print([n for n in json.load(open(sys.argv[1]))["nodes"] if n["name"]=="out"][0]["in"])' "$OUT/stats.json")
[ "$got" = "$lines" ] || { echo "bench: sink got $got events, the file has $lines lines" >&2; exit 1; }
# And in lanes: every line, each by a direct call from its lane's source replica.
"$SLUICE" run "$OUT/p.yaml" -q --replicas "$(nproc)" --stats-json "$OUT/stats-lanes.json"
got=$(python3 -c 'import json,sys; n=[n for n in json.load(open(sys.argv[1]))["nodes"] if n["name"]=="out"][0]; print(n["in"], n["fused_in"], n["replicas"])' "$OUT/stats-lanes.json")
[ "$got" = "$lines $lines $(nproc)" ] || { echo "bench: lanes: sink in, fused_in, replicas = $got; want $lines $lines $(nproc)" >&2; exit 1; }
echo "bench: $(stat -c %s "$INPUT") bytes, $lines lines, all delivered (lanes: all fused)" >&2
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
	echo "sluice:  $("$SLUICE" --version), git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) before"
} | tee "$OUT/machine.txt"
names=(cat sluice sluice-lanes)
cmds=("cat $INPUT" "$SLUICE run $OUT/p.yaml -q" "$SLUICE run $OUT/p.yaml -q --replicas $(nproc)")
for ((r = 0; r < ROUNDS; r++)); do
	args=()
	for ((k = 0; k < ${#names[@]}; k++)); do
		i=$(((r + k) % ${#names[@]}))
		args+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	hyperfine -N --runs 1 --style basic --output null --export-json "$OUT/round-$r.json" \
		"${args[@]}" >"$OUT/round-$r.txt" 2>&1 || { cat "$OUT/round-$r.txt" >&2; exit 1; }
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) after" | tee -a "$OUT/machine.txt"
python3 - "$OUT" "$ROUNDS" "$(stat -c %s "$INPUT")" <<'PY'
import json, statistics, sys
out, rounds, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for r in range(rounds):
    for res in json.load(open("%s/round-%d.json" % (out, r)))["results"]:
        runs.setdefault(res["command"], []).extend(res["times"])
print("%-13s %8s %8s %8s %10s" % ("command", "median", "min", "max", "GB/s med"))
for n in ("cat", "sluice", "sluice-lanes"):
    v = runs[n]
    m = statistics.median(v)
    print("%-13s %7.3fs %7.3fs %7.3fs %10.2f" % (n, m, min(v), max(v), size / m / 1e9))
for n in ("sluice", "sluice-lanes"):
    ratio = statistics.median(runs["cat"]) / statistics.median(runs[n])
    per = sorted(a / b for a, b in zip(runs["cat"], runs[n]))
    print("%-13s throughput / cat's: %.2f (per round %.2f..%.2f)" % (n, ratio, per[0], per[-1]))
PY
