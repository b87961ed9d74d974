#!/usr/bin/env bash
# Dead-letter queue end to end. Python writes an nginx log of valid lines and malformed
# ones, each malformed line made by one deliberate defect whose nginx_parse reason is
# known by construction (bad_ip, bad_user, bad_time, bad_request, bad_status, bad_bytes,
# bad_quote, trailing; some with bytes that are not UTF-8). Run 1: nginx_parse's `errors`
# output feeds a dlq sink. Python checks that every malformed line, and nothing else,
# appears once with its reason, its byte offset as event id, its exact bytes, and the
# stage, kind, version, output and source. Run 2 replays the file with a `dlq` source into
# nginx_parse again: the same entries come back (ids, bytes, reasons). Run 3 replays into a
# raw file sink: the bytes are exactly the malformed lines, in order. Run 4: a damaged
# dead-letter file is reported as FILE:LINE:COLUMN (column = byte offset + 1) and its other lines still replay;
# the `stage:` filter keeps only one stage's entries. Run 5: lines longer than a small event
# (one cut at 4,096 bytes by the file source) dead-lettered by json_parse replay into a raw
# sink and into json_parse again without a fault: the bytes are the lines' first 4,096.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 17
tap_tmpdir
cd "$TMP" || exit 1

python3 - <<'EOF'
import json, random
rng = random.Random(8)
good = ('{ip} - - [10/Oct/2026:13:55:{s:02d} +0000] "GET /p/{n} HTTP/1.1" {st} {b} '
        '"-" "curl/8.{n}"')
