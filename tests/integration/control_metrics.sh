#!/usr/bin/env bash
# Prometheus endpoint (docs/control.md): `control: { metrics: "127.0.0.1:0" }` serves
# /metrics in text format 0.0.4 that `promtool check metrics` accepts, on 127.0.0.1 only;
# /health is 200 while events move and after a clean end, 404 and 405 for other paths and
# methods. After the end (linger) the exported counters equal the final --stats-json.
# Then a stall: a stdout sink writing into a pipe nobody reads blocks its lcore, the rings
# fill, and /health must turn 503 (stall_after: 1s) while sluice_stalled reads 1.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v curl >/dev/null || tap_skip_all "curl not installed"
tap_plan 11
tap_tmpdir
cd "$TMP" || exit 1
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT

N=300000
cat >p.yaml <<EOF
sources:
  lines: { type: gen, count: $N, rate: 100000, seed: 7 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
  errors: { use: filter, inputs: [parse], where: "status >= 500" }
sinks:
  discard: { type: "null", inputs: [errors] }
  unparsed: { type: "null", inputs: [parse.errors] }
control: { socket: $TMP/m.sock, metrics: "127.0.0.1:0", linger: 20s }
EOF
timeout 60 "$SLUICE" run p.yaml --stats-json final.json >run.out 2>run.err &
PIDS+=($!)
wait_ping() {
	for _ in $(seq 1 100); do
		"$SLUICE" ctl ping --socket "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
wait_ping "$TMP/m.sock"
ADDR=$("$SLUICE" ctl version --socket "$TMP/m.sock" 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["metrics"])' 2>/dev/null)
case "$ADDR" in
127.0.0.1:[1-9]*) tap_ok 0 "metrics served on 127.0.0.1 (port 0: a free one, $ADDR)" ;;
*) tap_ok 1 "metrics served on 127.0.0.1 (got '$ADDR')" ;;
esac
PORT=${ADDR##*:}
# Bound to loopback only: the listening socket's local address.
if command -v ss >/dev/null; then
	ss -ltnH "sport = :$PORT" 2>/dev/null | awk '{print $4}' >listen.out
	tap_is "$(cat listen.out)" "127.0.0.1:$PORT" "the metrics socket listens on 127.0.0.1 only"
else
	tap_skip 1 "ss (iproute2) not installed: cannot list listening sockets"
fi

sleep 0.5
curl -s -o metrics.txt -w '%{http_code} %{content_type}' "http://$ADDR/metrics" >code.out
tap_is "$(cat code.out)" "200 text/plain; version=0.0.4; charset=utf-8" \
	"/metrics answers 200 with the 0.0.4 text content type"
if command -v promtool >/dev/null; then
	promtool check metrics <metrics.txt >promtool.out 2>&1
	tap_ok $? "promtool check metrics accepts /metrics ($(grep -c '^sluice' metrics.txt) samples)"
	[ -s promtool.out ] && tap_diag "$(head -5 promtool.out)"
else
	tap_skip 1 "promtool not installed (Debian package prometheus, scripts/setup)"
fi
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/health")" 200 \
	"/health is 200 while events move"
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/nope")/$(curl -s -o /dev/null \
	-w '%{http_code}' -X POST "http://$ADDR/metrics")" "404/405" \
	"unknown paths are 404, other methods 405"

# After the end, while lingering: the exported counters are the final ones.
for _ in $(seq 1 300); do
	"$SLUICE" ctl ping --socket "$TMP/m.sock" 2>/dev/null | grep -q '"state":"ended"' && break
	sleep 0.1
done
curl -s "http://$ADDR/metrics" >end.txt
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/health")" 200 \
	"/health is 200 after a clean end (nothing waits)"
python3 - >compare.out 2>&1 <<'PY'
import json, re, sys
final = {n["name"]: n for n in json.load(open("final.json"))["nodes"]}
got = {}
for line in open("end.txt"):
    m = re.match(r'(sluice_node_[a-z_]+)\{node="([^"]+)",role="[^"]+",kind="[^"]+"'
                 r'(?:,reason="([a-z_]+)")?\} (\d+)$', line.strip())
    if m:
        got[(m.group(1), m.group(2), m.group(3))] = int(m.group(4))
fields = {"in": "events_in_total", "out": "events_out_total",
          "generated": "events_generated_total", "in_flight": "events_in_flight",
          "pending": "events_pending", "queued": "events_queued",
          "busy_cycles": "busy_cycles_total", "calls": "calls_total",
          "replicas": "replicas", "ring_capacity": "ring_capacity_events"}
bad = []
for name, n in final.items():
    for k, metric in fields.items():
        v = got.get(("sluice_node_" + metric, name, None))
        if v != n[k]:
            bad.append("%s %s: metrics %r, stats %r" % (name, k, v, n[k]))
    for reason, count in n["dropped"].items():
        v = got.get(("sluice_node_events_dropped_total", name, reason))
        if v != count:
            bad.append("%s dropped %s: metrics %r, stats %r" % (name, reason, v, count))
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
tap_ok $? "after the end, every exported node counter equals --stats-json"
[ -s compare.out ] && tap_diag "$(head -6 compare.out)"
"$SLUICE" ctl stop --socket "$TMP/m.sock" >/dev/null 2>&1
wait "${PIDS[0]}"
tap_is "$?" 0 "sluice exits 0 (ctl stop ends the linger)"

# A stall: the stdout sink blocks on a pipe nobody reads.
cat >stall.yaml <<EOF
sources:
  lines: { type: gen, count: 0, rate: 50000, seed: 7 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
sinks:
  out: { type: stdout, inputs: [parse], format: raw }
control: { socket: $TMP/s.sock, metrics: "127.0.0.1:0", stall_after: 1s }
EOF
mkfifo stuck
# The reader opens the fifo and never reads; the writer is sluice.
sleep 60 <stuck &
PIDS+=($!)
timeout 60 "$SLUICE" run stall.yaml -q >stuck 2>stall.err &
PIDS+=($!)
wait_ping "$TMP/s.sock"
SADDR=$("$SLUICE" ctl version --socket "$TMP/s.sock" 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["metrics"])' 2>/dev/null)
code=
for _ in $(seq 1 100); do
	code=$(curl -s -o health.txt -w '%{http_code}' "http://$SADDR/health")
	[ "$code" = 503 ] && break
	sleep 0.1
done
tap_is "$code" 503 "/health turns 503 when the sink is stuck ($(head -c 100 health.txt))"
curl -s "http://$SADDR/metrics" | grep -q '^sluice_stalled 1$'
tap_ok $? "sluice_stalled reads 1 while stalled"
tap_done
