#!/usr/bin/env bash
# syslog_parse against a Python syslog reader written from the RFCs' grammars as
# docs/stages.md states them, with timestamps computed by datetime and calendar.timegm:
# 20,000 generated lines, RFC 5424 (every field nil or not, fractions, zone offsets,
# structured data with escapes and empty elements, BOM) and RFC 3164 (space-padded days,
# tags with and without PID, no tag), about 15% malformed (PRI, timestamps that do not
# exist, empty or over-long header fields, broken structured data). Records, error records
# and raw bad lines are compared in order; RFC 3164 times use the configured year 2023.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/parser_lib.sh"
tap_need_sluice
tap_plan 3
tap_tmpdir
cd "$TMP" || exit 1

python3 - <<'EOF'
import random
r = random.Random(23)
MON = b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

def word(n=8, nil=True):
    if nil and r.random() < 0.2:
        return b"-"
    return bytes(r.choice(b"abcXYZ019.-_@:/[]=\"\\!~") for _ in range(r.randint(1, n)))

def msg():
    k = r.random()
    if k < 0.1: return b""
    body = bytes(r.choice(b"hello world :[]\"\\=\t") for _ in range(r.randint(0, 30)))
    if k < 0.2: return b"\xef\xbb\xbf" + body
    if k < 0.3: return body + "é€😀".encode() + b"\xff"
    return body

def ts5424():
    if r.random() < 0.1: return b"-"
    y, mo, d = r.randint(1970, 2038), r.randint(1, 12), r.randint(1, 28)
    s = b"%04d-%02d-%02d%s%02d:%02d:%02d" % (y, mo, d, r.choice([b"T", b"t"]), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
    if r.random() < 0.6: s += b"." + str(r.randint(0, 10**r.randint(1, 9) - 1)).zfill(r.randint(1, 9))[:9].encode()
    z = r.random()
    s += b"Z" if z < 0.4 else b"z" if z < 0.5 else b"%s%02d:%02d" % (r.choice([b"+", b"-"]), r.randint(0, 23), r.randint(0, 59))
    return s

def sd():
    if r.random() < 0.4: return b"-"
    out = b""
    for _ in range(r.randint(1, 3)):
        el = b"[" + bytes(r.choice(b"abcxyz@0123456789.") for _ in range(r.randint(1, 12)))
        for _ in range(r.randint(0, 3)):
            val = bytes(r.choice(b'ab c]=') for _ in range(r.randint(0, 6)))
            val = val.replace(b"]", r.choice([b"\\]", b"]"]))
            val += r.choice([b"", b"\\\"", b"\\\\", b"\\n", "é".encode()])
            el += b" " + bytes(r.choice(b"abcdefgh") for _ in range(r.randint(1, 6))) + b'="' + val + b'"'
        out += el + b"]"
    return out

def line5424():
    pri = b"<%d>" % r.randint(0, 191)
    l = pri + b"%d " % r.choice([1, 1, 1, 2, 999]) + ts5424() + b" " + word(20) + b" " + word(10) + b" " + word(6) + b" " + word(6) + b" " + sd()
    if r.random() < 0.7:
        l += b" " + msg()
    return l

def line3164():
    day = r.randint(1, 31)
    mo = r.randint(1, 12)
    if day > 28: mo = r.choice([1, 3, 5, 7, 8, 10, 12])
    d = (b"%2d" % day) if r.random() < 0.7 else (b"%02d" % day)
    l = b"<%d>" % r.randint(0, 191) + MON[mo - 1] + b" " + d + b" %02d:%02d:%02d " % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
    l += word(15, nil=False)
    k = r.random()
    if k < 0.1: return l
    l += b" "
    if k < 0.5: l += word(10, nil=False) + b": "
    elif k < 0.8: l += word(10, nil=False) + b"[" + str(r.randint(1, 99999)).encode() + b"]:" + r.choice([b" ", b""])
    return l + msg()

BAD = [
    lambda l: l[1:],
    lambda l: b"<192>" + l[l.index(b">") + 1:],
    lambda l: b"<0" + l[1:],
    lambda l: b"<1234>" + l[l.index(b">") + 1:],
    lambda l: l.replace(b">", b"", 1),
    lambda l: b"<13>1 2021-02-29T00:00:00Z h a p m -",
    lambda l: b"<13>1 2021-13-01T00:00:00Z h a p m -",
    lambda l: b"<13>1 2021-01-01T24:00:00Z h a p m -",
    lambda l: b"<13>1 2021-01-01 00:00:00Z h a p m -",
    lambda l: b"<13>1 2021-01-01T00:00:00.Z h a p m -",
    lambda l: b"<13>1 2021-01-01T00:00:00+0100 h a p m -",
    lambda l: b"<13>1 2021-01-01T00:00:00Zx h a p m -",
    lambda l: b"<13>1 -  a p m -",
    lambda l: b"<13>1 - h " + b"a" * 49 + b" p m -",
    lambda l: b"<13>1 - h a p " + b"m" * 33 + b" -",
    lambda l: b"<13>1 - h a p m",
    lambda l: b"<13>1 - h a p m [id a=\"b",
    lambda l: b"<13>1 - h a p m [id a=b]",
    lambda l: b"<13>1 - h a p m [id a]",
    lambda l: b"<13>1 - h a p m []",
    lambda l: b"<13>1 - h a p m [id a=\"b\"]x",
    lambda l: b"<13>1 - h a p m x",
    lambda l: b"<13>Feb 29 00:00:00 host m",
    lambda l: b"<13>Oct 32 00:00:00 host m",
    lambda l: b"<13>oct 11 00:00:00 host m",
    lambda l: b"<13>Oct 11 00:00:00  m",
    lambda l: b"<13>Oct 11 00:00:00",
    lambda l: b"<13>Oct 1 00:00:00 host m",
    lambda l: b"<13>1 - h\x01 a p m -",
]

out = open("in.log", "wb")
for i in range(20000):
    l = line5424() if r.random() < 0.5 else line3164()
    if r.random() < 0.15:
        l = r.choice(BAD)(l)
    assert b"\n" not in l
    out.write(l + b"\n")
EOF

parser_pipeline 'parse=use: syslog_parse, year: 2023'
parser_run parse

cat >ref.py <<'EOF'
"""Reference syslog reader: the RFC 5424 and RFC 3164 grammars as regular expressions and
small scanners, times by datetime and calendar.timegm."""
import calendar, datetime, re, sys
sys.path.insert(0, sys.argv[1])
import parser_check as pc

YEAR = 2023
VERSION = re.compile(rb"([1-9][0-9]{0,2}) ")
TS5424 = re.compile(rb"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                    rb"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))")
TS3164 = re.compile(rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( [0-9]|[0-9]{2}) "
                    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) ")
