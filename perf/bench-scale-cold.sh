#!/usr/bin/env bash
# Cold start from zero (case 3 of bench-scale.sh) of two builds side by side, alternating:
# a followed empty file -> spin (1,000 cycles, scale: {min: 0, max: 2}) -> null on 2
# lcores; 10 single lines a run, each after 0.5 s idle; the stage's cold_start_us_avg and
# _max (first event's ingest time -> process call) and the age p50 of what it took, from
# --stats-json; RUNS runs per build (default 5), median (min-max).
# Usage: flock /tmp/sluice-bench.lock perf/bench-scale-cold.sh BUILD_A BUILD_B [RUNS]
set -u
A=$1 B=$2 RUNS=${3:-5}
W=$(mktemp -d /dev/shm/bench-cold.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$W"' EXIT
cd "$W" || exit 1
med() { python3 -c "
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print('%.1f (%.1f-%.1f)' % (statistics.median(v), v[0], v[-1]))" "$@"; }
declare -A avg mx
for r in $(seq 1 "$RUNS"); do
	for b in "$A" "$B"; do
		cat >c.yaml <<YAML
plugins: [$b/plugins/testing/spin.so]
sources:
  in: { type: file, path: idle.log, follow: true }
stages:
  work: { use: spin, inputs: [in], spin_cycles: 1000, scale: { min: 0, max: 2 } }
sinks:
  out: { type: "null", inputs: [work] }
YAML
		: >idle.log
		"$b/sluice" run c.yaml -q --stats-json c.json -- -l 0-1 >/dev/null 2>&1 &
		p=$!; PIDS+=("$p")
		sleep 1
		for i in $(seq 1 10); do echo "cold=$i" >>idle.log; sleep 0.5; done
		kill -TERM "$p"; wait "$p" 2>/dev/null
		v=$(python3 -c "
import json
n = [x for x in json.load(open('c.json'))['nodes'] if x['name'] == 'work'][0]
print(n['scale']['cold_start_us_avg'], n['scale']['cold_start_us_max'])")
		avg[$b]="${avg[$b]:-} ${v% *}"
		mx[$b]="${mx[$b]:-} ${v#* }"
	done
done
for b in "$A" "$B"; do
	# shellcheck disable=SC2086
	echo "$b: cold start avg $(med ${avg[$b]}) us, max $(med ${mx[$b]}) us"
done
