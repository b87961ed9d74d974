#!/usr/bin/env bash
# drop_fields and rename, end to end: nginx_parse -> drop_fields [referer, user_agent, time]
# -> rename ip to client -> jsonl; every record equals the one Python builds from the same
# line with its own regex, minus those fields and with ip renamed, in input order (keys in
# order too); and with a raw sink on the same output the lines come out byte for byte.
# Records that outgrow a small event (lines up to 768 bytes are read into 2 KiB mbufs):
# json_parse -> drop_fields, rename, set, redact on JSON lines of every length class up to
# 2,600 bytes, and json_parse of short nested lines that flatten to long records, must all
# come out, equal to what Python makes of each line.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 7
tap_tmpdir
cd "$TMP"

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 20000 -o in.log --seed 9 --bad-ratio 0.02 >/dev/null
cat > p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: nginx_parse, inputs: [in] }
  slim:  { use: drop_fields, inputs: [parse], fields: [referer, user_agent, time] }
  named: { use: rename, inputs: [slim], from: [ip], to: [client] }
sinks:
  recs: { type: file, inputs: [named], path: recs.jsonl, format: jsonl }
  raw:  { type: file, inputs: [named], path: raw.log, format: raw }
  bad:  { type: "null", inputs: [parse.errors] }
YAML
"$SLUICE" run p.yaml -q --stats-json s.json
tap_is "$?" 0 "pipeline exits 0"
python3 - in.log recs.jsonl raw.log > check.out <<'PY'
import json, re, sys
rx = re.compile(r'^([0-9a-fA-F.:]{1,45}) - (\S+) \[([^\]]{26})\] "(\S+) (\S+) (\S+)" ([1-5][0-9][0-9]) (-|[0-9]+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"[ \r]*$')
want, lines = [], []
for line in open(sys.argv[1], encoding="latin-1"):
    line = line.rstrip("\n")
    m = rx.match(line)
    if not m:
        continue
    ip, user, tm, method, path, proto, status, nbytes, ref, ua = m.groups()
    want.append({"status": int(status), "bytes": 0 if nbytes == "-" else int(nbytes),
                 "method": method, "path": path, "client": ip, "user": user, "protocol": proto})
    lines.append(line)
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8", errors="surrogateescape")]
# key order too: nginx_parse's order, ip renamed in place
order = ["status", "bytes", "method", "path", "client", "user", "protocol"]
if any(list(r) != order for r in got):
    print("order no")
raw = [l.rstrip("\n") for l in open(sys.argv[3], encoding="latin-1")]
print("records", "yes" if got == want else "no", len(got), len(want))
if got != want:
    for a, b in zip(got, want):
        if a != b:
            print("first difference", a, b)
            break
print("raw", "yes" if raw == lines else "no", len(raw), len(lines))
PY
tap_is "$(grep -c '^records yes' check.out)" 1 "records are Python's, minus referer, user_agent and time, ip renamed client, in order ($(grep '^records' check.out))"
tap_is "$(grep -c '^order no' check.out)" 0 "fields keep nginx_parse's order, client where ip was"
tap_is "$(grep -c '^raw yes' check.out)" 1 "the raw lines pass unchanged"
grep '^first difference' check.out | head -1 | while read -r l; do tap_diag "$l"; done
python3 -c '
import json, sys
n = {x["name"]: x for x in json.load(open(sys.argv[1]))["nodes"]}
s = n["slim"]
ok = s["in"] == n["parse"]["counters"]["parsed"] and s["counters"]["rewritten"] == s["in"] and s["out"] == s["in"]
sys.exit(0 if ok else 1)' s.json
tap_ok $? "every parsed event was rewritten and passed on"

python3 -c "
import json
with open('grow.txt', 'w') as f:
    for n in range(0, 2600, 7):
        f.write(json.dumps({'s': n, 'p': 'a' * n}) + '\n')
with open('nested.txt', 'w') as f:
    for n in range(10, 71, 3):  # at n = 70 a 717-byte line flattens to 7.3 KB (both fit 8 KiB)
        f.write(json.dumps({'x' * 100: {'k%d' % i: i for i in range(n)}}, separators=(',', ':')) + '\n')"
cat > g.yaml <<'YAML'
sources:
  in: { type: file, path: grow.txt }
  nested: { type: file, path: nested.txt }
stages:
  p:  { use: json_parse, inputs: [in] }
  np: { use: json_parse, inputs: [nested] }
  df: { use: drop_fields, inputs: [p], fields: [s] }
  rn: { use: rename, inputs: [p], from: [s], to: [t] }
  st: { use: set, inputs: [p], fields: { q: "p" } }
  rd: { use: redact, inputs: [p], fields: [p], pattern: 'a', replacement: 'XYZ' }
sinks:
  df_out: { type: file, inputs: [df], path: df.jsonl, format: jsonl }
  rn_out: { type: file, inputs: [rn], path: rn.jsonl, format: jsonl }
  st_out: { type: file, inputs: [st], path: st.jsonl, format: jsonl }
  rd_out: { type: file, inputs: [rd], path: rd.jsonl, format: jsonl }
  np_out: { type: file, inputs: [np], path: np.jsonl, format: jsonl }
YAML
"$SLUICE" run g.yaml -q
tap_is "$?" 0 "growing records: pipeline exits 0"
python3 - > grow.out <<'PY'
import json
inp = [json.loads(l) for l in open('grow.txt')]
want = {
    'df': [{'p': r['p']} for r in inp],
    'rn': [{'t': r['s'], 'p': r['p']} for r in inp],
    'st': [{'s': r['s'], 'p': r['p'], 'q': r['p']} for r in inp],
    'rd': [{'s': r['s'], 'p': r['p'].replace('a', 'XYZ')} for r in inp],
}
want['np'] = [{k + '.' + j: v for k, d in json.loads(l).items() for j, v in d.items()}
              for l in open('nested.txt')]
for k, w in want.items():
    got = [json.loads(l) for l in open(k + '.jsonl')]
    print(k, 'ok' if got == w else 'differs: %d of %d records' % (len(got), len(w)))
PY
tap_is "$(grep -c ' ok$' grow.out)" 5 "json_parse, drop_fields, rename, set, redact keep every record that outgrows a small event ($(tr '\n' ' ' <grow.out))"
tap_done
