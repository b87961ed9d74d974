#!/usr/bin/env bash
# logfmt_parse against a Python logfmt reader written from the documented rules, with
# quoted values decoded by Python's json module: 20,000 generated lines (numbers of every
# kind, words, URLs holding '=', quoted values with every escape and raw UTF-8 or bytes
# that are not UTF-8, bare keys, empty values, runs of blanks) of which about 12% are
# malformed (a pair starting with '=', '"' in a key, an unterminated quote, bytes after a
# closing quote, a bad escape, '"' or a control byte in a value, blank lines). Two stages
# read the same file, typed (the default) and `typed: false`; records, error records and
# raw bad lines are compared in order.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/parser_lib.sh"
tap_need_sluice
tap_plan 4
tap_tmpdir
cd "$TMP" || exit 1

python3 - <<'EOF'
import json, random
r = random.Random(11)
KEYS = [b"level", b"msg", b"n", b"a.b", b"x-y", b"\xc3\xa9t\xc3\xa9", b"k\xff", b"url", b"t",
        b"id", b"path[0]", b"dur_ms"]

def value():
    k = r.randint(0, 13)
    if k == 0: return b"=" + str(r.randint(-10**6, 10**6)).encode()
    if k == 1: return b"=" + repr(r.uniform(-1e5, 1e5)).encode()
    if k == 2: return b"=" + r.choice([b"1e5", b"-0.5E-3", b"007", b"1.2.3", b"18446744073709551616", b"9223372036854775808", b"-0", b"1e400", b"0x10", b".5"])
    if k == 3: return b"=" + r.choice([b"true", b"false", b"null", b"info", b"GET", b"\xe9t\xe9"])
    if k == 4: return b"=/x?a=b&c=" + str(r.randint(0, 99)).encode()
    if k == 5: return b""
    if k == 6: return b"="
    if k <= 9:
        s = "".join(r.choice(["a", " ", "\"", "\\", "/", "\n", "\t", "é", "😀", "=", "\x01", "x"]) for _ in range(r.randint(0, 8)))
        return b"=" + json.dumps(s, ensure_ascii=r.random() < 0.5).encode()
    if k == 10: return b'="raw \xff\xfe bytes"'
    if k == 11: return b'="' + r.choice([b"42", b"true", b"", b"a b"]) + b'"'
    return b"=" + str(r.randint(0, 9)).encode()

def blanks():
    return r.choice([b" ", b" ", b"  ", b"\t", b" \t "])

out = open("in.log", "wb")
for i in range(20000):
    pairs = [r.choice(KEYS) + value() for _ in range(r.randint(1, 6))]
    line = r.choice([b"", b" "]) + b"".join(p + blanks() for p in pairs[:-1]) + pairs[-1]
    k = r.random()
    if k < 0.015: line = line + b" =x"
    elif k < 0.03: line = b'ke"y=1 ' + line
    elif k < 0.045: line = line + b' q="unterminated' + r.choice([b"", b"\\u00e9", b"\\", b"\\\"", b" x"])
    elif k < 0.06: line = line + b' q="x"' + r.choice([b"y", b'"', b"="])
    elif k < 0.075: line = line + b' q="a\\' + r.choice([b"q", b"x", b"u12g4", b"'"]) + b'"'
    elif k < 0.09: line = line + b" v=a" + r.choice([b'"b', b"\x01", b"\x7f", b"\x1f"])
    elif k < 0.10: line = line + b' q="a' + bytes([r.choice([1, 9, 13, 31])]) + b'"'
    elif k < 0.11: line = b" \t " * r.randint(1, 3)
    elif k < 0.12: line = bytes([r.choice([1, 0x7f])]) + b"k=1"
    assert b"\n" not in line
    out.write(line + b"\n")
EOF

parser_pipeline 'typed=use: logfmt_parse' 'plain=use: logfmt_parse, typed: false'
parser_run typed plain

cat >ref.py <<'EOF'
"""Reference logfmt reader: a byte-at-a-time scanner written from docs/stages.md, quoted
values decoded by Python's json module (raw_decode), numbers by json.loads."""
import json, re, sys
sys.path.insert(0, sys.argv[1])
import parser_check as pc

TYPED = sys.argv[2] == "typed"
BLANK = b" \t"
NUMBER = re.compile(rb"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
DEC = json.JSONDecoder()

def quoted(line, q):
    """Decode the quoted value at q: (value bytes, end) or (reason, offset)."""
    s = line[q:].decode("utf-8", errors="surrogateescape")
    def off(i):
        return q + len(s[:i].encode("utf-8", errors="surrogateescape"))
    try:
        v, end = DEC.raw_decode(s)
    except json.JSONDecodeError as e:
        if e.msg.startswith("Invalid \\uXXXX") and e.pos + 5 == len(s):
            return ("bad_quote", q)  # Python wants one byte more; it is unterminated
        if e.msg.startswith("Unterminated"):
            return ("bad_quote", off(e.pos))
        if e.msg.startswith("Invalid control"):
            return ("bad_value", off(e.pos))
        if e.msg.startswith("Invalid \\uXXXX"):
            return ("bad_escape", off(e.pos) - 1)
        if e.msg.startswith("Invalid \\escape"):
            return ("bad_escape", off(e.pos))
        raise
    return (v.encode("utf-8", errors="surrogateescape"), off(end))

def bare(v):
    if TYPED and NUMBER.match(v):
        x = json.loads(v)
        if isinstance(x, int):
            return x if -2**63 <= x <= 2**64 - 1 else float(x)
        if x not in (float("inf"), float("-inf")):
            return x
    if TYPED and v in (b"true", b"false"):
        return v == b"true"
    return v

def ref(line):
    out, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in BLANK:
            i += 1
        if i == n:
            break
        k = i
        while i < n and line[i] > 0x20 and line[i] not in b'="' and line[i] != 0x7F:
            i += 1
        if i == k or (i < n and line[i] not in BLANK and line[i] != 0x3D):
            return ("error", "bad_key", i)
        key = line[k:i]
        if i == n or line[i] != 0x3D:
            out.append((key, True))
            continue
        i += 1
        if i < n and line[i] == 0x22:
            got = quoted(line, i)
            if isinstance(got[0], str):
                return ("error",) + got
            v, i = got
            if i < n and line[i] not in BLANK:
                return ("error", "bad_quote", i)
            out.append((key, v))
            continue
        v = i
        while i < n and line[i] not in BLANK and line[i] >= 0x20 and line[i] not in b'"\x7f':
            i += 1
        if i < n and line[i] not in BLANK:
            return ("error", "bad_value", i)
        out.append((key, bare(line[v:i])))
    if not out:
        return ("error", "empty", n)
    return ("ok", out)

pc.main(ref, sys.argv[3:])
EOF
parser_compare typed typed \
	"typed: records, error reasons and offsets, raw bad lines equal the Python reader's"
parser_compare plain plain "typed: false: the same with every value a string"
parser_conserve
tap_done
