#!/usr/bin/env bash
# `sluice run` with no pipeline runs the built-in default (gen source of seeded nginx lines
# -> nginx_parse -> count by status -> table on stdout). Checks that it ends by itself
# with exit 0 within 30 s, that stdout has a table with a status column, that the statuses
# are HTTP statuses, and that the table's counts add up to what the stats say the source
# generated and the count stage received; conservation holds at every stage and sink.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir

cd "$TMP" || exit 1
t0=$(date +%s.%N)
timeout 30 "$SLUICE" run --stats-json stats.json >stdout 2>stderr
rc=$?
t1=$(date +%s.%N)
tap_diag "sluice run --stats-json stats.json: exit $rc after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
tap_is "$rc" 0 "sluice run (no pipeline) exits 0 within 30 s"
[ "$rc" -ne 0 ] && tap_diag "$(tail -20 stderr)"

# Parse the table: a header line naming a status column and a count column, then rows.
python3 - stdout >table.txt 2>table.err <<'EOF'
import re, sys
rows, header = [], None
for line in open(sys.argv[1], errors="replace"):
    cells = [c for c in re.split(r"[\s|]+", line.strip()) if c and not re.fullmatch(r"[-+=]+", c)]
    if not cells:
        continue
    low = [c.lower() for c in cells]
    if header is None:
        if "status" in low and "count" in low:
            header = (low.index("status"), low.index("count"), len(cells))
        continue
    si, ci, n = header
    if len(cells) != n:
        continue
    if not cells[ci].isdigit():
        print("row with a non-numeric count: %r" % line, file=sys.stderr)
        continue
    rows.append((cells[si], int(cells[ci])))
if header is None:
    print("no header line with 'status' and 'count' columns", file=sys.stderr)
    sys.exit(1)
for s, c in rows:
    print(s, c)
EOF
tap_ok $? "stdout has a table with status and count columns"
[ -s table.err ] && tap_diag "$(head -5 table.err)" && tap_diag "stdout: $(head -20 stdout)"
n_rows=$(wc -l <table.txt)
tap_ok $(( n_rows > 0 ? 0 : 1 )) "the table has rows ($n_rows)"
bad=$(awk '!($1 ~ /^[1-5][0-9][0-9]$/) { print $1 }' table.txt | head -3 | tr '\n' ' ')
tap_is "${bad:-none}" none "every status in the table is a 3-digit HTTP status"
dups=$(awk '{ print $1 }' table.txt | sort | uniq -d | tr '\n' ' ')
tap_is "${dups:-none}" none "each status appears once"
sum=$(awk '{ s += $2 } END { print s + 0 }' table.txt)

if [ ! -s stats.json ]; then
	tap_ok 1 "--stats-json wrote stats.json"
	tap_skip 2 "no stats.json"
	tap_done
fi
python3 "$TESTLIB/check_stats.py" conserve stats.json >conserve.out
tap_ok $? "every stage and sink conserves events, in_flight 0"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"
generated=$(python3 "$TESTLIB/check_stats.py" total stats.json source out)
counted=$(python3 -c 'import json
for n in json.load(open("stats.json"))["nodes"]:
    if n["role"] == "stage" and n["kind"] == "count": print(n["in"])')
tap_is "$sum" "$generated" "table counts sum to the events the source generated"
tap_is "$sum" "$counted" "table counts sum to the records the count stage received"
tap_done
