#!/usr/bin/env bash
# Benchmark: per-event cost of one stage at each isolation level, side by side: the native
# `filter` (status >= 500, in process), `bpf_filter` running the same test as eBPF with
# DPDK's JIT (stages/bpf_filter/programs/status_ge_500.c), and the native filter with
# `isolation: process` (sandbox child behind shared memory, docs/resilience.md), at bursts
# of 1, 32 and 256 events (256 is handed over as 4 calls of 64, SL_BURST_MAX, as the
# runtime would). perf/isolation/bench_isolation times only the stage's process calls
# (TSC) on record events it makes itself, on one lcore (-l 0, --no-huge). Each round runs
# every (burst, level) pair once, the level order rotating by round; the three answers
# (events kept) must agree. Prints median and min-max ns/event per pair over the rounds and
# the ratio to native at the same burst.
#
# usage: perf/bench-isolation.sh [--quick] [--rounds N] [--events N]
#   --quick   1 round of 2000 events: a smoke check that it still works
# Environment: SLUICE_BUILD (default build/). Run it under flock /tmp/sluice-bench.lock.
set -eu
cd "$(dirname "$0")/.."
BUILD=${SLUICE_BUILD:-$PWD/build}
BENCH=$BUILD/perf/bench_isolation
PROG=$BUILD/stages/bpf_filter/status_ge_500.o
ROUNDS=5
EVENTS=100000
while [ $# -gt 0 ]; do
	case $1 in
	--quick) ROUNDS=1 EVENTS=2000 ;;
	--rounds) ROUNDS=$2; shift ;;
	--events) EVENTS=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--events N]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BENCH" ] || { echo "bench-isolation: $BENCH not built" >&2; exit 1; }
[ -f "$PROG" ] || { echo "bench-isolation: $PROG not built (needs clang)" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/native.yaml" <<'EOF'
sources:
  g: { type: file, path: /dev/null }
stages:
  f: { use: filter, inputs: [g], where: "status >= 500" }
sinks:
  k: { type: null, inputs: [f] }
EOF
sed "s#use: filter, inputs: \[g\], where: \"status >= 500\"#use: bpf_filter, inputs: [g], program: $PROG, fields: [status]#" \
	"$W/native.yaml" >"$W/bpf.yaml"
sed 's/where: "status >= 500" }/where: "status >= 500", isolation: process }/' "$W/native.yaml" >"$W/process.yaml"

levels=(native bpf process)
for ((r = 0; r < ROUNDS; r++)); do
	for b in 1 32 256; do
		for ((k = 0; k < 3; k++)); do
			lv=${levels[$(((k + r) % 3))]}
			line=$("$BENCH" "$W/$lv.yaml" f "$b" "$EVENTS" -- --no-huge -m 256 -l 0 --log-level=error 2>"$W/err" | tail -1)
			[ -n "$line" ] || { cat "$W/err" >&2; exit 1; }
			echo "$lv $line" >>"$W/runs"
		done
	done
done
python3 - "$W/runs" "$ROUNDS" "$EVENTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
res, kept = {}, {}
for lv, kind, b, n, ns, k in rows:
    res.setdefault((lv, int(b)), []).append(float(ns))
    kept.setdefault(int(b), set()).add(k)
bad = [b for b, s in kept.items() if len(s) != 1]
if bad:
    sys.exit("bench-isolation: the levels kept different counts at bursts %s" % bad)
print("%d rounds, %s events per run; ns/event inside process (median, min-max), ratio to native" % (int(sys.argv[2]), sys.argv[3]))
print("| burst | native | bpf JIT | process | bpf/native | process/native |")
print("|---|---|---|---|---|---|")
for b in (1, 32, 256):
    cell = {}
    for lv in ("native", "bpf", "process"):
        v = res[(lv, b)]
        cell[lv] = (statistics.median(v), min(v), max(v))
    f = lambda c: "%.1f (%.1f-%.1f)" % c
    print("| %d | %s | %s | %s | %.2f | %.0f |" % (b, f(cell["native"]), f(cell["bpf"]), f(cell["process"]),
          cell["bpf"][0] / cell["native"][0], cell["process"][0] / cell["native"][0]))
EOF
