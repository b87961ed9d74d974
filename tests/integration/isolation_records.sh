#!/usr/bin/env bash
# Records through sandboxed stages (`isolation: process`, docs/resilience.md), checks with no
# timing in them (so this runs beside other tests; isolation.sh has the watchdog's cases).
# 9: json_parse (13 counters of its own, 23 with the sandbox's) runs in a sandbox; Python
# judges its output. 10: route with `mode: all` (one event shared among its outputs) in a
# sandbox. 11: a record event that kills a sandbox keeps its record in its dead letter
# (record.event). 12: an in-process stage that forgets events (garbage_on forget): counted
# as dropped (lost).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
pdir=$SLUICE_BUILD/plugins/testing
for p in crash_on garbage_on; do
	[ -f "$pdir/$p.so" ] || tap_skip_all "test plugin not built: $pdir/$p.so"
done
tap_plan 7
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../lib/isolation_fixture.sh"
isolation_fixture crash_on garbage_on
eal=(-- --no-huge -m 256)
# 9: a parser in a sandbox. Its counters and the sandbox's once exceeded the 16 a stage may
# declare, and every parser was refused with `isolation: process`.
python3 - <<'EOF'
import json
with open("j.jsonl", "w") as f, open("j_good.want", "w") as g, open("j_bad.want", "w") as b:
    for i in range(500):
        line = '{"i": %d, "s": "x%d"}' % (i, i) if i % 7 else '{"i": %d,}' % i
        f.write(line + "\n")
        try:
            json.loads(line)
            g.write("%d x%d\n" % (i, i))
        except ValueError:
            b.write(line + "\n")
EOF
cat >j.yaml <<'EOF'
sources:
  in: { type: file, path: j.jsonl }
stages:
  parse: { use: json_parse, inputs: [in], isolation: process }
sinks:
  good: { type: file, inputs: [parse], path: out10/good.jsonl, format: jsonl }
  bad: { type: file, inputs: [parse.errors], path: out10/bad.log, format: raw }
  dead: { type: dlq, inputs: [parse.failed], path: out10/dlq.jsonl }
EOF
timeout 60 "$SLUICE" run j.yaml "${eal[@]}" >out10.txt 2>err10.txt
tap_is "$?" 0 "json_parse with isolation: process validates and runs"
[ -f out10/good.jsonl ] && python3 -c '
import json
for l in open("out10/good.jsonl"):
    r = json.loads(l)
    print(r["i"], r["s"])' >j_good.got && cmp -s j_good.got j_good.want && cmp -s out10/bad.log j_bad.want &&
	[ ! -s out10/dlq.jsonl ]
tap_ok $? "its records and its errors are what Python makes of the lines, none failed"

# 10: route `mode: all` in a sandbox: an event matching two routes is one mbuf emitted on
# both (its reference count raised); the proxy once took that for garbage, and after five
# such "failures" its breaker sent nearly everything to `failed`.
python3 - <<'EOF'
import json
with open("r.jsonl", "w") as f, open("r.want", "w") as w:
    small, even, rest = [], [], []
    for i in range(1000):
        n = i % 10
        f.write(json.dumps({"i": i, "n": n}) + "\n")
        if n < 5: small.append(i)
        if n % 2 == 0: even.append(i)
        if not (n < 5 or n % 2 == 0): rest.append(i)
    for name, l in (("small", small), ("even", even), ("rest", rest)):
        w.write("%s %s\n" % (name, " ".join(map(str, l))))
EOF
cat >r.yaml <<'EOF'
sources:
  in: { type: file, path: r.jsonl }
stages:
  parse: { use: json_parse, inputs: [in] }
  rt:
    use: route
    inputs: [parse]
    mode: all
    isolation: process
    routes:
      small: "n < 5"
      even: "n % 2 == 0"
