#!/usr/bin/env bash
# The expression stages end to end (docs/expressions.md): nginx_parse feeds filter, route
# (first match and all matches), set and redact over a generated log with malformed lines;
# Python parses the same log with its own regex and computes every condition, value and
# redaction itself; each sink's records (and for route, which output got which line) must
# equal Python's, in input order. Then load-time errors: a bad expression inside a route
# map, a set map and a redact pattern must be reported at the file:line:column of the
# mistake, computed here from the file's text.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 14
tap_tmpdir
cd "$TMP"

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 20000 -o in.log --seed 11 --bad-ratio 0.03 >/dev/null
cat > p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: nginx_parse, inputs: [in] }
  errors:
    use: filter
    inputs: [parse]
    where: "status >= 500 and method in ['GET', 'POST'] or contains(lower(user_agent), 'bot') and bytes % 7 == 3"
  kinds:
    use: route
    inputs: [parse]
    routes:
      server: "status >= 500"
      client: "status >= 400"
      api: "path =~ '^/api/v[0-9]+/'"
  tags:
    use: route
    inputs: [parse]
    mode: all
    routes:
      big: "bytes * 2 > 40000 or bytes / 1000 < 1.5"
      post: "method == 'POST' and not suffix(path, '.php')"
      curl: "prefix(user_agent, 'curl/') or user_agent matches 'python-[a-z]+/'"
  calc:
    use: set
    inputs: [parse]
    fields:
      kb: "bytes / 1024"
      rest: "bytes % 1000 - 500"
      ok: "status < 400"
      proto: "lower(protocol)"
      method: "upper(method)"
      plen: "len(path) * 2 - 1"
      ts: "epoch_ns(time)"
      none: "bytes / 0"
  mask:
    use: redact
    inputs: [parse]
    fields: [ip, path]
    pattern: '[0-9]+'
    replacement: '#'
sinks:
  errors_out: { type: file, inputs: [errors], path: errors.jsonl, format: jsonl }
  k_server:   { type: file, inputs: [kinds.server], path: k_server.jsonl, format: jsonl }
  k_client:   { type: file, inputs: [kinds.client], path: k_client.jsonl, format: jsonl }
  k_api:      { type: file, inputs: [kinds.api], path: k_api.jsonl, format: jsonl }
  k_rest:     { type: file, inputs: [kinds._unmatched], path: k_rest.jsonl, format: jsonl }
  t_big:      { type: file, inputs: [tags.big], path: t_big.jsonl, format: jsonl }
  t_post:     { type: file, inputs: [tags.post], path: t_post.jsonl, format: jsonl }
  t_curl:     { type: file, inputs: [tags.curl], path: t_curl.jsonl, format: jsonl }
  t_rest:     { type: file, inputs: [tags._unmatched], path: t_rest.jsonl, format: jsonl }
  calc_out:   { type: file, inputs: [calc], path: calc.jsonl, format: jsonl }
  mask_out:   { type: file, inputs: [mask], path: mask.jsonl, format: jsonl }
  mask_raw:   { type: file, inputs: [mask], path: mask.raw, format: raw }
  bad:        { type: "null", inputs: [parse.errors] }
YAML
timeout 120 "$SLUICE" run p.yaml -q --stats-json s.json
tap_is "$?" 0 "pipeline with filter, route (first, all), set and redact exits 0"

python3 - in.log s.json > check.out <<'PY'
import calendar, datetime, json, re, sys
rx = re.compile(r'^([0-9a-fA-F.:]{1,45}) - (\S+) \[([^\]]{26})\] "(\S+) (\S+) (\S+)" ([1-5][0-9][0-9]) (-|[0-9]+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"[ \r]*$')
recs = []
for line in open(sys.argv[1], encoding="latin-1"):
    m = rx.match(line.rstrip("\n"))
    if not m:
        continue
    ip, user, tm, method, path, proto, status, nbytes, ref, ua = m.groups()
    recs.append({"status": int(status), "bytes": 0 if nbytes == "-" else int(nbytes),
                 "method": method, "path": path, "ip": ip, "user": user, "time": tm,
                 "protocol": proto, "referer": ref, "user_agent": ua})

def load(name):
    return [json.loads(l) for l in open(name, encoding="utf-8", errors="surrogateescape")]

