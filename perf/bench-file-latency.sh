#!/usr/bin/env bash
# Benchmark (issue 3): tail latency of the `file` source in follow mode, line appended ->
# line written by the `file` sink, at a paced 100 k lines/s, side by side with `tail -F`
# (GNU coreutils, inotify) doing the same job into a file. perf/latency/file_latency.c
# appends 100-byte lines to logs/app.log, each carrying the CLOCK_MONOTONIC time of its
# write(), one write() per millisecond with the lines due by then, and follows the
# follower's output file with inotify, taking the time each line shows up there; the first
# second is not counted. Rounds alternate the two followers (order rotated); prints each
# run's p50/p99/p99.9/max and the median (min-max) over rounds. Every run must deliver
# every line exactly once. The issue's target: sluice p99 < 5 ms at 100 k lines/s.
#
# usage: perf/bench-file-latency.sh [--rounds N] [--rate R] [--seconds S] [--quick]
# Environment: SLUICE_BUILD (default build/), BENCH_DIR (default /dev/shm/sluice-bench).
# Wrap in `flock /tmp/sluice-bench.lock` on a shared machine (perf/README.md).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${SLUICE_BUILD:-$SRC/build}
SLUICE=$BUILD/sluice
TOOL=$BUILD/perf/file_latency
BENCH_DIR=${BENCH_DIR:-/dev/shm/sluice-bench}
ROUNDS=5 RATE=100000 SECONDS_=6
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--seconds) SECONDS_=$2; shift ;;
	--quick) ROUNDS=1 RATE=10000 SECONDS_=2 ;;
	*) echo "usage: $0 [--rounds N] [--rate R] [--seconds S] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] && [ -x "$TOOL" ] || { echo "bench: $SLUICE or $TOOL not built" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
OUT=$(mktemp -d "$BENCH_DIR/latency.XXXXXX")
FPID=
cleanup() { [ -n "$FPID" ] && kill "$FPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT/run"; }
trap cleanup EXIT
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
	echo "sluice:  $("$SLUICE" --version), git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) before; $RATE lines/s for $SECONDS_ s, 100-byte lines, 1 write/ms"
} | tee "$OUT/machine.txt"

run_one() { # follower round
	local who=$1 r=$2 D=$OUT/run
	rm -rf "$D"
	mkdir -p "$D/logs"
	: >"$D/logs/app.log"
	cd "$D"
	if [ "$who" = sluice ]; then
		cat >p.yaml <<YAML
sources:
  app: { type: file, paths: [logs/*.log], follow: true, start_at: beginning }
sinks:
  out: { type: file, inputs: [app], path: out.log, format: raw }
YAML
		"$SLUICE" run p.yaml >follower.log 2>&1 &
	else
		tail -F -n +1 -q logs/app.log >out.log 2>follower.log &
	fi
	FPID=$!
	sleep 0.5
	"$TOOL" logs/app.log out.log --rate "$RATE" --seconds "$SECONDS_" --warmup 1 \
		>"$OUT/$who-$r.txt" || { echo "bench: $who round $r: $(cat "$OUT/$who-$r.txt")" >&2; exit 1; }
	kill "$FPID"
	wait "$FPID" || true
	FPID=
	cd "$SRC"
	echo "$who round $r: $(cat "$OUT/$who-$r.txt")"
}

for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2)); then
		run_one sluice "$r"
		run_one tail "$r"
	else
		run_one tail "$r"
		run_one sluice "$r"
	fi
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) after" | tee -a "$OUT/machine.txt"
python3 - "$OUT" "$ROUNDS" <<'PY'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("%-8s %22s %22s %22s %22s" % ("follower", "p50 us med (min-max)", "p99 us", "p99.9 us",
                                   "max us"))
for who in ("tail", "sluice"):
    runs = []
    for r in range(rounds):
        kv = dict(x.split("=") for x in open("%s/%s-%d.txt" % (out, who, r)).read().split())
        runs.append({k: float(v) for k, v in kv.items()})
    cols = []
    for k in ("p50_us", "p99_us", "p999_us", "max_us"):
        v = [x[k] for x in runs]
        cols.append("%.0f (%.0f-%.0f)" % (statistics.median(v), min(v), max(v)))
    print("%-8s %22s %22s %22s %22s" % (who, *cols))
PY
