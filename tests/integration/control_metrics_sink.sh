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
#     file:line, and a bad mode names the parameter;
#   - records that once broke the page keep it valid for a strict Python reader of the
#     text format (prom_text.py) and promtool: sums that overflow are +Inf, -Inf, NaN;
#     label values that are not UTF-8 have each invalid byte replaced by U+FFFD; HELP
#     text escapes the record keys it names; two fields (or two sinks) that make one
#     metric name give one family, the first's;
#   - names that collide in the configuration are refused before the run: label fields
#     that make one label name, a prefix in the runtime's sluice_ namespace, two sinks
#     with one prefix.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v curl >/dev/null || tap_skip_all "curl not installed"
tap_plan 15
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
# scrape YAML PAGE: run YAML (control socket m.sock, linger) until its pipeline ended, then
# fetch /metrics into PAGE, stop it and set state to what ping said last.
scrape() {
	timeout 60 "$SLUICE" run "$1" >"$1.out" 2>"$1.err" &
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
	curl -s -o "$2" "http://$ADDR/metrics"
	"$SLUICE" ctl stop --socket m.sock >/dev/null 2>&1
	wait "$PID"
	PID=
}

# strict PAGE SAMPLES.json: the strict reader (prom_text.py) and promtool, when installed,
# accept PAGE; prints what they found wrong.
strict() {
	python3 "$SLUICE_SOURCE/tests/integration/prom_text.py" "$1" "$2" || return 1
	command -v promtool >/dev/null || return 0
	promtool check metrics <"$1" || return 1
}

scrape p.yaml metrics.txt
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
sed '/^control:/d' p.yaml >nocontrol.yaml
"$SLUICE" validate nocontrol.yaml >v.out 2>&1
rc=$?
line=$(grep -n '^  by_status:' nocontrol.yaml | cut -d: -f1)
tap_is "$rc/$(grep -c "^nocontrol.yaml:$line:3: sink 'by_status' (type metrics) is served on the metrics endpoint" v.out)" \
	"2/1" "a metrics sink without a metrics endpoint is refused at its file:line"
sed 's/mode: counter/mode: histogram/' p.yaml >badmode.yaml
"$SLUICE" validate badmode.yaml >v2.out 2>&1
tap_is "$?/$(grep -c "mode.*must be gauge or counter" v2.out)" "2/1" "a bad mode is refused, naming the parameter"

# Records that break a naive page (each once made Prometheus refuse every scrape until the
# run ended): sums that overflow to +Inf, -Inf and NaN, which printf spells inf and -nan;
# label values with bytes that are not UTF-8 (invalid starts, a cut sequence, a surrogate,
# a code point above U+10FFFF, an overlong form), next to valid UTF-8, '\' and '"'; record
# keys with '\' and a newline, which the HELP text must escape; two keys that sanitise to
# one metric name, and two sinks whose prefixes and fields make one name (app + x_y and
# app_x + y): each name must have one family, the first one's.
printf '%s\n' '{"k":"p","v":1.7e308}' '{"k":"p","v":1.7e308}' '{"k":"m","v":-1.7e308}' \
	'{"k":"m","v":-1.7e308}' '{"back\\slash":1,"new\nline":2,"quo\"te":3}' \
	'{"user-id":1,"user_id":2,"x_y":3,"y":4}' >odd.jsonl
printf 'k=\377\376 v=1\nk=ok v=2\nk=\303\251\342\202 v=3\nk=a\\b v=4\nk=\355\240\200\364\220\200\200\300\257 v=5\nk="q\\"x" v=6\n' \
	>odd.log
cat >odd.yaml <<EOF2
sources:
  lines: { type: file, paths: [odd.jsonl] }
  logfmt: { type: file, paths: [odd.log] }
stages:
  parse: { use: json_parse, inputs: [lines] }
  pairs: { use: logfmt_parse, inputs: [logfmt] }
  by_k: { use: aggregate, inputs: [parse], group_by: [k], window: all, aggregations: ["{ name: amount, fn: sum, field: v }", "{ name: n, fn: count }"] }
sinks:
  sums: { type: metrics, inputs: [parse], name: sums, labels: [k], values: [v], mode: counter }
  net: { type: metrics, inputs: [by_k], name: net, values: [amount], mode: counter }
  by_amount: { type: metrics, inputs: [by_k], name: by_amount, labels: [amount], values: [n] }
  keys: { type: metrics, inputs: [parse], name: keys }
  users: { type: metrics, inputs: [parse], name: users, values: [user-id, user_id] }
  app: { type: metrics, inputs: [parse], name: app, values: [x_y] }
  app_x: { type: metrics, inputs: [parse], name: app_x, values: [y] }
  labelled: { type: metrics, inputs: [pairs], name: by_k, labels: [k] }
  unparsed: { type: "null", inputs: [parse.errors, pairs.errors] }
