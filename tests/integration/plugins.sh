#!/usr/bin/env bash
# The ua_class plugin loaded from its .so by path: nginx_parse -> ua_class -> jsonl file.
# Every output record's ua_class must be what the documented rules give for its
# user_agent (case-insensitive substrings, first rule wins: bot/crawl/spider/slurp/curl/
# wget/python-requests -> bot; mobile/android/iphone/ipad -> mobile; windows/macintosh/
# x11/linux -> desktop; else other), computed here in Python; the per-class totals must
# equal the same classification of the user agents of the valid input lines (mawk); and
# the loader must refuse a world-writable copy of the plugin (exit 2) while accepting a
# mode-0755 copy of the same bytes in the same directory.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"
tap_need_sluice
PLUGIN=$SLUICE_BUILD/plugins/ua_class/ua_class.so
[ -f "$PLUGIN" ] || tap_skip_all "plugin not built: $PLUGIN"
tap_plan 12
tap_tmpdir

pipeline() { # $1 = plugin path
	cat <<EOF
plugins: [ $1 ]
sources:
  access: { type: file, path: access.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  ua: { use: ua_class, inputs: [parse] }
sinks:
  classified: { type: file, inputs: [ua], path: out/ua.jsonl, format: jsonl }
EOF
}

cd "$TMP" || exit 1
mkdir -p out
python3 "$TESTLIB/gen_nginx_log.py" -n 100000 -o access.log --seed 21 --bad-ratio 0.01
nginx_ref_valid access.log >valid.log
n_valid=$(wc -l <valid.log)
pipeline "$PLUGIN" >pipeline.yaml

"$SLUICE" validate pipeline.yaml >validate.out 2>&1
rc=$?
tap_is "$rc" 0 "the pipeline with the plugin validates"
[ "$rc" -ne 0 ] && tap_diag "$(head -10 validate.out)"
"$SLUICE" stages pipeline.yaml >stages.out 2>&1
grep -qw ua_class stages.out
tap_ok $? "sluice stages PIPELINE lists the plugin's ua_class"

timeout 120 "$SLUICE" run pipeline.yaml --stats-json stats.json >stdout 2>stderr
rc=$?
tap_is "$rc" 0 "sluice run exits 0"
[ "$rc" -ne 0 ] && tap_diag "$(tail -10 stderr)"
touch out/ua.jsonl
tap_is "$(wc -l <out/ua.jsonl)" "$n_valid" "one output record per valid input line"

# The rules, written again from the documentation.
cat >classify.py <<'EOF'
import collections, json, re, sys

RULES = [("bot", ["bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests"]),
         ("mobile", ["mobile", "android", "iphone", "ipad"]),
         ("desktop", ["windows", "macintosh", "x11", "linux"])]


def classify(ua):
    low = ua.lower()
    for name, needles in RULES:
        if any(n in low for n in needles):
            return name
    return "other"


def unescape(ua):
    return ua.replace('\\"', '"')


mode, path = sys.argv[1], sys.argv[2]
if mode == "input":
    # The user agent is the last quoted field of a valid line.
    rx = re.compile(rb'"((?:[^"\\]|\\.)*)"$')
    uas = [rx.search(l.rstrip(b"\n")).group(1).decode("latin-1") for l in open(path, "rb")]
    c = collections.Counter(classify(u) for u in uas)
    for k in sorted(c):
        print(k, c[k])
    with open("input.uas", "w", encoding="latin-1") as f:
        for u in sorted(unescape(u) for u in uas):
            f.write(u + "\n")
elif mode == "output":
    bad = 0
    c = collections.Counter()
    uas = []
    for i, line in enumerate(open(path, "rb"), 1):
        try:
            rec = json.loads(line)
            ua, got = rec["user_agent"], rec["ua_class"]
        except (ValueError, KeyError, TypeError) as e:
            if bad < 5:
                print("line %d: %s: %r" % (i, e, line[:300]), file=sys.stderr)
            bad += 1
            continue
        want = classify(ua)
        if got != want:
            if bad < 5:
                print("line %d: ua_class %r, rules say %r for %r" % (i, got, want, ua),
                      file=sys.stderr)
            bad += 1
        c[got] += 1
        uas.append(unescape(ua))
    for k in sorted(c):
        print(k, c[k])
    with open("output.uas", "w", encoding="latin-1") as f:
        for u in sorted(uas):
            f.write(u + "\n")
    sys.exit(1 if bad else 0)
EOF
python3 classify.py input valid.log >expect.classes
python3 classify.py output out/ua.jsonl >got.classes 2>classify.err
tap_ok $? "every record's ua_class follows the rules for its user_agent"
[ -s classify.err ] && tap_diag "$(head -5 classify.err)"
tap_cmp got.classes expect.classes "records per class equal the classification of the input"
tap_diag "classes: $(tr '\n' ' ' <expect.classes)"
tap_cmp output.uas input.uas "user agents arrive intact (compared with \\\" unescaped)"
python3 "$TESTLIB/check_stats.py" conserve stats.json >conserve.out 2>&1
tap_ok $? "every stage and sink conserves events, in_flight 0"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"

# Trust checks: a world-writable copy is refused, a 0755 copy of the same bytes is not.
mkdir -m 0700 plug
cp "$PLUGIN" plug/ua_ok.so
chmod 0755 plug/ua_ok.so
cp "$PLUGIN" plug/ua_ww.so
chmod 0777 plug/ua_ww.so
mkdir -p ok ww
pipeline "$TMP/plug/ua_ok.so" >ok/pipeline.yaml
pipeline "$TMP/plug/ua_ww.so" >ww/pipeline.yaml
(cd ok && "$SLUICE" validate pipeline.yaml >validate.out 2>&1)
rc=$?
tap_is "$rc" 0 "a mode-0755 copy of the plugin in a private directory is accepted"
[ "$rc" -ne 0 ] && tap_diag "$(head -5 ok/validate.out)"
(cd ww && "$SLUICE" validate pipeline.yaml >validate.out 2>&1)
rc=$?
tap_is "$rc" 2 "a world-writable copy of the plugin is refused by validate (exit 2)"
line=$(grep -n 'plugins:' ww/pipeline.yaml | cut -d: -f1)
grep -qE "(^|/)pipeline\.yaml:$line:[0-9]+: " ww/validate.out
tap_ok $? "the refusal names pipeline.yaml:$line (the plugins entry)"
tap_diag "validate said: $(head -3 ww/validate.out)"
cp access.log ww/
mkdir -p ww/out
(cd ww && timeout 60 "$SLUICE" run pipeline.yaml >run.out 2>&1)
rc=$?
tap_ok "$([ "$rc" = 2 ] && [ ! -e ww/out/ua.jsonl ]; echo $?)" \
	"sluice run refuses the world-writable plugin (exit $rc, want 2) and writes nothing"
tap_done
