#!/usr/bin/env bash
# aggregate's quantile at the ends of the number ranges: groups of integers near 2^63 and
# of floats near DBL_MAX (json_parse -> aggregate -> jsonl). Each quantile (q 0, 0.5, 1)
# must be a number of the input's type, within the relative accuracy (error: 0.01) of
# the true quantile Python takes from the same lines, and an integer must fit int64: the
# estimate used to come out as INT64_MIN past the int64 range, and as null (infinity) for
# floats near DBL_MAX.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 2
tap_tmpdir
cd "$TMP" || exit 1

python3 - <<'PY'
import json, random
r = random.Random(11)
groups = {
    "int_top": [9223372036854775807 - r.randrange(10**15) for _ in range(50)],
    "int_high": [r.randrange(9 * 10**18, 9223372036854775807) for _ in range(50)],
    "float_max": [1.7976931348623157e308 * (1 - r.random() / 100) for _ in range(50)],
    "float_big": [1e308 * (1 + 0.79 * r.random()) for _ in range(50)],
}
with open("in.jsonl", "w") as f:
    for g, vs in groups.items():
        for v in vs:
            f.write(json.dumps({"g": g, "v": v}) + "\n")
json.dump(groups, open("groups.json", "w"))
PY
cat >p.yaml <<'YAML'
sources:
  in: { type: file, path: in.jsonl }
stages:
  p: { use: json_parse, inputs: [in] }
  a:
    use: aggregate
    inputs: [p]
    group_by: [g]
    window: all
    aggregations:
      - { name: q0, fn: quantile, field: v, q: 0 }
      - { name: q50, fn: quantile, field: v, q: 0.5 }
      - { name: q100, fn: quantile, field: v, q: 1 }
sinks:
  o: { type: file, inputs: [a], path: out.jsonl, format: jsonl }
YAML
"$SLUICE" run p.yaml -q
tap_is "$?" 0 "pipeline exits 0"
python3 - >check.out <<'PY'
import json, math
groups = json.load(open("groups.json"))
got = {r["g"]: r for r in map(json.loads, open("out.jsonl"))}
bad = []
for g, vs in groups.items():
    s = sorted(vs)
    for name, q in (("q0", 0), ("q50", 0.5), ("q100", 1)):
        want = s[int(q * (len(s) - 1))]
        v = got.get(g, {}).get(name)
        ok = (isinstance(v, type(vs[0])) and not isinstance(v, bool) and math.isfinite(v)
              and abs(v - want) <= 0.01 * abs(want) * 1.000001
              and (not isinstance(v, int) or -2**63 <= v < 2**63))
        if not ok:
            bad.append("%s.%s=%r want %r" % (g, name, v, want))
print("ok" if not bad and len(got) == len(groups) else "bad " + " ".join(bad))
PY
tap_is "$(cut -d' ' -f1 check.out)" ok "quantiles near the int64 and double limits: finite, in range, within 1% ($(head -c 300 check.out))"
tap_done
