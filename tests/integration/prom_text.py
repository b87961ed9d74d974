"""A strict reader of the Prometheus text format 0.0.4, for the /metrics tests.

Usage: prom_text.py PAGE [SAMPLES.json]. Prints one line per problem and exits 1 when
there is any; with SAMPLES.json, writes every sample as [name, {label: value}, value]
(values as Python floats; NaN and infinities as the strings "NaN", "+Inf", "-Inf").

What it refuses, after the format's own grammar (prometheus.io, "Exposition formats"):
a page that is not UTF-8 or lacks its final newline; a HELP or TYPE line given twice for
one name, or after that name's samples; a family whose samples are split by another;
HELP text with an escape other than \\\\ and \\n; label values with an escape other than
\\\\, \\" and \\n; a label name twice in one sample; one series (name and label set) twice;
a value that Go's ParseFloat would take but the format does not spell that way (nan, inf,
-nan: the format writes NaN, +Inf, -Inf).
"""
import json
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def unescape(s, allowed):
    """s with its escapes resolved; raises ValueError on one not in allowed."""
    out, i = [], 0
    while i < len(s):
        if s[i] != "\\":
            out.append(s[i])
            i += 1
            continue
        nx = s[i + 1 : i + 2]
        if nx not in allowed:
            raise ValueError("escape \\%s" % nx)
        out.append("\n" if nx == "n" else nx)
        i += 2
    return "".join(out)


def value(v):
    if v in ("NaN", "+Inf", "-Inf"):
        return v
    if not NUMBER.fullmatch(v):
        raise ValueError("value %r is not a number as the format spells it" % v)
    return float(v)


def labels(line, i):
    """The label set starting after '{' at i: (dict, index after '}')."""
    got = {}
    while True:
        if line[i : i + 1] == "}":
            return got, i + 1
        m = LABEL.match(line, i)
        if not m or line[m.end() : m.end() + 2] != '="':
            raise ValueError("bad label at column %d" % i)
        name, i, raw = m.group(0), m.end() + 2, []
        while i < len(line) and line[i] != '"':
            raw.append(line[i : i + 2] if line[i] == "\\" else line[i])
            i += 2 if line[i] == "\\" else 1
        if i >= len(line):
            raise ValueError("unterminated label value")
        if name in got:
            raise ValueError("label %s twice" % name)
        got[name] = unescape("".join(raw), ("\\", '"', "n"))
        i += 1
        if line[i : i + 1] == ",":
            i += 1
        elif line[i : i + 1] != "}":
            raise ValueError("expected ',' or '}' at column %d" % i)


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_sum", "_count", "_bucket"):
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return name


def check(raw):
    errors, samples = [], []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return ["page is not UTF-8: %s" % e], samples
    if not text.endswith("\n"):
        errors.append("no final newline")
    helps, types, done, series, sampled = set(), {}, set(), set(), set()
    current = None
    for no, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if line.startswith("#"):
                m = re.match(r"# (HELP|TYPE) (\S+)(?: (.*))?$", line)
                if not m:
                    continue
                kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
                if not NAME.fullmatch(name):
                    raise ValueError("bad metric name %r" % name)
                seen = helps if kind == "HELP" else types
                if name in seen:
                    raise ValueError("second %s for %s" % (kind, name))
                if name in done or name in sampled:
                    raise ValueError("%s for %s after its samples" % (kind, name))
                if kind == "HELP":
                    helps.add(name)
                    unescape(rest, ("\\", "n"))
                else:
                    if rest not in TYPES:
                        raise ValueError("bad type %r" % rest)
                    types[name] = rest
                if current is not None and current != name:
                    done.add(current)
                current = name
                continue
            if line == "":
                continue
            m = NAME.match(line)
            if not m:
                raise ValueError("bad sample line")
            name, i, lab = m.group(0), m.end(), {}
            if line[i : i + 1] == "{":
                lab, i = labels(line, i + 1)
            parts = line[i:].split(" ")
            if parts[0] != "" or len(parts) not in (2, 3):
                raise ValueError("expected ' VALUE [TIMESTAMP]'")
            v = value(parts[1])
            fam = family_of(name, types)
            if fam in done:
                raise ValueError("family %s split by another" % fam)
            if current is not None and current != fam:
                done.add(current)
            current = fam
            key = (name, tuple(sorted(lab.items())))
            if key in series:
                raise ValueError("series %s%s twice" % (name, lab))
            series.add(key)
            sampled.add(fam)
            samples.append([name, lab, v])
        except ValueError as e:
            errors.append("line %d: %s: %r" % (no, e, line[:200]))
    return errors, samples


if __name__ == "__main__":
    errs, got = check(open(sys.argv[1], "rb").read())
    for e in errs:
        print(e)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump(got, f)
    sys.exit(1 if errs else 0)