control: { socket: $TMP/m.sock, metrics: "127.0.0.1:0", linger: 30s }
EOF2
scrape odd.yaml odd.txt
strict odd.txt odd.json >strict.out 2>&1
tap_ok $? "records with odd values and names leave a valid page (strict reader, promtool) $(head -3 strict.out | tr '\n' ' ')"
[ -s odd.json ] || echo '[]' >odd.json
python3 - odd.json odd.log >odd.out <<'PY'
import codecs, json, math, sys
got = {(n, tuple(sorted(l.items()))): v for n, l, v in json.load(open(sys.argv[1]))}
def spell(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return x
p, m = 1.7e308 + 1.7e308, -1.7e308 + -1.7e308
want = {
    ("sums_v_total", (("k", "p"),)): spell(p),
    ("sums_v_total", (("k", "m"),)): spell(m),
    ("net_amount_total", ()): spell(p + m),
    ("by_amount_n", (("amount", spell(p)),)): 2.0,
    ("by_amount_n", (("amount", spell(m)),)): 2.0,
}
print("values", all(got.get(k) == v for k, v in want.items()))
print("names", sorted((k[0], v) for k, v in got.items() if k[0] in ("users_user_id", "app_x_y")))
# Each byte that starts no valid UTF-8 sequence is one U+FFFD.
codecs.register_error("per_byte", lambda e: ("\ufffd", e.start + 1))
want = {}
for line in open(sys.argv[2], "rb"):
    k, v = line[2:].rstrip(b"\n").rsplit(b" v=", 1)
    if k.startswith(b'"'):
        k = k[1:-1].replace(b'\\"', b'"')
    want[("by_k_v", (("k", k.decode("utf-8", "per_byte")),))] = float(v)
print("labels", len(want), sum(got.get(k) == v for k, v in want.items()))
PY
tap_is "$(grep ^values odd.out)" "values True" \
	"overflowing sums are +Inf, -Inf and NaN as values and as float labels ($(grep -v '^sluice\|^# [A-Z]* sluice' odd.txt | grep -c .) lines)"
tap_is "$(grep ^labels odd.out)" "labels 6 6" \
	"label values are valid UTF-8, each invalid byte as U+FFFD, and escaped"
tap_is "$(grep -c -F -e '# HELP keys_back_slash Field back\\slash of' \
	-e '# HELP keys_new_line Field new\nline of' -e '# HELP keys_quo_te Field quo"te of' odd.txt)" 3 \
	"HELP text escapes backslash and newline in record keys"
tap_is "$(grep ^names odd.out)/$(grep -c -e "comp=users msg=\"field 'user_id' is not exported" \
	-e 'comp=app_x msg="family app_x_y is not served' odd.yaml.err)" \
	"names [('app_x_y', 3.0), ('users_user_id', 1.0)]/2" \
	"keys or sinks that make one metric name: one family, the first's; the other is logged"

# Names that collide in the configuration are refused before the run (each passed
# `sluice validate` and made the page invalid): two label fields that make one label name,
# a prefix in the runtime's own sluice_ namespace (given, or the sink's name by default),
# two sinks with one prefix (the loader compares the sinks' prefixes).
collide() {
	cat <<EOF2
sources:
  lines: { type: file, paths: [odd.jsonl] }
stages:
  parse: { use: json_parse, inputs: [lines] }
sinks:
$1
  unparsed: { type: "null", inputs: [parse.errors] }
control: { socket: $TMP/m.sock, metrics: "127.0.0.1:0" }
EOF2
}
collide '  one: { type: metrics, inputs: [parse], name: app, labels: ["a-b", "a_b"] }' >c1.yaml
"$SLUICE" validate c1.yaml >c1.out 2>&1
tap_is "$?/$(grep -c "^c1.yaml:6:[0-9]*: sink 'one' (metrics): labels: fields 'a-b' and 'a_b' both become label a_b" c1.out)" \
	"2/1" "label fields that make one label name are refused at load, at the key"
collide '  one: { type: metrics, inputs: [parse], name: sluice_node, mode: counter }' >c2.yaml
"$SLUICE" validate c2.yaml >c2.out 2>&1
rc=$?
collide '  sluice_x: { type: metrics, inputs: [parse] }' >c3.yaml
"$SLUICE" validate c3.yaml >c3.out 2>&1
rc3=$?
n2=$(grep -c "^c2.yaml:6:[0-9]*: sink 'one' (metrics): name: 'sluice' and names starting with 'sluice_'" c2.out)
n3=$(grep -c "^c3.yaml:6:3: sink 'sluice_x': its metric prefix 'sluice_x' is the runtime's own" c3.out)
tap_is "$rc/$n2/$rc3/$n3" "2/1/2/1" "a prefix in the runtime's sluice_ namespace is refused at load (given, or the sink's name by default)"
collide '  one: { type: metrics, inputs: [parse], name: app }
  two: { type: metrics, inputs: [parse], name: app }' >c4.yaml
"$SLUICE" validate c4.yaml >c4.out 2>&1
rc=$?
tap_is "$rc/$(grep -c "^c4.yaml:7:[0-9]*: sink 'two': metrics sink 'one' already uses the metric prefix 'app'" c4.out)" \
	"2/1" "two metrics sinks with one prefix are refused at load, naming both"
tap_done