def report(what, got, want):
    ok = got == want
    print(what, "yes" if ok else "no", len(got), len(want))
    if not ok:
        for a, b in zip(got, want):
            if a != b:
                print("first difference in", what, a, b)
                break

# filter
want = [r for r in recs if (r["status"] >= 500 and r["method"] in ("GET", "POST"))
        or ("bot" in r["user_agent"].lower() and r["bytes"] % 7 == 3)]
report("filter", load("errors.jsonl"), want)

# route, first match
outs = {"server": [], "client": [], "api": [], "rest": []}
api = re.compile(r'^/api/v[0-9]+/')
for r in recs:
    if r["status"] >= 500: outs["server"].append(r)
    elif r["status"] >= 400: outs["client"].append(r)
    elif api.search(r["path"]): outs["api"].append(r)
    else: outs["rest"].append(r)
for k in outs:
    report("first_" + k, load("k_%s.jsonl" % k), outs[k])

# route, all matches
outs = {"big": [], "post": [], "curl": [], "rest": []}
py = re.compile(r'python-[a-z]+/')
copies = 0
for r in recs:
    hit = []
    if r["bytes"] * 2 > 40000 or r["bytes"] / 1000 < 1.5: hit.append("big")
    if r["method"] == "POST" and not r["path"].endswith(".php"): hit.append("post")
    if r["user_agent"].startswith("curl/") or py.search(r["user_agent"]): hit.append("curl")
    for h in hit or ["rest"]:
        outs[h].append(r)
    copies += max(len(hit) - 1, 0)
ok_all = all(load("t_%s.jsonl" % k) == outs[k] for k in outs)
print("all", "yes" if ok_all else "no", {k: len(v) for k, v in outs.items()})

# set: values computed from the record as it came; existing fields keep their place
want = []
for r in recs:
    o = dict(r)
    o["method"] = r["method"].upper()
    t = datetime.datetime.strptime(r["time"], "%d/%b/%Y:%H:%M:%S %z")
    o.update({"kb": r["bytes"] / 1024, "rest": r["bytes"] % 1000 - 500, "ok": r["status"] < 400,
              "proto": r["protocol"].lower(), "plen": len(r["path"]) * 2 - 1,
              "ts": calendar.timegm(t.utctimetuple()) * 10**9})
    want.append(o)
got = load("calc.jsonl")
report("set", got, want)
print("set_order", "yes" if all(list(g) == list(w) for g, w in zip(got, want)) else "no")

# redact: Python's re.sub on ip and path; raw sink writes the record (no line any more)
want = []
for r in recs:
    o = dict(r)
    o["ip"] = re.sub(r"[0-9]+", "#", r["ip"])
    o["path"] = re.sub(r"[0-9]+", "#", r["path"])
    want.append(o)
report("redact", load("mask.jsonl"), want)
raw = load("mask.raw")
print("redact_raw", "yes" if raw == want else "no")

# counters
n = {x["name"]: x for x in json.load(open(sys.argv[2]))["nodes"]}
t = n["tags"]["counters"]
# out counts every copy: one per (event, output) = the events + the copies = what the
# outputs received
# outputs received; the copies are what the node generated (in + generated = out)
print("copies", "yes" if t["copies"] == copies and t["routed"] + t["unmatched"] == len(recs) and
      n["tags"]["out"] == len(recs) + copies == sum(len(v) for v in outs.values()) and
      n["tags"]["generated"] == copies else "no",
      t["copies"], copies, n["tags"]["out"], n["tags"]["generated"])
print("unset", "yes" if n["calc"]["counters"]["unset"] == len(recs) else "no")
PY
for k in filter first_server first_client first_api first_rest all set redact; do
	tap_is "$(grep -c "^$k yes" check.out)" 1 "$k: records are Python's ($(grep "^$k " check.out | head -1))"
done
tap_is "$(grep -c '^set_order yes' check.out)$(grep -c '^redact_raw yes' check.out)" 11 \
	"set keeps fields in place and appends new ones; redact's raw sink writes the masked record, not the line"
tap_is "$(grep -c '^copies yes' check.out)$(grep -c '^unset yes' check.out)" 11 \
	"route all counts its copies, and each copy in out and generated; set counts the unset field (bytes / 0) once per record"
python3 "$SLUICE_SOURCE/tests/lib/check_stats.py" conserve s.json >conserve.out
tap_ok $? "every node conserves events, route all mode included $(head -3 conserve.out | tr '\n' ' ')"
grep '^first difference' check.out | head -3 | while read -r l; do tap_diag "$l"; done

