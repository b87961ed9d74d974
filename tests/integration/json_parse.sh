#!/usr/bin/env bash
# json_parse against Python's json module: 20,000 generated JSON lines (nested objects
# and arrays, every escape, surrogate pairs, raw UTF-8, integers past int64 and uint64,
# floats in every notation, odd spacing) of which about 15% are malformed (cut short,
# trailing commas, bad escapes, raw control bytes, invalid UTF-8, not an object, trailing
# bytes, single quotes, 33 levels deep). Two json_parse stages read the same file (one
# flattening, one keeping maps); their records, error records and raw bad lines are
# compared in order with what json.loads makes of each line, flattened in Python, its
# error positions turned into byte offsets.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/parser_lib.sh"
tap_need_sluice
tap_plan 4
tap_tmpdir
cd "$TMP" || exit 1

python3 - <<'EOF'
import json, random
r = random.Random(5)

def rstr():
    pool = ["a", "b", "key", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "é", "€",
            "😀", "\u2028", "x.y", "\ud7ff", "\ue000", "\uffff", "0"]
    return "".join(r.choice(pool) for _ in range(r.randint(0, 6)))

def rnum():
    k = r.randint(0, 9)
    if k == 0: return str(r.randint(-2**70, 2**70))
    if k == 1: return str(r.choice([2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, -2**63 - 1, 0]))
    if k == 2: return repr(r.uniform(-1e6, 1e6))
    if k == 3: return "%de%d" % (r.randint(-99, 99), r.randint(-300, 300))
    if k == 4: return "%d.%dE+%d" % (r.randint(0, 9), r.randint(0, 999), r.randint(0, 20))
    if k == 5: return repr(r.random() * 10 ** r.randint(-320, 300))
    if k == 6: return "-0.0"
    return str(r.randint(-1000, 1000))

def rval(depth):
    k = r.randint(0, 9 if depth < 4 else 5)
    if k <= 1: return json.dumps(rstr(), ensure_ascii=r.random() < 0.5)
    if k <= 3: return rnum()
    if k == 4: return r.choice(["true", "false", "null"])
    if k == 5: return json.dumps(rstr())
    if k <= 7: return robj(depth + 1)
    return rarr(depth + 1)

def rarr(depth):
    return "[" + ",".join(sp() + rval(depth) + sp() for _ in range(r.randint(0, 3))) + "]"

def sp():
    return r.choice(["", "", "", " ", "\t", "  ", "\r"])

def robj(depth):
    items = []
    for _ in range(r.randint(0, 4)):
        items.append(sp() + json.dumps(rstr(), ensure_ascii=r.random() < 0.5) + sp() + ":" + sp() + rval(depth) + sp())
    return "{" + ",".join(items) + "}"

def deep(n, arr):
    inner = "1"
    for _ in range(n - 1):
        inner = ("[" + inner + "]") if arr else ('{"k":' + inner + "}")
    return '{"top":' + inner + "}"

