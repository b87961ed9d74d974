#!/usr/bin/env bash
# route with several `path matches RE` routes: Hyperscan (one scan for all of them, when
# built with it) gives the same outputs, byte for byte, as PCRE2 route by route
# (hyperscan: false), in mode first and mode all, with a non-regex route mixed in; both
# equal Python's re over the same records; a pattern Hyperscan refuses (a backreference)
# leaves every route to PCRE2, with the same results.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 7
tap_tmpdir
cd "$TMP"

python3 - <<'PY'
import json, random
r = random.Random(11)
parts = ["api", "v1", "v22", "users", "login", "LOGIN", "x.php", "aa", "aaa", "b", "", "%41",
         "static", "img.png", "Login", "admin", "..", "a.b"]
with open("in.log", "w") as f:
    for i in range(20000):
        path = "/" + "/".join(r.choice(parts) for _ in range(r.randrange(0, 5)))
        rec = {"i": i, "path": path, "status": r.choice([200, 404, 500, 503])}
        if i % 97 == 0:
            rec["path"] = 12345          # not a string: matches nothing
        if i % 89 == 0:
            del rec["path"]              # missing: matches nothing
        f.write(json.dumps(rec) + "\n")
PY

ROUTES='{ api: "path matches '"'"'^/api/v[0-9]+/'"'"'", server: "status >= 500", php: "path matches '"'"'\\.php$'"'"'", login: "path matches '"'"'(?i)/login'"'"'", twoa: "path matches '"'"'a{2,}'"'"'", any: "path matches '"'"'x*'"'"'" }'
# pipeline NAME MODE HYPERSCAN [ROUTES]
pipeline() {
	local routes=${4:-$ROUTES}
	cat >"$1.yaml" <<YAML
sources:
  in: { type: file, path: in.log }
stages:
  parse: { use: json_parse, inputs: [in] }
  r: { use: route, inputs: [parse], mode: $2, hyperscan: $3, routes: $routes }
sinks:
YAML
	for o in api server php login twoa any back _unmatched; do
		grep -q "$o:" <<<"$routes" || [ "$o" = _unmatched ] || continue
		echo "  s$o: { type: file, inputs: [r.$o], path: $1.$o.jsonl, format: jsonl }" >>"$1.yaml"
	done
	timeout 60 "$SLUICE" run "$1.yaml" -q --stats-json "$1.stats" >"$1.out" 2>&1
}
ok=0
for mode in first all; do
	pipeline hs-$mode $mode true && pipeline pc-$mode $mode false || ok=1
done
tap_is "$ok" 0 "four pipelines (first/all x hyperscan/PCRE2) run"

python3 - <<'PY' >check.out
import json, re
recs = [json.loads(l) for l in open("in.log")]
pats = [("api", r"^/api/v[0-9]+/"), ("server", None), ("php", r"\.php$"),
        ("login", r"(?i)/login"), ("twoa", r"a{2,}"), ("any", r"x*")]
def hit(name, pat, r):
    if pat is None:
        return r["status"] >= 500
    return isinstance(r.get("path"), str) and re.search(pat, r["path"]) is not None
for mode in ("first", "all"):
    want = {n: [] for n, _ in pats}
    want["_unmatched"] = []
    for r in recs:
        got = [n for n, p in pats if hit(n, p, r)]
        if mode == "first":
            got = got[:1]
        for n in got or ["_unmatched"]:
            want[n].append(r)
    for eng in ("hs", "pc"):
        ok = all([json.loads(l) for l in open("%s-%s.%s.jsonl" % (eng, mode, n))] == want[n]
                 for n in want)
        print(eng, mode, "yes" if ok else "no", {n: len(v) for n, v in want.items()})
    st = {n["name"]: n for n in json.load(open("hs-%s.stats" % mode))["nodes"]}
    pc = {n["name"]: n for n in json.load(open("pc-%s.stats" % mode))["nodes"]}
    scans = st["r"]["counters"]["hs_scans"]
    print("scans", mode, "yes" if scans == sum(isinstance(r.get("path"), str) for r in recs)
          and pc["r"]["counters"]["hs_scans"] == 0 else "no", scans)
PY
for mode in first all; do
	tap_is "$(grep -c "^hs $mode yes" check.out)$(grep -c "^pc $mode yes" check.out)" 11 \
		"mode $mode: Hyperscan and PCRE2 both give Python's routes ($(grep "^hs $mode" check.out | cut -d' ' -f3-))"
	same=0
	for f in hs-$mode.*.jsonl; do cmp -s "$f" "pc${f#hs}" || same=1; done
	tap_is "$same" 0 "mode $mode: Hyperscan's outputs are PCRE2's byte for byte"
done
tap_is "$(grep -c '^scans .* yes' check.out)" 2 \
	"Hyperscan scanned each string path once (hs_scans); PCRE2 pipelines none ($(grep '^scans' check.out | tr '\n' ' '))"

# A backreference: Hyperscan refuses the set, PCRE2 does every route, same answers.
BACK='{ back: "path matches '"'"'(a)\\1'"'"'", api: "path matches '"'"'^/api/'"'"'" }'
pipeline bk all true "$BACK"
rc=$?
python3 - <<'PY' >back.out
import json, re
recs = [json.loads(l) for l in open("in.log")]
def m(p, r):
    return isinstance(r.get("path"), str) and re.search(p, r["path"]) is not None
ok = ([json.loads(l) for l in open("bk.back.jsonl")] == [r for r in recs if m(r"(a)\1", r)] and
      [json.loads(l) for l in open("bk.api.jsonl")] == [r for r in recs if m(r"^/api/", r)])
st = {n["name"]: n for n in json.load(open("bk.stats"))["nodes"]}
print("back", "yes" if ok and st["r"]["counters"]["hs_scans"] == 0 else "no")
PY
tap_is "$rc$(grep -c '^back yes' back.out)" 01 \
	"a backreference Hyperscan refuses: PCRE2 does every route, Python's answers, no scan"
