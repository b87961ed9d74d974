#!/usr/bin/env bash
# Benchmark: per-event cost of one stage at each isolation level, side by side: the native
# `filter` (status >= 500, in process), `bpf_filter` running the same test as eBPF with
# DPDK's JIT (stages/bpf_filter/programs/status_ge_500.c), and the native filter with
# `isolation: process` (sandbox child behind shared memory, docs/resilience.md), at bursts
# of 1, 32 and 256 events (256 is handed over as 4 calls of 64, SL_BURST_MAX, as the
# runtime would). perf/isolation/bench_isolation times only the stage's process calls
# (TSC) on record events it makes itself, on one lcore (-l 0, --no-huge). Each round runs
# every (burst, level) pair once, the level order rotating by round; the answers (events
# kept) must agree. Prints median and min-max ns/event per pair over the rounds, the ratio
# to native at the same burst, and what each level adds per call (ns/event difference x
# events per call) from the medians and from the minimums (the least disturbed runs).
# Level memcap is the native filter with `memory: 64M` (a jemalloc arena per in-process
# stage, docs/resilience.md "Memory cap"): a cost per call, not per event; a build without
# jemalloc (the ASan build) refuses it, and the benchmark skips (77).
#
# usage: perf/bench-isolation.sh [--quick] [--rounds N] [--events N] [--levels "L1 L2 ..."]
#   --quick   1 round of 2000 events: a smoke check that it still works
#   --levels  native first, then any of bpf process memcap (default "native bpf process")
# Environment: SLUICE_BUILD (default build/). Run it under flock /tmp/sluice-bench.lock.
set -eu
cd "$(dirname "$0")/.."
BUILD=${SLUICE_BUILD:-$PWD/build}
BENCH=$BUILD/perf/bench_isolation
PROG=$BUILD/stages/bpf_filter/status_ge_500.o
ROUNDS=5
EVENTS=100000
LEVELS="native bpf process"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) ROUNDS=1 EVENTS=2000 ;;
	--rounds) ROUNDS=$2; shift ;;
	--events) EVENTS=$2; shift ;;
	--levels) LEVELS=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--events N] [--levels LIST]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BENCH" ] || { echo "bench-isolation: $BENCH not built" >&2; exit 1; }
read -r -a levels <<<"$LEVELS"
[ "${levels[0]}" = native ] || { echo "bench-isolation: --levels must start with native" >&2; exit 2; }
case " $LEVELS " in
*" bpf "*) [ -f "$PROG" ] || { echo "bench-isolation: $PROG not built (needs clang)" >&2; exit 1; } ;;
esac
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
sed 's/where: "status >= 500" }/where: "status >= 500", memory: 64M }/' "$W/native.yaml" >"$W/memcap.yaml"
case " $LEVELS " in
*" memcap "*)
	if ! "$BENCH" "$W/memcap.yaml" f 1 10 -- --no-huge -m 256 -l 0 --log-level=error >/dev/null 2>"$W/err"; then
		grep -q "needs a jemalloc arena" "$W/err" && {
			echo "bench-isolation: skipped: this build has no jemalloc (level memcap)" >&2
			exit 77
		}
		cat "$W/err" >&2
		exit 1
	fi ;;
esac

nl=${#levels[@]}
for ((r = 0; r < ROUNDS; r++)); do
	for b in 1 32 256; do
		for ((k = 0; k < nl; k++)); do
			lv=${levels[$(((k + r) % nl))]}
			line=$("$BENCH" "$W/$lv.yaml" f "$b" "$EVENTS" -- --no-huge -m 256 -l 0 --log-level=error 2>"$W/err" | tail -1)
			[ -n "$line" ] || { cat "$W/err" >&2; exit 1; }
			echo "$lv $line" >>"$W/runs"
		done
	done
done
python3 - "$W/runs" "$ROUNDS" "$EVENTS" "$LEVELS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
levels = sys.argv[4].split()
res, kept = {}, {}
for lv, kind, b, n, ns, k in rows:
    res.setdefault((lv, int(b)), []).append(float(ns))
    kept.setdefault(int(b), set()).add(k)
bad = [b for b, s in kept.items() if len(s) != 1]
if bad:
    sys.exit("bench-isolation: the levels kept different counts at bursts %s" % bad)
names = {"native": "native", "bpf": "bpf JIT", "process": "process", "memcap": "memory: 64M"}
print("%d rounds, %s events per run; ns/event inside process (median, min-max), ratio to native, "
      "added ns per call (medians; mins)" % (int(sys.argv[2]), sys.argv[3]))
head = ["burst"] + [names[lv] for lv in levels]
head += ["%s/native" % lv for lv in levels[1:]] + ["%s added per call" % lv for lv in levels[1:]]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for b in (1, 32, 256):
    cell = {}
    for lv in levels:
        v = res[(lv, b)]
        cell[lv] = (statistics.median(v), min(v), max(v))
    calls = min(b, 64)  # ns/event x events per call = ns per call
    row = [str(b)] + ["%.1f (%.1f-%.1f)" % cell[lv] for lv in levels]
    row += ["%.2f" % (cell[lv][0] / cell["native"][0]) for lv in levels[1:]]
    row += ["%.0f ns; %.0f ns" % ((cell[lv][0] - cell["native"][0]) * calls,
                                  (cell[lv][1] - cell["native"][1]) * calls) for lv in levels[1:]]
    print("| " + " | ".join(row) + " |")
EOF
