#!/usr/bin/env bash
# Autoscaling figures (docs/scaling.md; perf/RESULTS.md, "Autoscaling"), each side by side
# in one invocation, alternating, RUNS runs (default 5), median and min-max:
#   1. throughput of a CPU-bound stage (plugins/testing/spin.c, SPIN cycles an event) with
#      1 vs 2 replicas (scale: {min: k, max: k}), N lines from tmpfs, events/s of the stage
#      = lines / the run's elapsed seconds (--stats-json);
#   2. idle CPU of a running pipeline with no input (a followed empty file -> spin
#      autoscaled to zero -> null; 2 lcores) vs dpdk-testpmd io forwarding on two net_null
#      ports (2 lcores), in % of one core over IDLE_S seconds (the sum over the process's
#      threads of /proc/PID/task/*/schedstat's CPU nanoseconds: /proc/PID/stat counts
#      10 ms ticks, too coarse for 1 % over 3 s);
#   3. cold start from zero: 10 single lines, each after 0.5 s idle, into the same
#      pipeline; the stage's cold_start_us_avg / _max (its first event's ingest time to
#      the process call) from --stats-json;
#   4. reaction to a load step from zero: 20,000 lines appended at once; step_react_us
#      (the step's first event ingested -> first event of the added replica) and
#      react_us_max (activation -> that replica's first burst);
#   5. the ledger's busy cycles of the spin stage vs `perf stat -e cycles` of the whole
#      process over a run of case 1 with 2 replicas (the stage spins for ~all of it).
# Usage: flock /tmp/sluice-bench.lock perf/bench-scale.sh [RUNS]   (BUILD=build-... to pick)
set -u
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
S=$BUILD/sluice
SPIN_SO=$BUILD/plugins/testing/spin.so
SPIN=${SPIN:-20000}
N=${N:-200000}
IDLE_S=${IDLE_S:-3}
W=$(mktemp -d /dev/shm/bench-scale.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$W"' EXIT
cd "$W" || exit 1
python3 -c "
with open('in.log', 'w') as f:
    for i in range(1, $N + 1): f.write('seq=%d\n' % i)"

med() { python3 -c "
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print('%.1f (%.1f-%.1f)' % (statistics.median(v), v[0], v[-1]))" "$@"; }
jget() { python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
n = [x for x in j['nodes'] if x['name'] == 'work'][0]
print(eval(sys.argv[2]))" "$@"; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

echo "machine: $(nproc) CPU, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)," \
	"DPDK $(pkg-config --modversion libdpdk), spin_cycles $SPIN, $N lines, $RUNS runs"

# 1. throughput, 1 vs 2 replicas, alternating.
tp1=() tp2=()
for r in $(seq 1 "$RUNS"); do
	for k in 1 2; do
		cat >t$k.yaml <<YAML
plugins: [$SPIN_SO]
sources:
  in: { type: file, path: in.log }
stages:
  work: { use: spin, inputs: [in], spin_cycles: $SPIN, scale: { min: $k, max: $k } }
sinks:
  out: { type: "null", inputs: [work] }
YAML
		"$S" run t$k.yaml -q --stats-json t$k.json -- -l 0-1 >/dev/null 2>&1 || echo "run failed"
		v=$(jget t$k.json "round(n['in'] / j['elapsed_s'])")
		if [ "$k" = 1 ]; then tp1+=("$v"); else tp2+=("$v"); fi
	done
done
ratios=()
for i in "${!tp1[@]}"; do ratios+=("$(python3 -c "print(${tp2[$i]} / ${tp1[$i]})")"); done
echo "throughput events/s: 1 replica $(med "${tp1[@]}"), 2 replicas $(med "${tp2[@]}")," \
	"ratio (per run pair) $(python3 -c "
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print('%.2f (%.2f-%.2f)' % (statistics.median(v), v[0], v[-1]))" "${ratios[@]}")"

# 2. idle CPU: sluice with nothing to do vs testpmd, alternating.
cat >idle.yaml <<YAML
plugins: [$SPIN_SO]
sources:
  in: { type: file, path: idle.log, follow: true }
stages:
  work: { use: spin, inputs: [in], spin_cycles: 1000, scale: { min: 0, max: 2 } }
sinks:
  out: { type: "null", inputs: [work] }
YAML
si=() ti=()
for r in $(seq 1 "$RUNS"); do
	: >idle.log
	"$S" run idle.yaml -q -- -l 0-1 >/dev/null 2>&1 &
	p=$!; PIDS+=("$p")
	sleep 1
	a=$(cpu_ns "$p"); sleep "$IDLE_S"; b=$(cpu_ns "$p")
	kill -TERM "$p"; wait "$p" 2>/dev/null
	si+=("$(python3 -c "print(100.0 * ($b - $a) / 1e9 / $IDLE_S)")")
	rm -f fifo; mkfifo fifo
	dpdk-testpmd -l 0-1 --no-huge -m 1024 --no-pci --file-prefix bench-scale-$$ \
		--vdev net_null0 --vdev net_null1 -- --forward-mode=io --auto-start \
		--total-num-mbufs=8192 <fifo >/dev/null 2>&1 &
	p=$!; PIDS+=("$p")
	exec 3>fifo
	sleep 1.5
	a=$(cpu_ns "$p"); sleep "$IDLE_S"; b=$(cpu_ns "$p")
	echo >&3; exec 3>&-
	wait "$p"
	ti+=("$(python3 -c "print(100.0 * ($b - $a) / 1e9 / $IDLE_S)")")
done
echo "idle CPU, % of one core over ${IDLE_S} s: sluice $(med "${si[@]}"), dpdk-testpmd $(med "${ti[@]}")"

# 3 and 4. cold start from zero and reaction to a load step, in one run each.
ca=() cm=() sr=() rm_=()
for r in $(seq 1 "$RUNS"); do
	: >idle.log
	"$S" run idle.yaml -q --stats-json c.json -- -l 0-1 >/dev/null 2>&1 &
	p=$!; PIDS+=("$p")
	sleep 1
	for i in $(seq 1 10); do echo "cold=$i" >>idle.log; sleep 0.5; done
	kill -TERM "$p"; wait "$p" 2>/dev/null
	ca+=("$(jget c.json "n['scale']['cold_start_us_avg']")")
	cm+=("$(jget c.json "n['scale']['cold_start_us_max']")")
	sed -i 's/spin_cycles: 1000/spin_cycles: '"$SPIN"'/' idle.yaml
	: >idle.log
	"$S" run idle.yaml -q --stats-json s.json -- -l 0-1 >/dev/null 2>&1 &
	p=$!; PIDS+=("$p")
	sleep 1
	head -n 20000 in.log >>idle.log
	sleep 2
	kill -TERM "$p"; wait "$p" 2>/dev/null
	sed -i 's/spin_cycles: '"$SPIN"'/spin_cycles: 1000/' idle.yaml
	sr+=("$(jget s.json "n['scale']['step_react_us']")")
	rm_+=("$(jget s.json "n['scale']['react_us_max']")")
done
echo "cold start from zero, us (10 wakes a run): avg $(med "${ca[@]}"), max $(med "${cm[@]}")"
echo "load step from zero -> added replica's first event, us: $(med "${sr[@]}");" \
	"activation -> its first burst, us: $(med "${rm_[@]}")"

# 5. ledger busy cycles vs perf stat. This VM has no hardware cycle counter, so the
#    ledger's busy TSC cycles (all nodes) / tsc_hz are compared with perf's task-clock
#    (CPU seconds of the whole process, every thread).
lr=()
for r in $(seq 1 "$RUNS"); do
	sed 's/^plugins:/ledger: l.jsonl\nplugins:/' t2.yaml >t2l.yaml
	rm -f l.jsonl
	perf stat -x, -e task-clock -o perf.out "$S" run t2l.yaml -q -- -l 0-1 >/dev/null 2>&1
	pc=$(awk -F, '$3 ~ /^task-clock/ {print $1 / 1000}' perf.out | head -1)
	lc=$(python3 -c "
import json
rows = [json.loads(l) for l in open('l.jsonl')]
print(sum(r['busy_cycles'] / r['tsc_hz'] for r in rows if r['final']))")
	lr+=("$(python3 -c "print($lc / $pc)")")
done
echo "ledger busy seconds (all nodes, TSC) / perf stat task-clock seconds: $(python3 -c "
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print('%.3f (%.3f-%.3f)' % (statistics.median(v), v[0], v[-1]))" "${lr[@]}")"
