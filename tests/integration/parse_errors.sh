#!/usr/bin/env bash
# nginx_parse's two outputs both connected, under load: 300,000 lines with about 20%
# malformed (every odd kind of tests/lib/gen_nginx_log.py). The default output feeds a jsonl
# file and a count by status; the `errors` output feeds a raw file. Every input line must
# come out exactly once on the right side: the raw errors file equals mawk's invalid lines
# (as a multiset and, with one replica, in input order), the records file has one record
# per valid line, the counts equal mawk's, and every error record names a reason.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir
cd "$TMP" || exit 1

python3 "$TESTLIB/gen_nginx_log.py" -n 300000 -o access.log --seed 17 --bad-ratio 0.2
# shellcheck disable=SC2154 # set by nginx_ref.sh
LC_ALL=C mawk "$_nginx_ref_prog"'!valid() { print }' access.log >expect.bad
nginx_ref_all access.log expect
read -r n_lines n_valid n_invalid <expect.totals
tap_diag "input: $n_lines lines, $n_valid valid, $n_invalid malformed"

mkdir -p out
cat >pipeline.yaml <<'EOF'
sources:
  access: { type: file, path: access.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  records: { type: file, inputs: [parse], path: out/records.jsonl, format: jsonl }
  rejects: { type: file, inputs: [parse.errors], path: out/rejects.log, format: raw }
  reasons: { type: file, inputs: [parse.errors], path: out/rejects.jsonl, format: jsonl }
  counts: { type: file, inputs: [by_status], path: out/counts.jsonl, format: jsonl }
EOF
timeout 120 "$SLUICE" run pipeline.yaml --stats-json stats.json >stdout 2>stderr
rc=$?
tap_is "$rc" 0 "sluice run exits 0"
[ "$rc" -ne 0 ] && tap_diag "$(tail -10 stderr)"
touch out/rejects.log out/records.jsonl out/rejects.jsonl
LC_ALL=C sort out/rejects.log >got.bad.sorted
LC_ALL=C sort expect.bad >expect.bad.sorted
tap_cmp got.bad.sorted expect.bad.sorted "the errors output holds exactly the $n_invalid invalid lines"
tap_cmp out/rejects.log expect.bad "... in input order"
tap_is "$(wc -l <out/records.jsonl)" "$n_valid" "the default output holds one record per valid line"
python3 "$TESTLIB/check_stats.py" counts out/counts.jsonl status 2>/dev/null | sort -n >got.counts
tap_cmp got.counts expect.counts "status counts equal mawk's"
python3 - out/rejects.jsonl >reasons.out 2>&1 <<'EOF'
import collections, json, sys
c = collections.Counter()
bad = 0
for i, l in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        r = json.loads(l)["error"]
        assert isinstance(r, str) and r
        c[r] += 1
    except Exception as e:
        bad += 1
        if bad < 4:
            print("line %d: no error reason: %r" % (i, l[:200]))
print("reasons:", " ".join("%s=%d" % kv for kv in sorted(c.items())))
sys.exit(1 if bad else 0)
EOF
tap_ok $? "every error record carries a non-empty \"error\" reason"
tap_diag "$(cat reasons.out)"
tap_is "$(wc -l <out/rejects.jsonl)" "$n_invalid" "the second errors consumer got every invalid line too"
python3 "$TESTLIB/check_stats.py" conserve stats.json >conserve.out 2>&1
tap_ok $? "every stage and sink conserves events, in_flight 0"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"
tap_done
