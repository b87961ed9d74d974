#!/usr/bin/env bash
# Benchmark: what `memory: SIZE` costs an in-process stage (docs/resilience.md, "Memory
# cap"): the native `filter` (status >= 500) with and without `memory: 64M`, side by side,
# at bursts of 1, 32 and 256 events (256 as 4 calls of 64, as the runtime would). With the
# cap every call switches the thread to the stage's jemalloc arena and back (two
# mallctlbymib calls on thread.arena, two thread.tcache.flush): a cost per burst, not per
# event, so it shows at burst 1 and fades at 32 and 256. perf/isolation/bench_isolation
# times only the stage's process calls (TSC) on one lcore (-l 0, --no-huge). Each round
# runs every (burst, level) pair once, the order alternating by round; both levels must
# keep the same events. Prints median and min-max ns/event per pair, the ratio, and the
# added cost per call (ns/event difference x events per call), from the medians and from
# the minimums (the least disturbed runs on a shared machine).
#
# usage: perf/bench-memcap.sh [--quick] [--rounds N] [--events N]
#   --quick   1 round of 2000 events: a smoke check that it still works
# Environment: SLUICE_BUILD (default build/). Run it under flock /tmp/sluice-bench.lock.
# Needs a build with jemalloc (not the ASan build: there `memory:` is refused in process).
set -eu
cd "$(dirname "$0")/.."
BUILD=${SLUICE_BUILD:-$PWD/build}
BENCH=$BUILD/perf/bench_isolation
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
[ -x "$BENCH" ] || { echo "bench-memcap: $BENCH not built" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/native.yaml" <<'YAML'
sources:
  g: { type: file, path: /dev/null }
stages:
  f: { use: filter, inputs: [g], where: "status >= 500" }
sinks:
  k: { type: null, inputs: [f] }
YAML
sed 's/where: "status >= 500" }/where: "status >= 500", memory: 64M }/' "$W/native.yaml" >"$W/memcap.yaml"

# A build without jemalloc (the ASan build) refuses `memory:` in process: skip (77).
if ! "$BENCH" "$W/memcap.yaml" f 1 10 -- --no-huge -m 256 -l 0 --log-level=error >/dev/null 2>"$W/err"; then
	if grep -q "needs a jemalloc arena" "$W/err"; then
		echo "bench-memcap: skipped: this build has no jemalloc" >&2
		exit 77
	fi
	cat "$W/err" >&2
	exit 1
fi
levels=(native memcap)
for ((r = 0; r < ROUNDS; r++)); do
	for b in 1 32 256; do
		for ((k = 0; k < 2; k++)); do
			lv=${levels[$(((k + r) % 2))]}
			line=$("$BENCH" "$W/$lv.yaml" f "$b" "$EVENTS" -- --no-huge -m 256 -l 0 --log-level=error 2>"$W/err" | tail -1)
			[ -n "$line" ] || { cat "$W/err" >&2; exit 1; }
			echo "$lv $line" >>"$W/runs"
		done
	done
done
python3 - "$W/runs" "$ROUNDS" "$EVENTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
res, kept = {}, {}
for lv, kind, b, n, ns, k in rows:
    res.setdefault((lv, int(b)), []).append(float(ns))
    kept.setdefault(int(b), set()).add(k)
bad = [b for b, s in kept.items() if len(s) != 1]
if bad:
    sys.exit("bench-memcap: the levels kept different counts at bursts %s" % bad)
print("%d rounds, %s events per run; ns/event inside process (median, min-max), ratio of medians, added ns per call (medians; mins)" % (int(sys.argv[2]), sys.argv[3]))
print("| burst | native | memory: 64M | memcap/native | added per call (medians) | added per call (mins) |")
print("|---|---|---|---|---|---|")
for b in (1, 32, 256):
    cell = {}
    for lv in ("native", "memcap"):
        v = res[(lv, b)]
        cell[lv] = (statistics.median(v), min(v), max(v))
    f = lambda c: "%.1f (%.1f-%.1f)" % c
    calls = min(b, 64)  # ns/event x events per call = ns per call
    print("| %d | %s | %s | %.2f | %.0f ns | %.0f ns |" % (b, f(cell["native"]), f(cell["memcap"]),
          cell["memcap"][0] / cell["native"][0], (cell["memcap"][0] - cell["native"][0]) * calls,
          (cell["memcap"][1] - cell["native"][1]) * calls))
PY
