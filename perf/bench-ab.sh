#!/usr/bin/env bash
# A/B in pairs: two shell commands run alternately (A then B, then B then A, ...), the
# wall-time ratio B/A of each pair, and the median of those ratios with the number of pairs
# in which B was slower. For differences of a few percent on this host (BENCH.md): its
# speed shifts between periods seconds to minutes long, so the two runs of a pair, seconds
# apart, mostly see the same host, where two batches run one after the other do not.
# Each run holds /tmp/sluice-bench.lock, unless the caller already holds it for the whole
# comparison (`flock /tmp/sluice-bench.lock perf/bench-ab.sh ...`). A command that fails
# stops the comparison.
#
# usage: perf/bench-ab.sh [--pairs N] [--dir DIR] 'COMMAND A' 'COMMAND B'
#   --pairs N  pairs to run (default 10)
#   --dir DIR  where the commands run (default: the current directory)
# Example (issue 5's pipeline on two workers, the default ring size against 1024 slots):
#   perf/bench-ab.sh --pairs 20 --dir /tmp/ng 'build/sluice run ring1024.yaml -q' \
#       'build/sluice run pipeline.yaml -q'
set -eu
PAIRS=10
DIR=$PWD
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) PAIRS=$2; shift 2 ;;
	--dir) DIR=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "usage: $0 [--pairs N] [--dir DIR] 'COMMAND A' 'COMMAND B'" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--pairs N] [--dir DIR] 'COMMAND A' 'COMMAND B'" >&2; exit 2; }
CMD_A=$1
CMD_B=$2
cd "$DIR"

# Under `flock /tmp/sluice-bench.lock perf/bench-ab.sh ...` the lock is an inherited
# descriptor: locking the file again through a new one would wait for ourselves.
LOCK_HELD=
for fd in /proc/$$/fd/*; do
	[ "$(readlink "$fd" 2>/dev/null)" = /tmp/sluice-bench.lock ] && LOCK_HELD=1
done

run_one() { # command -> seconds on stdout
	local t0 t1 rc=0
	if [ -z "$LOCK_HELD" ]; then
		exec 9>/tmp/sluice-bench.lock
		flock 9
	fi
	t0=$(date +%s%N)
	bash -c "$1" >/dev/null 2>&1 || rc=$?
	t1=$(date +%s%N)
	if [ -z "$LOCK_HELD" ]; then
		flock -u 9
		exec 9>&-
	fi
	[ "$rc" -eq 0 ] || { echo "bench-ab: '$1' failed (exit $rc)" >&2; return 1; }
	python3 -c "print('%.3f' % (($t1 - $t0) / 1e9))"
}

echo "# machine: nproc $(nproc), $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "# A: $CMD_A"
echo "# B: $CMD_B"
RES=$(mktemp)
trap 'rm -f "$RES"' EXIT
for p in $(seq "$PAIRS"); do
	if [ $((p % 2)) -eq 1 ]; then
		a=$(run_one "$CMD_A")
		b=$(run_one "$CMD_B")
	else
		b=$(run_one "$CMD_B")
		a=$(run_one "$CMD_A")
	fi
	echo "$a $b" >>"$RES"
	echo "pair $p A ${a}s B ${b}s"
done
python3 - "$RES" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
a = [x for x, _ in rows]
b = [y for _, y in rows]
r = [y / x for x, y in rows]
print("A median %.3f s (%.3f-%.3f), B median %.3f s (%.3f-%.3f)"
      % (statistics.median(a), min(a), max(a), statistics.median(b), min(b), max(b)))
print("median of the pairs' ratios B/A %.3f; B slower in %d of %d pairs"
      % (statistics.median(r), sum(x > 1 for x in r), len(r)))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