MONTHS = b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
PRINT = set(range(33, 127))

class Bad(Exception):
    def __init__(self, reason, at):
        self.reason, self.at = reason, at

def epoch_ns(y, mo, d, h, mi, s):
    datetime.datetime(y, mo, d, h, mi, s)  # ValueError when it does not exist
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 10**9

def field(line, p, most, reason):
    e = p
    while e < len(line) and line[e] in PRINT and e - p < most:
        e += 1
    if e == p or e == len(line) or line[e] != 0x20:
        raise Bad(reason, e)
    return line[p:e], e + 1

def sd_name(line, p):
    e = p
    while e < len(line) and line[e] in PRINT and line[e] not in b'=]"' and e - p < 32:
        e += 1
    if e == p:
        raise Bad("bad_sd", p)
    return line[p:e], e

def structured(line, p, out):
    n = len(line)
    if p < n and line[p] == 0x2D:
        return p + 1
    if p == n or line[p] != 0x5B:
        raise Bad("bad_sd", p)
    while p < n and line[p] == 0x5B:
        sid, p = sd_name(line, p + 1)
        params = 0
        while p < n and line[p] == 0x20:
            name, p = sd_name(line, p + 1)
            if line[p:p + 2] != b'="':
                raise Bad("bad_sd", p + (line[p:p + 1] == b"="))
            m = re.compile(rb'((?:\\.|[^"\\])*)"', re.S).match(line, p + 2)
            if not m:
                raise Bad("bad_sd", n)
            val = re.sub(rb'\\(["\\\]])', rb"\1", m.group(1))
            out.append((b"sd." + sid + b"." + name, val))
            p = m.end()
            params += 1
        if p == n or line[p] != 0x5D:
            raise Bad("bad_sd", p)
        if not params:
            out.append((b"sd." + sid, pc.Obj()))
        p += 1
    return p

