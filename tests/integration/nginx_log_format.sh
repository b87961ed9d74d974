#!/usr/bin/env bash
# nginx_parse with a custom log_format, end to end: a log in the format
#   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
#   "$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time
#   host=$host
# (upstream times "-", one number or a list), with malformed lines mixed in; every record
# equals the one Python builds from the same line with its own regex (floats for the
# times, text for a list, no field for "-"), in input order; the malformed lines leave on
# parse.errors; and a format error in the pipeline file is reported at its line and
# column.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 6
tap_tmpdir
cd "$TMP"

python3 - <<'PY'
import random
r = random.Random(5)
with open("in.log", "w") as f:
    for i in range(20000):
        ip = f"10.{i % 7}.{i % 251}.{i % 13}"
        user = r.choice(["-", "alice", "bob"])
        req = f'{r.choice(["GET", "POST", "HEAD"])} /p/{i}?q={r.randint(0, 9)} HTTP/1.1'
        status = r.choice([200, 200, 200, 301, 404, 500, 503])
        rt = f"{r.randint(0, 5000) / 1000:.3f}"
        urt = r.choice(["-", f"{r.randint(0, 900) / 1000:.3f}",
                        f"{r.randint(0, 900) / 1000:.3f}, {r.randint(0, 900) / 1000:.3f}"])
        line = (f'{ip} - {user} [10/Oct/2026:13:{i % 60:02d}:36 +0000] "{req}" {status} '
                f'{r.randint(0, 99999)} "-" "agent {i % 17}" rt={rt} urt={urt} '
                f'host=h{i % 3}.example')
        if i % 97 == 5:
            line = line.replace(" rt=", " rt:")          # the literal does not match
        elif i % 89 == 7:
            line = line.replace(f" {status} ", " 2x0 ")  # not a status
        f.write(line + "\n")
PY

cat > p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse:
    use: nginx_parse
    inputs: [in]
    log_format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time host=$host'
sinks:
  recs: { type: file, inputs: [parse], path: recs.jsonl, format: jsonl }
  bad:  { type: file, inputs: [parse.errors], path: bad.log, format: raw }
YAML
"$SLUICE" run p.yaml -q
tap_is "$?" 0 "pipeline with a log_format exits 0"

python3 - in.log recs.jsonl bad.log > check.out <<'PY'
import json, re, sys
rx = re.compile(r'^(\S+) - (\S+) \[([^\]]{26})\] "(\S+) (\S+) (\S+)" ([1-5][0-9][0-9]) (-|[0-9]+) '
                r'"([^"]*)" "([^"]*)" rt=(\S+) urt=(.*) host=(\S+)$')
want, bad = [], []
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    m = rx.match(line)
    if not m:
        bad.append(line)
        continue
    ip, user, tm, method, path, proto, status, nbytes, ref, ua, rt, urt, host = m.groups()
    rec = {"ip": ip, "user": user, "time": tm, "method": method, "path": path,
           "protocol": proto, "status": int(status), "bytes": int(nbytes), "referer": ref,
           "user_agent": ua, "request_time": float(rt)}
    if urt != "-":
        rec["upstream_response_time"] = float(urt) if "," not in urt else urt
    rec["host"] = host
    want.append(rec)
got = [json.loads(l) for l in open(sys.argv[2])]
def same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], float):
            if not isinstance(b[k], float) or a[k] != b[k]:  # correctly rounded, as float()
                return False
        elif a[k] != b[k]:
            return False
    return True
print("count", "yes" if len(got) == len(want) else "no", len(got), len(want))
print("records", "yes" if len(got) == len(want) and all(same(w, g) for w, g in zip(want, got)) else "no")
print("order", "yes" if [g["path"] for g in got] == [w["path"] for w in want] else "no")
print("bad", "yes" if [l.rstrip("\n") for l in open(sys.argv[3])] == bad and len(bad) > 100 else "no", len(bad))
PY
tap_is "$(grep -c '^count yes' check.out)" 1 "one record per well-formed line ($(grep '^count' check.out))"
tap_is "$(grep -c '^records yes' check.out)" 1 "every record equals Python's parse (floats, lists as text, '-' left out)"
tap_is "$(grep -c '^order yes' check.out)" 1 "records in input order"
tap_is "$(grep -c '^bad yes' check.out)" 1 "malformed lines leave on parse.errors ($(grep '^bad' check.out))"

cat > e.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: nginx_parse, inputs: [in], log_format: "$status $a$b" }
sinks:
  out: { type: "null", inputs: [parse] }
YAML
"$SLUICE" validate e.yaml > e.out 2>&1
col=$(python3 -c 'import sys; print(open(sys.argv[1]).read().splitlines()[3].index("$b") + 1)' e.yaml)
grep -q "e.yaml:4:$col: .*log_format.*variable right after another" e.out
tap_ok $? "a format error names file, line and column of the offending variable ($(head -1 e.out))"