sinks:
  small: { type: file, inputs: [rt.small], path: out11/small.jsonl, format: jsonl }
  even: { type: file, inputs: [rt.even], path: out11/even.jsonl, format: jsonl }
  rest: { type: file, inputs: [rt._unmatched], path: out11/rest.jsonl, format: jsonl }
  dead: { type: dlq, inputs: [rt.failed], path: out11/dlq.jsonl }
EOF
timeout 60 "$SLUICE" run r.yaml "${eal[@]}" >out11.txt 2>err11.txt
tap_is "$?" 0 "route mode: all with isolation: process runs"
for k in small even rest; do
	printf '%s ' "$k"
	python3 -c 'import json, sys; print(" ".join(str(json.loads(l)["i"]) for l in open(sys.argv[1])))' "out11/$k.jsonl" 2>&1
done >r.got
cmp -s r.got r.want && [ ! -s out11/dlq.jsonl ]
tap_ok $? "each output holds what Python routes there (500, 500, 200), nothing failed $(wc -l <out11/dlq.jsonl 2>/dev/null)"

# 11: records through crash_on: the error record once overwrote the event's record, so a
# record without raw bytes (after redact, or made by a stage) left nothing in the DLQ.
python3 - <<'EOF'
import json
with open("k.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"i": i, "tag": "BOOM" if i in (10, 150) else "ok",
                            "nested": {"a": i * 2, "s": "x" * (i % 40)}}) + "\n")
EOF
cat >k.yaml <<'EOF'
plugins: [build/plugins/testing/crash_on.so]
sources:
  in: { type: file, path: k.jsonl }
stages:
  parse: { use: json_parse, inputs: [in], flatten: false }
  risky: { use: crash_on, inputs: [parse], marker: "BOOM", isolation: process }
sinks:
  kept: { type: file, inputs: [risky], path: out12/kept.jsonl, format: jsonl }
  dead: { type: dlq, inputs: [risky.failed], path: out12/dlq.jsonl }
EOF
timeout 60 "$SLUICE" run k.yaml "${eal[@]}" >out12.txt 2>err12.txt
python3 - <<'EOF' >k.out 2>&1
import json
lines = [l.rstrip("\n") for l in open("k.jsonl")]
want = [json.loads(l) for l in lines if "BOOM" in l]
rows = [json.loads(l) for l in open("out12/dlq.jsonl")]
got = [r["record"].get("event") for r in rows]
assert got == want, (got, want)
assert [r["record"]["error"] for r in rows] == ["stage_crash"] * 2, rows
assert [r["raw"] for r in rows] == [l for l in lines if "BOOM" in l], rows
assert sum(1 for _ in open("out12/kept.jsonl")) == 298
EOF
tap_ok $? "a crashing record's dead letter holds its record as record.event, as Python reads the line $(head -c 300 k.out)"

# 12: a stage that neither emits nor drops the marked events, in process: the runtime once
# counted nothing, and in = out + dropped + in_flight failed for the node.
sed -e 's/crash_on/garbage_on/g' -e 's/, isolation: process/, garbage: forget/' \
	-e 's#out/#out13/#g' p.yaml >f.yaml
timeout 60 "$SLUICE" run f.yaml --stats-json f.json "${eal[@]}" >out13.txt 2>err13.txt
tap_is "$?" 0 "garbage_on forget in process: the run ends normally"
python3 - "$(wc -l <dead.want)" <<'EOF' >f.out 2>&1
import json, sys
lost = int(sys.argv[1])
n = {x["name"]: x for x in json.load(open("f.json"))["nodes"]}["risky"]
assert n["dropped"].get("lost") == lost, n
assert n["in"] + n["generated"] == n["out"] + sum(n["dropped"].values()) + n["in_flight"], n
EOF
[ $? -eq 0 ] && cmp -s out13/kept.log kept.want && grep -q "neither emitted nor dropped" err13.txt
tap_ok $? "the forgotten events are counted as dropped (lost), conservation holds, it is logged $(head -c 300 f.out)"
tap_done