# route in all mode hands one event to several outputs (its reference count raised): with a
# checkpointed source every epoch must still commit, to the end of the file.
cat > ck.yaml <<'YAML'
sources:
  in: { type: file, path: in.log, checkpoint: ck.state, checkpoint_interval: 10ms }
stages:
  parse: { use: nginx_parse, inputs: [in] }
  tags:
    use: route
    inputs: [parse]
    mode: all
    routes: { big: "bytes > 20000", post: "method == 'POST'" }
  calc: { use: set, inputs: [tags.big, tags.post], fields: { kb: "bytes / 1024" } }
sinks:
  a: { type: file, inputs: [calc], path: ck_a.jsonl, format: jsonl }
  b: { type: file, inputs: [tags._unmatched], path: ck_b.jsonl, format: jsonl }
  bad: { type: "null", inputs: [parse.errors] }
YAML
timeout 120 "$SLUICE" run ck.yaml > ck.out 2> ck.err
ck_rc=$?
python3 - in.log ck.state ck.err <<'PY' > ck.check
import os, sys
size = os.path.getsize(sys.argv[1])
state = open(sys.argv[2]).read().split()
err = open(sys.argv[3]).read()
print("ck", "yes" if str(size) in state and "twice" not in err else "no", size)
PY
tap_is "$ck_rc$(grep -c '^ck yes' ck.check)" 01 "route all mode with a checkpointed source: runs, commits to the end of the file ($(cat ck.check))"

# Load-time errors at the position of the mistake inside the maps and the pattern, one
# pipeline each (the loader stops before the stages' checks when the file itself is wrong).
bad() { # name, stage lines (indented 2), sink input
	{
		printf 'sources:\n  in: { type: file, path: in.log }\nstages:\n'
		printf '  parse: { use: nginx_parse, inputs: [in] }\n'
		printf '%s\n' "$2"
		printf 'sinks:\n  out: { type: "null", inputs: [%s] }\n' "$3"
	} > "$1.yaml"
	timeout 30 "$SLUICE" validate "$1.yaml" > "$1.out" 2>&1
	echo "$?" > "$1.rc"
}
bad route_map '  kinds:
    use: route
    inputs: [parse]
    routes:
      server: "status >= 500"
      client:   "status >= 400 and (path == '"'"'/x'"'"'"' kinds.client
bad set_map '  calc:
    use: set
    inputs: [parse]
    fields: { kb: "bytes / 1024", bad: "bytes * '"'"'k'"'"'" }' calc
bad redact_pattern "  mask: { use: redact, inputs: [parse], fields: [ip], pattern: 'a(b' }" mask
bad route_name '  dup:
    use: route
    inputs: [parse]
    routes: { _unmatched: "status > 1" }' dup
bad filter_where '  f: { use: filter, inputs: [parse], where: "lower(path) =~ '"'"'[z-a]'"'"'" }' f
python3 - > pos.out <<'PY'
def at(name, needle, inner, msg):
    lines = open(name + ".yaml").read().split("\n")
    out = open(name + ".out").read()
    rc = open(name + ".rc").read().strip()
    for i, l in enumerate(lines):
        if needle in l:
            col = l.index(needle) + l[l.index(needle):].index(inner) + 1
            want = "%s.yaml:%d:%d:" % (name, i + 1, col)
            ok = rc == "2" and any(x.startswith(want) and msg in x for x in out.split("\n"))
            print("pos", "yes" if ok else "no", want, msg, "| got:", out.strip()[:160])
            return
    print("pos no (needle)", needle)
at("route_map", "\"status >= 400 and (path", "(path", "'(' is never closed")
at("set_map", "\"bytes * 'k'\"", "'k'", "needs numbers on its right")
at("redact_pattern", "'a(b' }", "' }", "missing closing parenthesis")
at("route_name", "_unmatched:", "_unmatched", "cannot name an output")
at("filter_where", "'[z-a]'", "a]'", "range out of order")
PY
tap_is "$(grep -c '^pos yes' pos.out)" 5 "validate exits 2 naming file:line:column inside a route map, a set map, a redact pattern, a route name and a filter's regex"
grep '^pos no' pos.out | while read -r l; do tap_diag "$l"; done
tap_done
