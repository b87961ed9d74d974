#!/usr/bin/env bash
# The `metrics` sink (docs/control.md, "Prometheus"): records become series on the
# control's /metrics endpoint, next to the runtime's counters.
#   - aggregate by status -> metrics (gauge, labels [status]): one series per status for
#     each numeric field (requests, bytes), values equal to Python's counts and sums over
#     the same generated log;
#   - parse -> metrics (mode counter, labels [method], values [bytes]): nginx_bytes_total
#     per method equals Python's sum; no other field is exported;
#   - `promtool check metrics` accepts the whole page;
#   - a metrics sink without `control: { metrics: ... }` is refused at load with its
#     file:line, and a bad mode names the parameter.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v curl >/dev/null || tap_skip_all "curl not installed"
tap_plan 7
tap_tmpdir
cd "$TMP" || exit 1
PID=
trap tap_cleanup_pid EXIT

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 20000 -o in.log --seed 11 >/dev/null
cat >p.yaml <<EOF
sources:
  access: { type: file, paths: [in.log] }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  stats:
    use: aggregate
    inputs: [parse]
    group_by: [status]
    window: all
    aggregations:
      - "{ name: requests, fn: count }"
      - "{ name: bytes, fn: sum, field: bytes }"
sinks:
  by_status: { type: metrics, inputs: [stats], name: http, labels: [status] }
  by_method: { type: metrics, inputs: [parse], name: nginx, labels: [method], values: [bytes], mode: counter }
  unparsed: { type: "null", inputs: [parse.errors] }
control: { socket: $TMP/m.sock, metrics: "127.0.0.1:0", linger: 30s }
EOF
timeout 60 "$SLUICE" run p.yaml >run.out 2>run.err &
PID=$!
state=
for _ in $(seq 1 200); do
	state=$("$SLUICE" ctl ping --socket m.sock 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["state"])' 2>/dev/null)
	[ "$state" = ended ] && break
	sleep 0.1
done
ADDR=$("$SLUICE" ctl version --socket m.sock 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["metrics"])' 2>/dev/null)
curl -s -o metrics.txt "http://$ADDR/metrics"
tap_is "$state/$(grep -c '^http_requests{' metrics.txt)" "ended/$(awk '{print $9}' in.log | sort -u | wc -l)" \
	"after the run: one http_requests series per status in the log"

python3 - in.log metrics.txt >check.out <<'PY'
import re, sys
rx = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) \S+ \S+" (\d{3}) (\d+|-) ')
req, byts, meth = {}, {}, {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = rx.match(line)
    if not m:
        continue
    st, b = m.group(2), int(m.group(3)) if m.group(3) != "-" else 0
    req[st] = req.get(st, 0) + 1
    byts[st] = byts.get(st, 0) + b
    meth[m.group(1)] = meth.get(m.group(1), 0) + b
got = {}
for line in open(sys.argv[2]):
    m = re.match(r'^(http_\w+|nginx_\w+)\{(\w+)="([^"]*)"\} (\S+)$', line)
    if m:
        got[(m.group(1), m.group(3))] = float(m.group(4))
want = {("http_requests", s): v for s, v in req.items()}
want.update({("http_bytes", s): v for s, v in byts.items()})
print("status", "yes" if all(got.get(k) == v for k, v in want.items()) else "no",
      sum(1 for k in got if k[0].startswith("http_")), len(want))
wm = {("nginx_bytes_total", m): v for m, v in meth.items()}
print("method", "yes" if all(got.get(k) == v for k, v in wm.items()) else "no",
      sum(1 for k in got if k[0].startswith("nginx_")), len(wm))
print("other", sorted(set(k[0] for k in got)))
PY
tap_is "$(awk '/^status/ { print $2, ($3 == $4) }' check.out)" "yes 1" \
	"gauges: requests and bytes per status equal Python's count and sum ($(grep ^status check.out))"
tap_is "$(awk '/^method/ { print $2, ($3 == $4) }' check.out)" "yes 1" \
	"counter: nginx_bytes_total per method equals Python's sum ($(grep ^method check.out))"
tap_is "$(grep ^other check.out)" "other ['http_bytes', 'http_requests', 'nginx_bytes_total']" \
	"only the configured values are exported"
if command -v promtool >/dev/null; then
	promtool check metrics <metrics.txt >promtool.out 2>&1
	tap_ok $? "promtool check metrics accepts the page $(head -3 promtool.out | tr '\n' ' ')"
else
	tap_skip 1 "promtool (Debian package prometheus) not installed"
fi
"$SLUICE" ctl stop --socket m.sock >/dev/null 2>&1
wait "$PID"
PID=

sed '/^control:/d' p.yaml >nocontrol.yaml
"$SLUICE" validate nocontrol.yaml >v.out 2>&1
rc=$?
line=$(grep -n '^  by_status:' nocontrol.yaml | cut -d: -f1)
tap_is "$rc/$(grep -c "^nocontrol.yaml:$line:3: sink 'by_status' (type metrics) is served on the metrics endpoint" v.out)" \
	"2/1" "a metrics sink without a metrics endpoint is refused at its file:line"
sed 's/mode: counter/mode: histogram/' p.yaml >badmode.yaml
"$SLUICE" validate badmode.yaml >v2.out 2>&1
tap_is "$?/$(grep -c "mode.*must be gauge or counter" v2.out)" "2/1" "a bad mode is refused, naming the parameter"
