#!/usr/bin/env bash
# json_encode and msgpack_encode, end to end (checks by Python over the input):
#   - json_parse (flatten: false) -> json_encode -> raw sink: every line of the output is
#     a JSON object equal (json.loads) to the input line's object, in order;
#   - json_parse -> msgpack_encode -> raw sink: the output is each record's msgpack map
#     followed by the sink's '\n' (the fixint 10), decoded by a small decoder written here,
#     equal to the input line's object;
#   - a line event (no record) through json_encode is {"line": "<the line>"};
#   - lines json_parse refuses never reach the encoders; counters add up;
#   - short lines of control characters, whose JSON text (\u0001 each) outgrows a small
#     event, are all encoded (the event moves into a big buffer), as Python encodes them.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 6
tap_tmpdir
cd "$TMP"

python3 - <<'PY'
import json, random
r = random.Random(7)
words = ["a", "é", "tab\there", "quote\"q", "back\\slash", "日本", "", "x" * 300, "\u0001ctl"]
with open("in.log", "w") as f:
    for i in range(3000):
        o = {"i": i, "s": r.choice(words), "neg": -r.randrange(1 << 40),
             "f": r.choice([0.5, -1e-7, 1e300, 3.141592653589793, float(i) / 7]),
             "b": r.choice([True, False]), "n": None,
             "obj": {"k": r.choice(words), "deep": {"v": [1, 2.5, "three", None, {"x": i}]}},
             "arr": [r.randrange(1 << 62) for _ in range(r.randrange(0, 5))], "big": 2**63 - 1}
        f.write(json.dumps(o, ensure_ascii=r.random() < 0.5) + "\n")
        if i % 500 == 3:
            f.write('{"broken": \n')

PY

cat > p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: json_parse, inputs: [in], flatten: false }
  tojson: { use: json_encode, inputs: [parse] }
  tomp: { use: msgpack_encode, inputs: [parse] }
  lines: { use: json_encode, inputs: [in] }
sinks:
  j: { type: file, inputs: [tojson], path: out.json, format: raw }
  m: { type: file, inputs: [tomp], path: out.mp, format: raw }
  l: { type: file, inputs: [lines], path: out.lines, format: raw }
  bad: { type: file, inputs: [parse.errors], path: bad.log, format: raw }
YAML
timeout 60 "$SLUICE" run p.yaml -q --stats-json st.json >run.out 2>&1
rc=$?
tap_is "$rc" 0 "pipeline with json_encode and msgpack_encode exits 0"
[ "$rc" -ne 0 ] && tap_diag "$(tail -3 run.out)"

python3 - in.log out.json out.mp out.lines st.json >check.out <<'PY'
import json, struct, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
want = []
for l in lines:
    try:
        want.append(json.loads(l))
    except ValueError:
        pass

def mp(b, i):
    c = b[i]; i += 1
    if c <= 0x7f: return c, i
    if c >= 0xe0: return c - 256, i
    if 0x80 <= c <= 0x8f: return mp_map(b, i, c & 15)
    if 0x90 <= c <= 0x9f: return mp_arr(b, i, c & 15)
    if 0xa0 <= c <= 0xbf: n = c & 31; return b[i:i + n].decode(), i + n
    if c == 0xc0: return None, i
    if c == 0xc2: return False, i
    if c == 0xc3: return True, i
    if c in (0xd9, 0xda, 0xdb):
        w = {0xd9: 1, 0xda: 2, 0xdb: 4}[c]; n = int.from_bytes(b[i:i + w], "big"); i += w
        return b[i:i + n].decode(), i + n
    if c == 0xca: return struct.unpack(">f", b[i:i + 4])[0], i + 4
    if c == 0xcb: return struct.unpack(">d", b[i:i + 8])[0], i + 8
    if 0xcc <= c <= 0xcf:
        w = 1 << (c - 0xcc); return int.from_bytes(b[i:i + w], "big"), i + w
    if 0xd0 <= c <= 0xd3:
        w = 1 << (c - 0xd0); return int.from_bytes(b[i:i + w], "big", signed=True), i + w
    if c in (0xdc, 0xdd):
        w = 2 if c == 0xdc else 4; return mp_arr(b, i + w, int.from_bytes(b[i:i + w], "big"))
    if c in (0xde, 0xdf):
        w = 2 if c == 0xde else 4; return mp_map(b, i + w, int.from_bytes(b[i:i + w], "big"))
    raise ValueError("byte 0x%02x at %d" % (c, i - 1))
def mp_arr(b, i, n):
    out = []
    for _ in range(n):
        v, i = mp(b, i); out.append(v)
    return out, i
def mp_map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = mp(b, i); v, i = mp(b, i); out[k] = v
    return out, i

got_j = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
print("json", "yes" if got_j == want else "no", len(got_j), len(want))
b = open(sys.argv[3], "rb").read()
got_m, i = [], 0
try:
    while i < len(b):
        v, i = mp(b, i)
        nl, i = mp(b, i)
        assert nl == 10, "no newline after a record"
        got_m.append(v)
    ok = got_m == want
except Exception as e:
    print("decode error", e)
    ok = False
print("msgpack", "yes" if ok else "no", len(got_m), len(want))
got_l = [json.loads(l) for l in open(sys.argv[4], encoding="utf-8")]
print("lines", "yes" if got_l == [{"line": l} for l in lines] else "no", len(got_l), len(lines))
n = {x["name"]: x for x in json.load(open(sys.argv[5]))["nodes"]}
c = n["tojson"]["counters"]
ok = (c["encoded"] == len(want) and c["too_large"] == 0 and n["tomp"]["counters"]["encoded"] == len(want) and
      n["lines"]["counters"]["lines"] == len(lines) and
      n["parse"]["counters"]["parsed"] + n["parse"]["counters"]["bad_syntax"] == len(lines) and
      n["parse"]["counters"]["bad_syntax"] == len(lines) - len(want) > 0)
print("counters", "yes" if ok else "no", c, n["parse"]["counters"]["bad_syntax"])
PY
for k in json msgpack lines counters; do
	tap_is "$(grep -c "^$k yes" check.out)" 1 "$k: $(grep "^$k " check.out | head -1)"
done
grep '^decode error' check.out | while read -r l; do tap_diag "$l"; done

python3 -c "
with open('ctl.txt', 'wb') as f:
    for n in range(0, 760, 9):
        f.write(b'\x01' * n + b'x\n')"
printf 'sources:\n  in: { type: file, path: ctl.txt }\nstages:\n  e: { use: json_encode, inputs: [in] }\nsinks:\n  o: { type: file, inputs: [e], path: ctl.out, format: raw }\n' >ctl.yaml
"$SLUICE" run ctl.yaml -q
python3 -c "
import json
got = [json.loads(l) for l in open('ctl.out')]
want = [{'line': l.rstrip(b'\n').decode()} for l in open('ctl.txt', 'rb')]
print('yes' if got == want else 'no', len(got), len(want))" >ctl.check
tap_is "$(cut -d' ' -f1 ctl.check)" yes "lines whose JSON outgrows a small event are all encoded ($(cat ctl.check))"