out = open("in.log", "wb")
for i in range(20000):
    line = (sp() + robj(1) + sp()).encode()
    k = r.random()
    if k < 0.04:
        line = line[: r.randint(0, len(line))]
    elif k < 0.05:
        line = b'{"a":1,}'
    elif k < 0.06:
        line = b'{"a":"x\\' + r.choice([b"q", b"x", b"u12g4", b"'", b"U0041"]) + b'"}'
    elif k < 0.07:
        line = b'{"a":"x' + bytes([r.choice([c for c in range(32) if c != 10])]) + b'"}'
    elif k < 0.08:
        line = b'{"a":"x' + r.choice([b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"]) + b'y"}'
    elif k < 0.09:
        line = r.choice([b"", b"  ", b"[1,2]", b"42", b'"s"', b"null", b"x"])
    elif k < 0.10:
        line = line + r.choice([b" x", b"{}", b"}", b",", b" 1"])
    elif k < 0.11:
        line = b"{'a':1}"
    elif k < 0.12:
        line = deep(r.choice([32, 33, 34]), r.random() < 0.5).encode()
    elif k < 0.13:
        line = b'{"a":' + r.choice([b"tru", b"-", b"01", b"1.", b".5", b"+1", b"1e", b"[1,]", b"[1 2]", b'{"b" 1}']) + b"}"
    assert b"\n" not in line
    out.write(line + b"\n")
EOF

parser_pipeline 'flat=use: json_parse' 'nested=use: json_parse, flatten: false'
parser_run flat nested

cat >ref.py <<'EOF'
"""Reference: Python's json module, then flattening in Python (independent of Sluice)."""
import json, re, sys
sys.path.insert(0, sys.argv[1])
import parser_check as pc

FLAT = sys.argv[2] == "flat"
WS = b" \t\r\n"

class Reject(Exception):
    pass

def reject_constant(name):
    raise Reject(name)

def typed(v):
    """Python's numbers as the stage types them: ints beyond int64/uint64 become floats."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v if -2**63 <= v <= 2**64 - 1 else float(v)
    if isinstance(v, pc.Obj):
        return pc.Obj((k, typed(x)) for k, x in v)
    if isinstance(v, list):
        return [typed(x) for x in v]
    return v

def depth_error(line):
    """Offset of the first '{' or '[' at nesting level 33 (outside strings), or None."""
    depth, in_str, esc = 0, False, False
    for i, c in enumerate(line):
        if in_str:
            if esc: esc = False
            elif c == 0x5C: esc = True
            elif c == 0x22: in_str = False
        elif c == 0x22: in_str = True
        elif c in b"{[":
            depth += 1
            if depth > 32: return i
        elif c in b"}]": depth -= 1
    return None

def flatten(pairs, prefix, out):
    for k, v in pairs:
        key = k if prefix is None else prefix + "." + k
        if isinstance(v, pc.Obj) and v:
            flatten(v, key, out)
        else:
            out.append((key, v))
    return out

REASONS = [("Expecting", "bad_syntax"), ("Unterminated string", "bad_string"),
           ("Invalid control character", "bad_string"), ("Invalid \\escape", "bad_escape"),
           ("Invalid \\uXXXX escape", "bad_escape"), ("Extra data", "trailing")]

ESC = re.compile(rb"\\(u[0-9a-fA-F]{4}|.?)", re.S)

def surrogate_error(line):
    """The stage refuses lone surrogates (Python keeps them): the offset of the first
    \\uD800-\\uDBFF escape not followed at once by a \\uDC00-\\uDFFF one, or of a lone
    \\uDC00-\\uDFFF escape; None when there is none."""
    ms = list(ESC.finditer(line))
    i = 0
    while i < len(ms):
        g = ms[i].group(1)
        v = int(g[1:], 16) if len(g) == 5 else -1
        if 0xDC00 <= v <= 0xDFFF:
            return ms[i].start()
        if 0xD800 <= v <= 0xDBFF:
            n = ms[i + 1] if i + 1 < len(ms) else None
            if (n and n.start() == ms[i].end() and len(n.group(1)) == 5
                    and 0xDC00 <= int(n.group(1)[1:], 16) <= 0xDFFF):
                i += 2
                continue
            return ms[i].start()
        i += 1
    return None

def python_error(s):
    """(reason, byte offset, where it is found) from json.loads, or None."""
    try:
        json.loads(s, object_pairs_hook=pc.Obj, parse_constant=reject_constant)
        return None
    except json.JSONDecodeError as e:
        if e.msg.startswith("Invalid \\uXXXX") and e.pos + 5 == len(s):
            # Python wants a byte after \\uXXXX; at the very end the string is simply
            # unterminated, which one more (blank) byte makes it say
            return python_error(s + " ")
        off = len(s[: e.pos].encode())
        for prefix, reason in REASONS:
            if e.msg.startswith(prefix):
                # Python names the 'u' of a bad \\uXXXX; the stage names its backslash.
                # An unterminated string names its quote but is only found at the end.
                off -= "uXXXX" in e.msg
                return (reason, off, len(s.encode()) if "Unterminated" in e.msg else off)
        raise

def ref(line):
    i = 0
    while i < len(line) and line[i] in WS:
        i += 1
    if i == len(line) or line[i] != 0x7B:
        return ("error", "not_object", i)
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return ("error", "bad_utf8", e.start)
    err = python_error(s)
    sur = surrogate_error(line)
    if sur is not None and (err is None or sur < err[2]):
        return ("error", "bad_escape", sur)
    if err:
        return ("error", err[0], err[1])
    v = json.loads(s, object_pairs_hook=pc.Obj)
    d = depth_error(line)
    if d is not None:
        return ("error", "too_deep", d)
    v = typed(v)
    return ("ok", flatten(v, None, []) if FLAT else list(v))

pc.main(ref, sys.argv[3:])
EOF
parser_compare flat flat \
	"flattening: records, error reasons and offsets, raw bad lines equal Python's json"
parser_compare nested nested "flatten: false: the same with nested maps"
parser_conserve
tap_done
