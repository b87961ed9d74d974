#!/usr/bin/env bash
# sample, end to end on a generated nginx log (checks computed by Python over the input):
#   - by key (ip): every ip is kept whole or not at all, the kept lines are the input's
#     lines of those ips in input order, and the share of ips kept is near 1/rate;
#   - by event id: about 1/rate of the lines, the same lines on a second run, the same
#     multiset with --replicas 2, and the counters add up to the lines;
#   - projection: nginx_parse writes only `ip` for a sample by ip into a raw sink.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 9
tap_tmpdir
cd "$TMP"

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 40000 -o in.log --seed 3 >/dev/null
lines=$(wc -l < in.log)

cat > key.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: nginx_parse, inputs: [in] }
  s:     { use: sample, inputs: [parse], rate: 4, key: ip }
sinks:
  out: { type: file, inputs: [s], path: key.out, format: raw }
YAML
"$SLUICE" run key.yaml -v --stats-json key.json 2> key.err >/dev/null
tap_is "$?" 0 "sample by ip runs"
python3 - in.log key.out > key.check <<'PY'
import sys, collections
src = [l.rstrip("\n") for l in open(sys.argv[1])]
got = [l.rstrip("\n") for l in open(sys.argv[2])]
kept_ips = {l.split(" ", 1)[0] for l in got}
want = [l for l in src if l.split(" ", 1)[0] in kept_ips]
all_ips = {l.split(" ", 1)[0] for l in src}
print("whole", "yes" if got == want else "no")
n, k = len(all_ips), len(kept_ips)
sd = (n * 0.25 * 0.75) ** 0.5
print("share", "yes" if abs(k - n / 4) <= 4 * sd else "no", k, n)
PY
tap_is "$(grep -c '^whole yes' key.check)" 1 "each ip kept whole or not at all, in input order"
tap_is "$(grep -c '^share yes' key.check)" 1 "about a quarter of the ips kept ($(grep share key.check))"
grep -q 'projection: writes 1 of its 10 declared fields (ip)' key.err
tap_ok $? "nginx_parse writes only ip for it (projection)"

cat > id.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
stages:
  s: { use: sample, inputs: [in], rate: 10, seed: 5 }
sinks:
  out: { type: file, inputs: [s], path: id.out, format: raw }
YAML
"$SLUICE" run id.yaml -q --stats-json id.json
tap_is "$?" 0 "sample by event id runs"
cp id.out id.first
"$SLUICE" run id.yaml -q
cmp -s id.out id.first
tap_ok $? "a second run keeps the same lines"
"$SLUICE" run id.yaml -q --replicas 2
cmp -s <(sort id.out) <(sort id.first)
tap_ok $? "--replicas 2 keeps the same lines"
python3 - "$lines" id.first id.json > id.check <<'PY'
import sys, json
n = int(sys.argv[1])
k = sum(1 for _ in open(sys.argv[2]))
sd = (n * 0.1 * 0.9) ** 0.5
print("share", "yes" if abs(k - n / 10) <= 4 * sd else "no", k, n)
s = {x["name"]: x for x in json.load(open(sys.argv[3]))["nodes"]}["s"]
c = s["counters"]
print("counters", "yes" if c["kept"] == k and c["kept"] + c["sampled_out"] == n and s["dropped"].get("filtered", 0) == c["sampled_out"] else "no")
PY
tap_is "$(grep -c '^share yes' id.check)" 1 "about a tenth of the lines kept ($(grep share id.check))"
tap_is "$(grep -c '^counters yes' id.check)" 1 "kept + sampled_out = lines, sampled_out = filtered drops"
tap_done
