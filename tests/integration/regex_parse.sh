#!/usr/bin/env bash
# regex_parse against Python's re module: 20,000 generated application-log lines parsed
# with one pattern (named groups, optional groups, a lazy group) and `types` covering
# rfc3339, int, float, clf and bool; about 15% are malformed (lines the pattern does not
# match, and groups that match but are not of their type: an impossible date, an integer
# past int64, "1.2.3" as a float, an unknown month, "maybe" as a bool). Python's re runs the
# same pattern (named groups spelled (?P<name>)) and converts the groups with its own code
# (datetime, calendar.timegm, json for numbers); records, error records and raw bad lines
# are compared in order. A second pipeline checks that a pattern that does not compile
# is reported at load time with file:line:column. The run is repeated with two replicas
# (each on its own lcore, with its own match data), compared as multisets.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/parser_lib.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir
cd "$TMP" || exit 1

PATTERN='^(?<time>\S+) \[(?<level>[A-Z]+)\] (?<comp>\w+)(?:\(pid=(?<pid>-?\d+)\))?: (?<msg>.*?)(?: took (?<dur>\S+)ms)?(?: at \[(?<clf>[^\]]*)\])?(?: ok=(?<ok>\w+))?$'
printf '%s' "$PATTERN" >pattern.txt

python3 - <<'EOF'
import random
r = random.Random(31)
MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

def ts():
    k = r.random()
    if k < 0.02: return r.choice(["2021-02-29T00:00:00Z", "2021-01-01T25:00:00Z", "yesterday", "2021-01-01T00:00:00+24:00"])
    s = "%04d-%02d-%02dT%02d:%02d:%02d" % (r.randint(1970, 2200), r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
    if r.random() < 0.5: s += "." + "".join(r.choice("0123456789") for _ in range(r.randint(1, 9)))
    return s + r.choice(["Z", "+05:30", "-08:00", "z"])

def clf():
    if r.random() < 0.03: return r.choice(["10/Foo/2023:13:55:36 +0200", "31/Feb/2023:00:00:00 +0000", "10/Oct/2023:13:55:36 +2500", "10/Oct/2023:13:55:36", "1/Oct/2023:13:55:36 +0200"])
    return "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (r.randint(1, 28), r.choice(MON), r.randint(1900, 2100), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.choice("+-"), r.randint(0, 23), r.randint(0, 59))

out = open("in.log", "wb")
for i in range(20000):
    line = "%s [%s] %s" % (ts(), r.choice(["INFO", "WARN", "ERROR", "DEBUG"]), r.choice(["api", "db", "cache_2", "x"]))
    if r.random() < 0.6:
        line += "(pid=%s)" % (str(r.randint(-5, 99999)) if r.random() < 0.9 else r.choice(["9223372036854775807", "9223372036854775808", "-9223372036854775808", "007", "-0"]))
    line += ": " + r.choice(["request done", "", "é€ ünïcode", "a: b] [c", "took the bus", "ok=1 x", "\xff"])
    if r.random() < 0.6:
        line += " took %sms" % (r.choice([str(r.randint(0, 5000)), "%.3f" % r.uniform(0, 100)]) if r.random() < 0.9 else r.choice(["1e3", "1.2.3", "abc", "-0.5", "1e999", ".5"]))
    if r.random() < 0.4:
        line += " at [%s]" % clf()
    if r.random() < 0.5:
        line += " ok=%s" % r.choice(["true", "false"] * 9 + ["maybe", "1"])
    if r.random() < 0.03:
        line = r.choice(["garbage", "2021-01-01T00:00:00Z [info] x: y", "", "   ", "[INFO] api: x"])
    out.write(line.encode("utf-8", errors="surrogateescape").replace("\xff".encode(), b"\xff") + b"\n")
EOF

parser_pipeline "parse=use: regex_parse, pattern: '$PATTERN', types: [time:rfc3339, pid:int, dur:float, clf:clf, ok:bool]"
parser_run parse

cat >ref.py <<'EOF'
"""Reference: Python's re with the same pattern, groups converted by Python code."""
import calendar, datetime, json, re, sys
sys.path.insert(0, sys.argv[1])
import parser_check as pc

PATTERN = re.compile(open("pattern.txt", "rb").read().replace(b"(?<", b"(?P<"))
TYPES = {"time": "rfc3339", "pid": "int", "dur": "float", "clf": "clf", "ok": "bool"}
INT = re.compile(rb"-?(0|[1-9][0-9]*)\Z")
NUM = re.compile(rb"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
RFC3339 = re.compile(rb"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     rb"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))\Z")
CLF = re.compile(rb"([0-9]{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/([0-9]{4}):"
                 rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})\Z")
MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
          b"Nov", b"Dec"]

def ns(y, mo, d, h, mi, s, sign, oh, om):
    datetime.datetime(y, mo, d, h, mi, s)  # ValueError when it does not exist
    if oh > 23 or om > 59:
        raise ValueError
    t = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - sign * (oh * 60 + om) * 60
    return t * 10**9

def convert(kind, v):
    """The typed value, or None when v is not of the type."""
    try:
        if kind == "int":
            x = int(v) if INT.match(v) else None
            return x if x is not None and -2**63 <= x < 2**63 else None
        if kind == "float":
            x = float(json.loads(v)) if NUM.match(v) else None
            return x if x is not None and abs(x) != float("inf") else None
        if kind == "bool":
            return {b"true": True, b"false": False}.get(v)
        if kind == "rfc3339":
            m = RFC3339.match(v)
            g = m.groups()
            sign = {b"+": 1, b"-": -1, None: 0}[g[7]]
            return ns(*(int(x) for x in g[:6]), sign, int(g[8] or 0), int(g[9] or 0)) + \
                int((g[6] or b"0").ljust(9, b"0"))
        if kind == "clf":
            g = CLF.match(v).groups()
            return ns(int(g[2]), MONTHS.index(g[1]) + 1, int(g[0]), int(g[3]), int(g[4]),
                      int(g[5]), 1 if g[6] == b"+" else -1, int(g[7]), int(g[8]))
    except (AttributeError, ValueError, OverflowError):
        return None
    raise AssertionError(kind)

def ref(line):
    m = PATTERN.search(line)
    if not m:
        return ("error", "no_match", 0)
    out = []
    for name, idx in sorted(PATTERN.groupindex.items(), key=lambda kv: kv[1]):
        v = m.group(idx)
        if v is None:
            continue
        kind = TYPES.get(name)
        if kind:
            x = convert(kind, v)
            if x is None:
                return ("error", "bad_type", m.start(idx))
            v = x
        out.append((name, v))
    return ("ok", out)

pc.main(ref, sys.argv[3:])
EOF
parser_compare parse - "records, error reasons and offsets, raw bad lines equal Python's re"
parser_conserve

# Two replicas on two lcores, each matching with its own lcore's match data.
parser_run parse -- --replicas 2
PARSER_UNORDERED=1 parser_compare parse - "--replicas 2: the same, as multisets"
parser_conserve

# A pattern that does not compile: reported at load time, at the byte PCRE2 names.
cat >bad.yaml <<'EOF'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: regex_parse, inputs: [in], pattern: '^(?<ip>\S+) (?<x[a-z' }
sinks:
  out: { type: null, inputs: [parse] }
EOF
timeout 60 "$SLUICE" validate bad.yaml >validate.out 2>&1
tap_is "$?" 2 "sluice validate exits 2 on a bad pattern"
grep -q "^bad.yaml:4:70: stage 'parse' (regex_parse): pattern: " validate.out
tap_ok $? "the error names bad.yaml:4:70, the byte after '(?<x' where the name is cut"
tap_diag "$(cat validate.out)"
tap_done
