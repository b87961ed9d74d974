"""Compare a Sluice line parser's outputs with an independent Python reference.

Used by the parser integration scripts (json_parse.sh, logfmt_parse.sh, syslog_parse.sh,
regex_parse.sh). The reference is a function from one input line (bytes, no newline) to
either ("ok", [(key, value), ...]) or ("error", reason, byte_offset). check() runs it
over the input and compares, in order, with what sluice wrote: the records of the valid
lines (a jsonl file sink on the parser's default output), the error records (a jsonl sink
on `errors`) and the raw bad lines (a raw sink on `errors`). Values compare strictly: an
int is not a float, a bool is not an int, a map (Obj) is not an array, keys keep their
order and duplicates. Strings are compared as the jsonl sink writes them: bytes that are
not UTF-8 become U+0000..U+00FF, one per byte (sink_str).
"""
import collections
import json
import os
import sys


class Obj(list):
    """A JSON object as its list of (key, value) pairs, in order."""


def load_json(text):
    return json.loads(text, object_pairs_hook=Obj)


def sink_str(b):
    """The str the jsonl sink writes for the bytes b."""
    s = b.decode("utf-8", errors="surrogateescape")
    return "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in s)


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and str(a) == str(b)
    return a == b


def obj(pairs):
    """A reference record: pairs with keys and string values as the sink writes them."""
    def conv(v):
        if isinstance(v, bytes):
            return sink_str(v)
        if isinstance(v, Obj):
            return Obj((conv(k), conv(x)) for k, x in v)
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return Obj((conv(k), conv(v)) for k, v in pairs)


def canon(v):
    """A hashable form of a value that keeps its type (for unordered comparison)."""
    if isinstance(v, Obj):
        return ("O", tuple((canon(k), canon(x)) for k, x in v))
    if isinstance(v, list):
        return ("A", tuple(canon(x) for x in v))
    if isinstance(v, float):
        return ("F", repr(v))
    return (type(v).__name__, v)


def check_unordered(lines, ref, got_recs, got_errs, got_raw, problem):
    """The same comparison as multisets, for replicated stages (no order across them)."""
    want_recs, want_errs, want_raw = collections.Counter(), collections.Counter(), \
        collections.Counter()
    reasons = {}
    for line in lines:
        if not line:
            continue
        want = ref(line)
        if want[0] == "ok":
            want_recs[canon(obj(want[1]))] += 1
        else:
            reasons[want[1]] = reasons.get(want[1], 0) + 1
            want_errs[canon(Obj([("error", want[1]), ("offset", want[2])]))] += 1
            want_raw[line] += 1
    for what, want, got in (
            ("records", want_recs, collections.Counter(canon(load_json(x)) for x in got_recs)),
            ("error records", want_errs,
             collections.Counter(canon(load_json(x)) for x in got_errs)),
            ("raw bad lines", want_raw, collections.Counter(got_raw))):
        for k in (want - got):
            problem("%s: missing %r" % (what, k))
        for k in (got - want):
            problem("%s: unexpected %r" % (what, k))
    return sum(want_recs.values()), sum(want_errs.values()), reasons


def check(input_path, ref, records_path, errors_path, raw_errors_path, out=sys.stdout,
          ordered=True):
    """Returns (n_ok, n_err, reasons, n_problems); prints the first problems."""
    lines = open(input_path, "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    got_recs = open(records_path, "rb").read().splitlines()
    got_errs = open(errors_path, "rb").read().splitlines()
    got_raw = open(raw_errors_path, "rb").read().split(b"\n")
    if got_raw and got_raw[-1] == b"":
        got_raw.pop()
    problems = 0
    reasons = {}
    ir = ie = 0

    def problem(msg):
        nonlocal problems
        problems += 1
        if problems <= 8:
            print("# " + msg[:400], file=out)

    if not ordered:
        n_ok, n_err, reasons = check_unordered(lines, ref, got_recs, got_errs, got_raw,
                                               problem)
        return n_ok, n_err, reasons, problems
    for n, line in enumerate(lines, 1):
        if not line:
            continue  # the file source makes no event of an empty line
        want = ref(line)
        if want[0] == "ok":
            if ir >= len(got_recs):
                problem("line %d: no record left (want %r)" % (n, want[1]))
                continue
            got = load_json(got_recs[ir])
            ir += 1
            if not same(got, obj(want[1])):
                problem("line %d %r:\n#   got  %r\n#   want %r" % (n, line[:200], got,
                                                               obj(want[1])))
        else:
            reasons[want[1]] = reasons.get(want[1], 0) + 1
            if ie >= len(got_errs):
                problem("line %d: no error left (want %s at %d)" % (n, want[1], want[2]))
                continue
            got = load_json(got_errs[ie])
            raw = got_raw[ie] if ie < len(got_raw) else None
            ie += 1
            w = Obj([("error", want[1]), ("offset", want[2])])
            if not same(got, w):
                problem("line %d %r: got %r, want %r" % (n, line[:200], got, w))
            if raw != line:
                problem("line %d: raw error line %r, want %r" % (n, raw, line))
    if ir != len(got_recs):
        problem("%d records more than valid lines" % (len(got_recs) - ir))
    if ie != len(got_errs):
        problem("%d error records more than bad lines" % (len(got_errs) - ie))
    return ir, ie, reasons, problems


def main(ref, argv):
    """argv: input records.jsonl errors.jsonl errors.raw; exit 1 on any difference. With
    PARSER_UNORDERED=1 in the environment the outputs are compared as multisets."""
    n_ok, n_err, reasons, problems = check(argv[0], ref, argv[1], argv[2], argv[3],
                                           ordered=not os.environ.get("PARSER_UNORDERED"))
    print("# %d records, %d errors (%s), %d problems" % (
        n_ok, n_err, " ".join("%s=%d" % kv for kv in sorted(reasons.items())), problems))
    sys.exit(1 if problems else 0)
