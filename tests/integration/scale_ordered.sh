#!/usr/bin/env bash
# ordered_by (docs/scaling.md): per-key order held across scale changes.
#   - an autoscaled spin stage (plugins/testing/spin.c, 12,000 TSC cycles an event) with
#     `ordered_by: key` and `scale: {min: 0, max: 2}` behind logfmt_parse, fed by a
#     followed file of `seq=N key=K` lines (16 keys; every 50th line has no key);
#   - while batches flow, the replica count is moved up and down 30 times (pins 2, 1, 2,
#     0, 1, ... via `sluice scale`), then given back to the autoscaler, which scales up
#     under a last batch and back down to zero;
#   - after SIGTERM, Python reads the output: every key's seq numbers (and those of the
#     lines without a key) are increasing in output order, every input line is there once
#     (lost 0, dup 0), and the dispatcher switched its key map at least 20 times (a
#     pin that comes while the last one still drains may skip a switch);
#   - a static `replicas: 2` stage with ordered_by keeps order on a finite file;
#   - a bad ordered_by is refused with file:line.
# The same check on a stage without ordered_by usually finds inversions (reported as a
# diagnostic only: two replicas of one ring need not overlap on a busy machine).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
SPIN=$SLUICE_BUILD/plugins/testing/spin.so
[ -f "$SPIN" ] || tap_skip_all "spin plugin not built: $SPIN"
tap_plan 9
tap_tmpdir
cd "$TMP" || exit 1
PID=
trap tap_cleanup_pid EXIT

# Python: order check of one output file; prints "inversions N lines N keys N".
cat >order.py <<'PY'
import sys
last, bad, n = {}, 0, 0
for line in open(sys.argv[1]):
    d = dict(kv.split("=", 1) for kv in line.split())
    k, s = d.get("key"), int(d["seq"])
    if k in last and s <= last[k]:
        bad += 1
    last[k] = s
    n += 1
print("inversions", bad, "lines", n, "keys", len(last))
PY

cat >p.yaml <<YAML
plugins: [$SPIN]
sources:
  in: { type: file, path: in.log, follow: true }
stages:
  parse: { use: logfmt_parse, inputs: [in] }
  work: { use: spin, inputs: [parse], spin_cycles: 12000, ordered_by: key,
          scale: { min: 0, max: 2 } }
  free: { use: spin, inputs: [parse], spin_cycles: 12000, scale: { min: 0, max: 2 } }
sinks:
  out: { type: file, inputs: [work], path: out.log, format: raw }
  fout: { type: file, inputs: [free], path: fout.log, format: raw }
YAML
: >in.log
timeout 60 "$SLUICE" run p.yaml --socket s.sock --stats-json p.json >run.out 2>run.err &
PID=$!
for _ in $(seq 1 200); do [ -S s.sock ] && break; sleep 0.05; done

SLUICE="$SLUICE" python3 - >drive.out 2>drive.err <<'PY'
import json, os, subprocess, time
S = os.environ["SLUICE"]
seq = 0

def stats():
    r = subprocess.run([S, "stats", "--json", "--node", "work", "--socket", "s.sock"],
                       capture_output=True, text=True, timeout=10)
    n = json.loads(r.stdout)["nodes"][0]
    return n["replicas"], n["in"]

def append(k):
    global seq
    with open("in.log", "a") as f:
        for _ in range(k):
            seq += 1
            if seq % 50 == 0:
                f.write("seq=%d\n" % seq)
            else:
                f.write("seq=%d key=k%d\n" % (seq, seq % 16))
    return seq

def scale(arg):
    subprocess.run([S, "scale", "work", arg, "--socket", "s.sock"], capture_output=True,
                   timeout=10)