def message(rest):
    return rest[3:] if rest.startswith(b"\xef\xbb\xbf") else rest

def rfc5424(line, p, out):
    m = VERSION.match(line, p)
    out.append(("version", int(m.group(1))))
    p = m.end()
    if line[p:p + 1] == b"-":
        p += 1
    else:
        t = TS5424.match(line, p)
        if not t:
            raise Bad("bad_timestamp", p)
        y, mo, d, h, mi, s = (int(x) for x in t.groups()[:6])
        if t.group(9) and (int(t.group(10)) > 23 or int(t.group(11)) > 59):
            raise Bad("bad_timestamp", p)
        try:
            ns = epoch_ns(y, mo, d, h, mi, s)
        except ValueError:
            raise Bad("bad_timestamp", p)
        ns += int((t.group(7) or b"0").ljust(9, b"0"))
        if t.group(9):
            sign = 1 if t.group(9) == b"+" else -1
            ns -= sign * (int(t.group(10)) * 60 + int(t.group(11))) * 60 * 10**9
        out.append(("timestamp", ns))
        p = t.end()
    if line[p:p + 1] != b" ":
        raise Bad("bad_timestamp", p)
    p += 1
    for key, most in (("hostname", 255), ("app_name", 48), ("procid", 128), ("msgid", 32)):
        v, p = field(line, p, most, "bad_" + key)
        if v != b"-":
            out.append((key, v))
    p = structured(line, p, out)
    if p < len(line) and line[p] != 0x20:
        raise Bad("bad_sd", p)
    out.append(("msg", message(line[p + 1:])))

def rfc3164(line, p, out):
    t = TS3164.match(line, p)
    if not t:
        raise Bad("bad_timestamp", p)
    try:
        ns = epoch_ns(YEAR, MONTHS.index(t.group(1)) + 1, int(t.group(2)), int(t.group(3)),
                      int(t.group(4)), int(t.group(5)))
    except ValueError:
        raise Bad("bad_timestamp", p)
    out.append(("timestamp", ns))
    p = t.end()
    h = re.compile(rb"[!-~]{1,255}").match(line, p)
    e = h.end() if h else p
    if e == p or (e < len(line) and line[e] != 0x20):
        raise Bad("bad_hostname", e)
    out.append(("hostname", line[p:e]))
    p = min(e + 1, len(line))
    tag = re.compile(rb"([!-9;-Z\\-~]{1,48})(?:\[([!-\\^-~]{1,128})\])?:( ?)").match(line, p)
    if tag:
        out.append(("app_name", tag.group(1)))
        if tag.group(2) is not None:
            out.append(("procid", tag.group(2)))
        p = tag.end()
    out.append(("msg", message(line[p:])))

def ref(line):
    out = []
    try:
        m = re.compile(rb"<([0-9]{0,3})").match(line)
        if not m:
            raise Bad("bad_pri", 0)
        if not m.group(1):
            raise Bad("bad_pri", 1)
        if line[m.end():m.end() + 1] != b">":
            raise Bad("bad_pri", m.end())
        pri = m.group(1)
        if int(pri) > 191 or (len(pri) > 1 and pri[:1] == b"0"):
            raise Bad("bad_pri", 1)
        out += [("facility", int(pri) >> 3), ("severity", int(pri) & 7)]
        p = m.end() + 1
        (rfc5424 if VERSION.match(line, p) else rfc3164)(line, p, out)
    except Bad as b:
        return ("error", b.reason, b.at)
    return ("ok", out)

pc.main(ref, sys.argv[3:])
EOF
parser_compare parse - "records, error reasons and offsets, raw bad lines equal the Python reader's"
parser_conserve
tap_done
