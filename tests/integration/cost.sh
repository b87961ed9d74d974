#!/usr/bin/env bash
# The usage ledger and `sluice cost` (docs/scaling.md, "Ledger"): a ~2.5 s run with
# `ledger: PATH` appends a sample per node every second and a final one; the final sample
# equals the run's --stats-json; `sluice cost` prints, for the last run in the file, the
# figures Python computes from the same ledger (events, busy and held core-seconds,
# cycles per event, dollars per million events at --price); a malformed line is reported
# as PATH:LINE; a bad `ledger:` value as file:line:column.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 11
tap_tmpdir
cd "$TMP" || exit 1

cat >p.yaml <<'YAML'
ledger: run/ledger.jsonl
sources:
  lines: { type: gen, count: 50000, rate: 20000, seed: 2 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  out: { type: file, inputs: [by_status], path: run/status.jsonl, format: jsonl }
YAML
mkdir run
timeout 60 "$SLUICE" run p.yaml -q --stats-json run/first.json
tap_is "$?" 0 "first run with a ledger exits 0"
timeout 60 "$SLUICE" run p.yaml -q --stats-json run/stats.json
tap_is "$?" 0 "second run appends to the same ledger"

python3 - run/ledger.jsonl run/stats.json > check.out <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = []
for r in rows:
    if not runs or runs[-1] != r["run"]:
        runs.append(r["run"])
print("runs", "yes" if len(runs) == 2 else "no", len(runs))
last = [r for r in rows if r["run"] == runs[-1]]
names = [n["name"] for n in json.load(open(sys.argv[2]))["nodes"]]
per = {n: [r for r in last if r["node"] == n] for n in names}
print("samples", "yes" if all(len(v) >= 3 and v[-1]["final"] and not any(x["final"] for x in v[:-1])
                               for v in per.values()) else "no")
stats = {n["name"]: n for n in json.load(open(sys.argv[2]))["nodes"]}
ok = all(per[n][-1][k] == stats[n][k] for n in names
         for k in ("in", "out", "generated", "busy_cycles", "replicas"))
print("final", "yes" if ok else "no")
mono = all(a["in"] <= b["in"] and a["busy_cycles"] <= b["busy_cycles"] and a["t"] <= b["t"]
           for v in per.values() for a, b in zip(v, v[1:]))
print("monotonic", "yes" if mono else "no")
# The bill, as sluice cost should print it at $0.08 per core-hour.
price = 0.08
with open("want.txt", "w") as f:
    for n in names:
        r = per[n][-1]
        ev = r["in"] + r["generated"]
        busy = r["busy_cycles"] / r["tsc_hz"]
        held = r["replica_s"] if "replica_s" in r else r["replicas"] * max(x["t"] for x in last)
        f.write("%s %d %.6f %.3f %.1f %.7f\n" % (n, ev, busy, held, r["busy_cycles"] / ev,
                                                 busy / 3600 * price / ev * 1e6))
PY
tap_is "$(grep -c '^runs yes' check.out)" 1 "two runs in the ledger, told apart by their run id"
tap_is "$(grep -c '^samples yes' check.out)" 1 "the last run has a sample per node every second and one final sample"
tap_is "$(grep -c '^final yes' check.out)" 1 "its final sample equals --stats-json"
tap_is "$(grep -c '^monotonic yes' check.out)" 1 "samples only grow"

"$SLUICE" cost run/ledger.jsonl --price 0.08 > cost.out
awk 'NR > 2 { print $1, $5, $6, $7, $8, $9 }' cost.out > got.txt
cmp -s want.txt got.txt
tap_ok $? "sluice cost prints the last run's bill as Python computes it from the ledger"

printf '{"run":"x","t":1}\n' >> run/ledger.jsonl
"$SLUICE" cost run/ledger.jsonl > /dev/null 2> bad.err
rc=$?
n=$(wc -l < run/ledger.jsonl)
grep -q "run/ledger.jsonl:$n: not a ledger line" bad.err
tap_ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "a malformed line is reported with its line number ($(cat bad.err))"

# Names are the ledger's strings: --json escapes them again, a control character (it
# would go to the terminal in the table) makes the line not a ledger line.
python3 - q.jsonl esc.jsonl <<'PY'
import json, sys
row = {"run": 'r"1\\', "t": 2.0, "node": 'a "b" \\c', "role": "stage", "kind": "filter",
       "replicas": 1, "in": 10, "out": 10, "generated": 0, "busy_cycles": 2100,
       "tsc_hz": 2100000000}
open(sys.argv[1], "w").write(json.dumps(row) + "\n")
row["node"] = "x\x1b[2Jy"
open(sys.argv[2], "w").write(json.dumps(row) + "\n")
PY
"$SLUICE" cost q.jsonl --json > q.out
python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).read())
sys.exit(not (r["node"] == "a \"b\" \\c" and r["run"] == "r\"1\\" and r["events"] == 10))' q.out
tap_ok $? "sluice cost --json escapes quotes and backslashes in names ($(cat q.out))"
"$SLUICE" cost esc.jsonl > /dev/null 2> esc.err
rc=$?
grep -q "esc.jsonl:1: not a ledger line" esc.err
tap_ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "a name with a control character is not a ledger line"

printf 'ledger: [a, b]\nsources:\n  s: { type: gen, count: 1 }\nsinks:\n  o: { type: "null", inputs: [s] }\n' > e.yaml
"$SLUICE" validate e.yaml > e.out 2>&1
grep -q 'e.yaml:1:9: ledger: expected a file path, got a list' e.out
tap_ok $? "a bad ledger value is reported at file:line:column ($(head -1 e.out))"
