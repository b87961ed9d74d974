#!/usr/bin/env python3
"""Checks on the files `sluice run` writes, for tests/integration/*.sh (Python json only).

  check_stats.py conserve STATS.json [--allow-in-flight]
      Every stage and sink must satisfy in + generated = out + sum(dropped) + in_flight,
      with in_flight 0 (unless allowed); every node must carry the documented fields.
      Prints one line per problem and exits 1 when there is any.
  check_stats.py get STATS.json NODE FIELD [REASON]
      Print one counter (dropped needs REASON; a missing reason prints 0).
  check_stats.py total STATS.json ROLE FIELD
      Print the sum of FIELD over the nodes of ROLE (source|stage|sink).
  check_stats.py counts JSONL KEY
      Read records {"KEY": v, "count": n} (one per line) and print "v n" sorted by v;
      exits 1 when a line is not such an object or a key repeats.
"""

import json
import sys

FIELDS = ["name", "role", "kind", "in", "out", "generated", "dropped", "in_flight",
          "queued", "pending", "replicas", "busy_cycles"]


def load(path):
    with open(path) as f:
        return json.load(f)


def conserve(path, allow_in_flight=False):
    problems = []
    try:
        st = load(path)
    except (OSError, ValueError) as e:
        print("%s: cannot read stats: %s" % (path, e))
        return 1
    if not isinstance(st.get("elapsed_s"), (int, float)):
        problems.append("elapsed_s missing or not a number")
    nodes = st.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        problems.append("nodes missing or empty")
        nodes = []
    for n in nodes:
        name = n.get("name", "?")
        missing = [k for k in FIELDS if k not in n]
        if missing:
            problems.append("%s: missing fields %s" % (name, ",".join(missing)))
            continue
        if n["role"] not in ("source", "stage", "sink"):
            problems.append("%s: bad role %r" % (name, n["role"]))
        if not isinstance(n["dropped"], dict):
            problems.append("%s: dropped is not an object" % name)
            continue
        for k in ("in", "out", "generated", "in_flight", "queued", "pending", "replicas",
                  "busy_cycles"):
            if not isinstance(n[k], int) or n[k] < 0:
                problems.append("%s: %s=%r is not a non-negative integer" % (name, k, n[k]))
        # Events left in a node's input rings or held for a full ring after a clean end
        # were lost between nodes.
        for k in ("queued", "pending"):
            if n[k] != 0 and not allow_in_flight:
                problems.append("%s: %s %d after a clean end" % (name, k, n[k]))
        if n["role"] == "source":
            continue
        # ring_full drops happen on the input edge, before `in` counts an event.
        dropped = sum(v for k, v in n["dropped"].items() if k != "ring_full")
        lhs = n["in"] + n["generated"]
        rhs = n["out"] + dropped + n["in_flight"]
        if lhs != rhs:
            problems.append("%s: in %d + generated %d != out %d + dropped %d + in_flight %d"
                            % (name, n["in"], n["generated"], n["out"], dropped,
                               n["in_flight"]))
        if n["in_flight"] != 0 and not allow_in_flight:
            problems.append("%s: in_flight %d after a clean end" % (name, n["in_flight"]))
    for p in problems:
        print(p)
    return 1 if problems else 0


def node(st, name):
    for n in st["nodes"]:
        if n["name"] == name:
            return n
    raise SystemExit("no node %r in stats" % name)


def counts(path, key):
    seen = {}
    bad = 0
    try:
        f = open(path, "rb")
    except OSError as e:
        print("%s: %s" % (path, e.strerror), file=sys.stderr)
        return 1
    with f:
        for i, raw in enumerate(f, 1):
            try:
                o = json.loads(raw)
            except ValueError:
                print("%s:%d: not JSON: %r" % (path, i, raw[:200]), file=sys.stderr)
                bad += 1
                continue
            if not isinstance(o, dict) or set(o) != {key, "count"}:
                print("%s:%d: expected keys {%s, count}: %r" % (path, i, key, o),
                      file=sys.stderr)
                bad += 1
                continue
            v = o[key]
            if v in seen:
                print("%s:%d: %s=%r repeated" % (path, i, key, v), file=sys.stderr)
                bad += 1
            seen[v] = o["count"]
    for v in sorted(seen, key=lambda x: (str(type(x)), x)):
        print(v, seen[v])
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "conserve":
        return conserve(argv[1], "--allow-in-flight" in argv[2:])
    if len(argv) in (4, 5) and argv[0] == "get":
        n = node(load(argv[1]), argv[2])
        v = n[argv[3]]
        if argv[3] == "dropped":
            v = v.get(argv[4], 0) if len(argv) == 5 else sum(v.values())
        print(v)
        return 0
    if len(argv) == 4 and argv[0] == "total":
        print(sum(n[argv[3]] for n in load(argv[1])["nodes"] if n["role"] == argv[2]))
        return 0
    if len(argv) == 3 and argv[0] == "counts":
        return counts(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