defects = {
    # reason: a function from a valid line's parts to a malformed line (bytes)
    "bad_ip": lambda n: b"x" + line(n),
    "bad_user": lambda n: line(n).replace(b" - - [", b" x - [", 1),
    "bad_time": lambda n: line(n).replace(b"[", b"", 1),
    "bad_request": lambda n: line(n).replace(b" HTTP/1.1\"", b"\"", 1),
    "bad_status": lambda n: line(n).replace(b"\" 200 ", b"\" abc ", 1),
    "bad_bytes": lambda n: line(n).replace(b" 200 123 ", b" 200 12x ", 1),
    "bad_quote": lambda n: line(n)[:-1],
    "trailing": lambda n: line(n) + b" extra",
}
def line(n, st=200, b=123):
    return good.format(ip="10.0.%d.%d" % (n // 250 % 250, n % 250 + 1), s=n % 60, n=n,
                       st=st, b=b).encode()
out = open("in.log", "wb")
expect = []
off = 0
kinds = sorted(defects)
for n in range(4000):
    if rng.random() < 0.25:
        reason = kinds[n % len(kinds)]
        l = defects[reason](n)
        if n % 7 == 0 and reason == "bad_ip":
            l = b"\xff\xfe" + l  # not UTF-8: stored as raw_base64
        elif n % 5 == 0 and reason == "trailing":
            l = l + " caf\u00e9".encode()
        expect.append({"event_id": off, "reason": reason, "raw": l.hex()})
    else:
        l = line(n, st=rng.choice([200, 404, 500]), b=rng.randrange(1, 99999))
    out.write(l + b"\n")
    off += len(l) + 1
json.dump(expect, open("expect.json", "w"))
EOF
n_bad=$(python3 -c 'import json; print(len(json.load(open("expect.json"))))')
tap_diag "input: 4000 lines, $n_bad malformed"

cat >p1.yaml <<'EOF'
sources:
  access: { type: file, path: in.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
sinks:
  kept: { type: file, inputs: [parse], path: out/kept.log, format: raw }
  dead: { type: dlq, inputs: [parse.errors], path: out/dlq.jsonl }
EOF
timeout 60 "$SLUICE" run p1.yaml --stats-json s1.json -- --no-huge -m 256 >out1 2>err1
tap_is "$?" 0 "run 1 (nginx_parse errors -> dlq) exits 0"
tap_is "$(wc -l <out/dlq.jsonl)" "$n_bad" "the dead-letter file holds one line per malformed line"

cat >check.py <<'EOF'
import base64, json, sys
expect = {e["event_id"]: e for e in json.load(open("expect.json"))}
want_output = sys.argv[2] if len(sys.argv) > 2 else "errors"
problems, seen = [], set()
for i, l in enumerate(open(sys.argv[1], "rb"), 1):
    d = json.loads(l)
    raw = base64.b64decode(d["raw_base64"]) if "raw_base64" in d else d["raw"].encode()
    e = expect.get(d["event_id"])
    if e is None:
        problems.append("line %d: event %s is not a malformed line" % (i, d["event_id"]))
        continue
    if d["event_id"] in seen:
        problems.append("line %d: event %s twice" % (i, d["event_id"]))
    seen.add(d["event_id"])
    if raw != bytes.fromhex(e["raw"]):
        problems.append("line %d: raw bytes differ: %r" % (i, raw[:80]))
    if d["reason"] != e["reason"] or d["record"].get("error") != e["reason"]:
        problems.append("line %d: reason %s, expected %s" % (i, d["reason"], e["reason"]))
    for k, v in (("stage", "parse"), ("use", "nginx_parse"), ("version", "1.0.0"),
                 ("plugin", None), ("output", want_output), ("source", sys.argv[3])):
        if d[k] != v:
            problems.append("line %d: %s is %r, expected %r" % (i, k, d[k], v))
    if not d["time"].endswith("Z") or abs(d["time_ns"] / 1e9 - float(sys.argv[4])) > 600:
        problems.append("line %d: time %s is not now" % (i, d["time"]))
    if ("raw_base64" in d) == (raw.decode("utf-8", "replace").encode() == raw):
        problems.append("line %d: raw_base64 used iff the bytes are not UTF-8" % i)
missing = set(expect) - seen
if missing:
    problems.append("%d malformed lines missing, e.g. event %d" % (len(missing), min(missing)))
if problems:
    print("\n".join(problems[:10]))
sys.exit(1 if problems else 0)
EOF
now=$(date +%s)
python3 check.py out/dlq.jsonl errors access "$now" >check1.out 2>&1
tap_ok $? "every malformed line is in the DLQ once, with its reason, id, bytes, stage and source"
[ -s check1.out ] && tap_diag "$(cat check1.out)"
n_b64=$(grep -c '"raw_base64"' out/dlq.jsonl)
tap_ok "$([ "$n_b64" -gt 0 ] && echo 0 || echo 1)" "non-UTF-8 lines are stored as raw_base64 ($n_b64)"
python3 "$TESTLIB/check_stats.py" conserve s1.json >c1.out 2>&1
tap_ok $? "run 1 conserves events"
[ -s c1.out ] && tap_diag "$(cat c1.out)"

# Run 2: replay into the stage that rejected them; they come back the same.
cat >p2.yaml <<'EOF'
sources:
  replay: { type: dlq, path: out/dlq.jsonl, stage: parse }
stages:
  parse: { use: nginx_parse, inputs: [replay] }
sinks:
  kept: { type: file, inputs: [parse], path: out/kept2.log, format: raw }
  dead: { type: dlq, inputs: [parse.errors], path: out/dlq2.jsonl, append: false }
EOF
timeout 60 "$SLUICE" run p2.yaml --stats-json s2.json -- --no-huge -m 256 >out2 2>err2
tap_is "$?" 0 "run 2 (dlq source -> nginx_parse -> dlq) exits 0"
python3 check.py out/dlq2.jsonl errors replay "$now" >check2.out 2>&1
tap_ok $? "the replayed events fail again with the same ids, bytes and reasons"
[ -s check2.out ] && tap_diag "$(cat check2.out)"
tap_is "$(wc -c <out/kept2.log)" 0 "no replayed event parsed"

# Run 3: replay into a raw sink: exactly the malformed lines, in input order.
cat >p3.yaml <<'EOF'
sources:
  replay: { type: dlq, path: out/dlq.jsonl }
sinks:
  raw: { type: file, inputs: [replay], path: out/replayed.log, format: raw }
EOF
python3 -c '
import json
with open("expect.raw", "wb") as f:
    for e in json.load(open("expect.json")):
        f.write(bytes.fromhex(e["raw"]) + b"\n")'
timeout 60 "$SLUICE" run p3.yaml -- --no-huge -m 256 >out3 2>err3
tap_is "$?" 0 "run 3 (dlq source -> raw file) exits 0"
tap_cmp out/replayed.log expect.raw "replayed bytes equal the malformed lines, in order"

# Run 4: a damaged file and the stage filter.
{
	head -n 3 out/dlq.jsonl
	printf '{"event_id":5,"raw":"ok\\q"}\n'
	sed -n 4p out/dlq.jsonl | sed 's/"stage":"parse"/"stage":"other"/'
	sed -n 5p out/dlq.jsonl
} >damaged.jsonl
cat >p4.yaml <<'EOF'
sources:
  replay: { type: dlq, path: damaged.jsonl, stage: parse }
sinks:
  raw: { type: file, inputs: [replay], path: out/replayed4.log, format: raw }
EOF
timeout 60 "$SLUICE" run p4.yaml -- --no-huge -m 256 >out4 2>err4
tap_is "$?" 0 "run 4 (damaged file) exits 0"
grep -q 'damaged.jsonl:4:24: unknown escape in a string; line skipped' err4
tap_ok $? "the bad line is reported as FILE:LINE:COLUMN: why"
[ "$?" -ne 0 ] && tap_diag "$(grep dlq err4)"
{ head -n 3 expect.raw; sed -n 5p expect.raw; } >expect4.raw
tap_cmp out/replayed4.log expect4.raw "the other lines replay; stage: keeps only that stage's"
grep -q 'bad_lines=1 filtered=1' err4
tap_ok $? "the summary counts one bad line and one filtered entry"

# Run 5: long dead letters (a small event holds 768 bytes of line; the replay used to
# write past it).
mkdir -p long/out
python3 -c "
open('long/in.log', 'w').write('{\"ok\": 1}\n' + 'x' * 5000 + '\n' + 'y' * 1500 + '\n')"
cat >long/a.yaml <<'EOF'
sources:
  src: { type: file, path: in.log }
stages:
  parse: { use: json_parse, inputs: [src] }
sinks:
  kept: { type: "null", inputs: [parse] }
  dead: { type: dlq, inputs: [parse.errors], path: out/dlq.jsonl }
EOF
cat >long/b.yaml <<'EOF'
sources:
  replay: { type: dlq, path: out/dlq.jsonl }
stages:
  again: { use: json_parse, inputs: [replay] }
sinks:
  raw: { type: file, inputs: [replay], path: out/replayed.log, format: raw }
  bad: { type: "null", inputs: [again.errors] }
EOF
(cd long && timeout 60 "$SLUICE" run a.yaml -q -- --no-huge -m 256)
tap_is "$?" 0 "run 5: two long lines dead-lettered"
(cd long && timeout 60 "$SLUICE" run b.yaml -q -- --no-huge -m 256 >out5 2>err5)
tap_is "$?" 0 "run 5: their replay into a raw sink and json_parse exits 0"
python3 -c "
import sys
want = ('x' * 4096 + '\n' + 'y' * 1500 + '\n').encode()
sys.exit(open('long/out/replayed.log', 'rb').read() != want)"
tap_ok $? "run 5: the replayed bytes are the lines' first 4,096 bytes"
tap_done
