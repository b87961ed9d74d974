#!/usr/bin/env bash
# Heartbeat health (issue 8 item 4; docs/control.md, "Prometheus"): a stage stuck inside
# one process call is reported within 2 x the heartbeat period, in /health (503 naming
# the stage), in the log (one error line) and in `sluice top` and `stats --json`.
# The stuck stage is hang_on (plugins/testing) in process, with `heartbeat: 200ms`; it
# hangs on the marked line, the 1000th of the file. Before the hang, /health is 200.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v curl >/dev/null || tap_skip_all "curl not installed"
tap_plan 7
tap_tmpdir
cd "$TMP" || exit 1
PID=
trap tap_cleanup_pid EXIT

cp "$SLUICE_BUILD/plugins/testing/hang_on.so" . && chmod 0644 hang_on.so
: >in.log
cat >p.yaml <<EOF
plugins: [./hang_on.so]
sources:
  lines: { type: file, paths: [in.log], follow: true }
stages:
  risky: { use: hang_on, inputs: [lines], marker: "HANG" }
sinks:
  out: { type: file, inputs: [risky], path: out.log, format: raw }
control: { socket: $TMP/h.sock, metrics: "127.0.0.1:0", heartbeat: 200ms }
EOF
"$SLUICE" run p.yaml >run.out 2>run.err &
PID=$!
for _ in $(seq 1 100); do "$SLUICE" ctl ping --socket h.sock >/dev/null 2>&1 && break; sleep 0.1; done
ADDR=$("$SLUICE" ctl version --socket h.sock 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["metrics"])' 2>/dev/null)
seq -f 'line %g' 1 999 >>in.log
for _ in $(seq 1 50); do [ "$(wc -l <out.log 2>/dev/null || echo 0)" -ge 999 ] && break; sleep 0.1; done
code=$(curl -s -o h1.txt -w '%{http_code}' "http://$ADDR/health")
tap_is "$code/$(wc -l <out.log)" "200/999" "healthy while lines flow ($(cat h1.txt))"

# The hang: time from the append to the first 503 and to the log line.
t0=$(date +%s%N)
echo "HANG here" >>in.log
code=
for _ in $(seq 1 100); do
	code=$(curl -s -o h2.txt -w '%{http_code}' "http://$ADDR/health")
	[ "$code" = 503 ] && break
	sleep 0.02
done
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "$code" 503 "/health turns 503 when the stage hangs ($(cat h2.txt))"
grep -q "stage 'risky' replica 0: one process call running" h2.txt
tap_ok $? "the reason names the stuck stage and replica"
# 2 x 200 ms, plus the follow wake-up and one curl round (generous: the machine is shared)
tap_ok $(( ms <= 400 + 300 ? 0 : 1 )) "detected within 2 x the heartbeat period (+ 300 ms slack): $ms ms"
grep -q "level=error comp=control msg=\"heartbeat: stage 'risky' replica 0" run.err
tap_ok $? "the log has one heartbeat error line"
timeout 5 "$SLUICE" top -n 1 --socket h.sock >top.out 2>&1
grep -q "^HEALTH  stalled: stage 'risky'" top.out
tap_ok $? "top shows the stall"
timeout 5 "$SLUICE" stats --json --socket h.sock >stats.json 2>&1
python3 -c "import json,sys; d=json.load(open('stats.json')); sys.exit(0 if d['health'].startswith(\"stalled: stage 'risky'\") else 1)" 2>/dev/null
tap_ok $? "stats --json carries the verdict in health"