def wait(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        rep, n = stats()
        if pred(rep, n):
            return True
        time.sleep(0.01)
    return False

out = {"seen": []}
time.sleep(0.2)
# 30 changes while batches flow: each pin waits (up to 1 s) until it holds.
pins = [2, 1, 2, 0, 1, 2, 1, 0, 2, 1] * 3
for i, k in enumerate(pins):
    append(1500)
    scale(str(k))
    wait(lambda r, n: r == k, 1)
    out["seen"].append(stats()[0])
    time.sleep(0.03)
scale("auto")
total = append(20000)
peak = 0
end = time.time() + 25
while time.time() < end:
    rep, n = stats()
    peak = max(peak, rep)
    if n >= total:
        break
    time.sleep(0.01)
out["auto_peak"] = peak
out["drained"] = n >= total
out["back_to_zero"] = wait(lambda r, n: r == 0, 5)
out["lines"] = total
print(json.dumps(out))
PY
tap_is "$?" 0 "the driver ran ($(head -c 300 drive.err))"
R=$(cat drive.out)
val() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))" "$R" "$1"; }
tap_diag "driver: $R"
kill -TERM "$PID"
wait "$PID"
RC=$?
PID=
tap_is "$RC" 0 "drained stop exits 0"
SW=$(python3 -c "
import json
print([n for n in json.load(open('p.json'))['nodes'] if n['name'] == 'work'][0]['ordered']['switches'])")
python3 -c "
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d['seen'].count(2) >= 5 and d['seen'].count(0) >= 3 and d['auto_peak'] == 2
         and d['drained'] and d['back_to_zero'] and int(sys.argv[2]) >= 20 else 1)" "$R" "$SW"
tap_ok $? "30 pins and the autoscaler moved the ordered stage up and down (to 2 and 0; $SW key map switches), all drained, back to zero"
python3 order.py out.log >order.out
tap_diag "ordered_by: $(cat order.out); without: $(python3 order.py fout.log)"
grep -q '^inversions 0 ' order.out
tap_ok $? "ordered_by: key: every key's lines (and the keyless ones) in input order"
python3 - "$(val lines)" <<'PY' >check.out
import collections, sys
n = int(sys.argv[1])
inp = collections.Counter(open("in.log").read().splitlines())
for f in ("out.log", "fout.log"):
    got = collections.Counter(open(f).read().splitlines())
    lost, dup = sum((inp - got).values()), sum((got - inp).values())
    ok = sum(inp.values()) == n and lost == 0 and dup == 0
    print(f, "lines", sum(got.values()), "expected", n, "lost", lost, "dup", dup,
          "ok" if ok else "bad")
PY
tap_diag "$(cat check.out)"
grep -q '^out.log .* ok$' check.out && grep -q '^fout.log .* ok$' check.out
tap_ok $? "every line delivered once through both stages (lost 0, dup 0)"

# Static replicas: the dispatcher's map never changes.
python3 -c "
with open('fin.log', 'w') as f:
    for i in range(1, 20001): f.write('seq=%d key=%d\n' % (i, i % 7))"
cat >q.yaml <<YAML
plugins: [$SPIN]
sources:
  in: { type: file, path: fin.log }
stages:
  parse: { use: logfmt_parse, inputs: [in] }
  work: { use: spin, inputs: [parse], spin_cycles: 3000, replicas: 2, ordered_by: key }
sinks:
  out: { type: file, inputs: [work], path: qout.log, format: raw }
YAML
timeout 60 "$SLUICE" run q.yaml -q --stats-json q.json >q.out 2>&1
tap_is "$?" 0 "replicas: 2 with ordered_by runs to the end"
python3 order.py qout.log >qorder.out
tap_diag "static: $(cat qorder.out)"
grep -q '^inversions 0 lines 20000 keys 7$' qorder.out &&
	cmp -s <(sort fin.log) <(sort qout.log)
tap_ok $? "replicas: 2, ordered_by: key: every line once, each key in order"

cat >e1.yaml <<YAML
plugins: [$SPIN]
sources:
  in: { type: gen, count: 10 }
stages:
  work: { use: spin, inputs: [in],
          ordered_by: [a, b] }
sinks:
  out: { type: "null", inputs: [work] }
YAML
"$SLUICE" validate e1.yaml >e1.out 2>&1
[ $? -ne 0 ] && grep -q "e1.yaml:6:.*ordered_by: expected a field name" e1.out
tap_ok $? "ordered_by: [a, b] is refused at its line ($(head -1 e1.out))"
sed 's/ordered_by: \[a, b\]/ordered_by: ""/' e1.yaml >e2.yaml
"$SLUICE" validate e2.yaml >e2.out 2>&1
[ $? -ne 0 ] && grep -q "e2.yaml:6:.*ordered_by: expected a field name.*empty" e2.out
tap_ok $? "an empty ordered_by is refused at its line ($(head -1 e2.out))"
tap_done
