#!/usr/bin/env bash
# Hand-checked edge cases of the nginx "combined" format (tests/data/nginx_edge.log, 24
# lines): IPv6 client, named user, bytes '-', escaped quotes in request, referer and user
# agent, empty quoted fields, statuses 100 and 599 at the edges, and invalid lines (600,
# 099, 2000, abc, "-" request, two or four request parts, a double space, bytes 12k, an
# extra field, an unterminated or unescaped quote, an empty line, plain text). The last
# line (a 404) has no final newline. Expected answers are written below by hand; the mawk reference
# must agree with them too, so the two oracles check each other. Sluice runs the issue-2
# stages plus a jsonl sink of the parsed records, whose fields are checked line by line.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir
LOG=$SLUICE_SOURCE/tests/data/nginx_edge.log
cd "$TMP" || exit 1

# By hand: valid lines are 1-7, 23 and 24 of the file.
cat >expect.counts <<'EOF'
100 1
200 2
302 1
404 1
500 1
503 1
504 1
599 1
EOF
sed -n '4p; 5p; 7p; 23p' "$LOG" >expect.5xx
nginx_ref_status_counts "$LOG" >ref.counts
tap_cmp ref.counts expect.counts "mawk reference agrees with the hand-made counts"
nginx_ref_5xx "$LOG" >ref.5xx
tap_cmp ref.5xx expect.5xx "mawk reference agrees with the hand-picked 5xx lines"

mkdir -p out
cat >pipeline.yaml <<EOF
sources:
  access: { type: file, path: $LOG }
stages:
  parse:     { use: nginx_parse, inputs: [access] }
  errors:    { use: filter, inputs: [parse], where: "status >= 500" }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl, format: jsonl }
  server_errors: { type: file, inputs: [errors], path: out/5xx.log, format: raw }
  records:       { type: file, inputs: [parse], path: out/records.jsonl, format: jsonl }
EOF
timeout 60 "$SLUICE" run pipeline.yaml --stats-json stats.json >stdout 2>stderr
rc=$?
tap_is "$rc" 0 "sluice run exits 0"
[ "$rc" -ne 0 ] && tap_diag "$(tail -10 stderr)"
python3 "$TESTLIB/check_stats.py" counts out/status.jsonl status 2>counts.err | sort -n >got.counts
tap_cmp got.counts expect.counts "status counts equal the hand-made ones"
[ -s counts.err ] && tap_diag "$(head -3 counts.err)"
python3 -c 'import json, sys
bad = [l for l in open(sys.argv[1]) if type(json.loads(l).get("status")) is not int]
sys.exit(1 if bad else 0)' out/status.jsonl 2>/dev/null
tap_ok $? "count records carry status as a JSON integer"
touch out/5xx.log
tap_cmp out/5xx.log expect.5xx "5xx.log holds the four 5xx lines, raw, in input order"
python3 "$TESTLIB/check_stats.py" conserve stats.json >conserve.out 2>&1
tap_ok $? "every stage and sink conserves events, in_flight 0"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"

# The parsed records, field by field, against the lines by hand.
python3 - "$LOG" out/records.jsonl >fields.out 2>&1 <<'EOF'
import json, sys
want = [  # ip, user, method, path, protocol, status, bytes (None = '-'), referer, agent
    ("192.0.2.1", "-", "GET", "/", "HTTP/1.1", 200, 612, "-", "curl/8.4.0"),
    ("192.0.2.2", "alice", "POST", "/api/login", "HTTP/1.1", 302, None,
     "https://example.com/", "Mozilla/5.0 (X11; Linux x86_64)"),
    ("2001:db8::1", "-", "GET", "/v6", "HTTP/2.0", 200, 10, "-", "-"),
    ("192.0.2.3", "-", "GET", '/q?a=\\"x\\"', "HTTP/1.1", 500, 0, "-", "agent"),
    ("192.0.2.4", "-", "GET", "/x", "HTTP/1.1", 503, 1, 'https://ref.example/\\"q\\"',
     'Mozilla/5.0 (compatible; \\"Quoted\\" Agent)'),
    ("192.0.2.5", "-", "HEAD", "/continue", "HTTP/1.1", 100, 0, "-", "-"),
    ("192.0.2.6", "-", "GET", "/edge", "HTTP/1.1", 599, 7, "", ""),
    ("192.0.2.20", "bob", "DELETE", "/api/v1/orders/7", "HTTP/1.1", 504, None, "-",
     "python-requests/2.31.0"),
    ("192.0.2.21", "-", "GET", "/missing", "HTTP/1.1", 404, 153, "-", "Wget/1.21.4"),
]
keys = ["ip", "user", "method", "path", "protocol", "status", "bytes", "referer",
        "user_agent"]
times = ["10/Oct/2026:13:55:%02d +0000" % i for i in (0, 1, 2, 3, 4, 5, 6, 22, 23)]
got = [json.loads(l) for l in open(sys.argv[2], "rb")]
bad = 0
if len(got) != len(want):
    print("%d records, want %d" % (len(got), len(want)))
    bad += 1
for i, (w, g, t) in enumerate(zip(want, got, times)):
    for k, v in zip(keys, w):
        gv = g.get(k, "<missing>")
        if isinstance(v, str) and isinstance(gv, str) and gv == v.replace('\\"', '"'):
            continue  # strings may be kept as written or unescaped
        if k == "bytes" and v is None and gv in (0, None, "-"):
            continue  # '-' may become 0, null or stay '-'
        if gv != v or type(gv) is not type(v) and v is not None:
            print("record %d: %s = %r, want %r" % (i + 1, k, gv, v))
            bad += 1
    if g.get("time") not in (t, "[" + t + "]"):
        print("record %d: time = %r, want %r" % (i + 1, g.get("time"), t))
        bad += 1
sys.exit(1 if bad else 0)
EOF
tap_ok $? "parsed records carry the ten fields with the values read by hand"
[ -s fields.out ] && tap_diag "$(head -10 fields.out)"
tap_done
