#!/usr/bin/env bash
# Checks the test references themselves, so a wrong oracle cannot make the other
# integration scripts pass or fail by accident: the log generator is deterministic; its
# own idea of which lines are valid and of their statuses agrees with the mawk reference
# (tests/lib/nginx_ref.sh) and with an independent Python regex of the same rule; every
# odd kind is classified as intended; and perf/floor agrees with mawk on clean input.
# Needs no sluice binary.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"

GEN="python3 $TESTLIB/gen_nginx_log.py"
KINDS="truncated bad_status_abc bad_status_999 missing_quote binary empty_request extra_field
long_ua"
n_kinds=$(echo $KINDS | wc -w)
tap_plan $((8 + 2 * n_kinds))
tap_tmpdir

# 1. Determinism.
$GEN -n 50000 -o "$TMP/a.log" --seed 7 --bad-ratio 0.05
$GEN -n 50000 -o "$TMP/b.log" --seed 7 --bad-ratio 0.05
$GEN -n 50000 -o "$TMP/c.log" --seed 8 --bad-ratio 0.05
tap_cmp "$TMP/b.log" "$TMP/a.log" "same seed gives the same bytes"
cmp -s "$TMP/a.log" "$TMP/c.log"
tap_ok $((1 - $?)) "another seed gives other bytes"

# 2. Generator truth vs mawk vs Python on a mixed file.
$GEN -n 200000 -o "$TMP/m.log" --seed 3 --bad-ratio 0.03 --truth "$TMP/m.truth"
tap_is "$(wc -l <"$TMP/m.log")" 200000 "generator writes exactly -n lines"
read -r _ valid invalid < <(nginx_ref_totals "$TMP/m.log")
tap_is "$valid" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["valid"])' \
	"$TMP/m.truth")" "mawk valid count equals the generator's"
python3 -c 'import json,sys
t = json.load(open(sys.argv[1]))["by_status"]
for k in sorted(t, key=int): print(k, t[k])' "$TMP/m.truth" >"$TMP/truth.counts"
nginx_ref_status_counts "$TMP/m.log" >"$TMP/awk.counts"
tap_cmp "$TMP/awk.counts" "$TMP/truth.counts" "mawk status counts equal the generator's"

# The same rule written again with Python's re, line by line against mawk's valid set.
python3 - "$TMP/m.log" >"$TMP/py.valid" <<'EOF'
import re, sys
q = rb'"(?:[^"\\]|\\.)*"'
part = rb'(?:[^ "\\]|\\[^ ])+'
rx = re.compile(rb'[0-9A-Fa-f.:]+ - [^ ]+ \[[^\]]+\] "' + part + b' ' + part + b' ' + part + rb'" '
                rb'(?:[1-5][0-9][0-9]) (?:[0-9]+|-) ' + q + rb' ' + q, re.S)
out = sys.stdout.buffer
with open(sys.argv[1], "rb") as f:
    for line in f:
        body = line[:-1] if line.endswith(b"\n") else line
        if rx.fullmatch(body):
            out.write(body + b"\n")
EOF
nginx_ref_valid "$TMP/m.log" >"$TMP/awk.valid"
tap_cmp "$TMP/awk.valid" "$TMP/py.valid" "mawk and Python agree line by line on validity"

# The one-pass variant gives the same three answers as the functions one by one.
nginx_ref_all "$TMP/m.log" "$TMP/all"
nginx_ref_5xx "$TMP/m.log" >"$TMP/awk.5xx"
cmp -s "$TMP/all.counts" "$TMP/awk.counts" && cmp -s "$TMP/all.5xx" "$TMP/awk.5xx" &&
	[ "$(cat "$TMP/all.totals")" = "$(nginx_ref_totals "$TMP/m.log")" ]
tap_ok $? "nginx_ref_all = status counts, 5xx lines and totals one by one ($(wc -l <"$TMP/all.5xx") 5xx lines)"

# 3. Each odd kind on its own: all malformed kinds are invalid, long_ua lines are valid.
for k in $KINDS; do
	$GEN -n 20000 -o "$TMP/k.log" --seed 11 --bad-ratio 0.05 --kinds "$k" --truth "$TMP/k.truth"
	n_odd=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["odd"][sys.argv[2]])' \
		"$TMP/k.truth" "$k")
	read -r _ valid invalid < <(nginx_ref_totals "$TMP/k.log")
	tap_ok $(( n_odd > 500 ? 0 : 1 )) "$k: about 5% of lines are odd ($n_odd)"
	if [ "$k" = long_ua ]; then
		longest=$(LC_ALL=C mawk '{ n = split($0, p, "\" \""); l = length(p[n]) - 1
			if (l > m) m = l } END { print m }' "$TMP/k.log")
		tap_ok $(( invalid == 0 && longest > 2000 && longest <= 2500 ? 0 : 1 )) \
			"long_ua lines stay valid ($invalid invalid), longest agent $longest <= 2500 bytes"
	else
		tap_is "$invalid" "$n_odd" "$k: every odd line is invalid, all others valid"
	fi
done

# 4. The floor program agrees with mawk's naive count on clean input.
FLOOR=$SLUICE_BUILD/perf/floor
if [ -x "$FLOOR" ]; then
	$GEN -n 100000 -o "$TMP/clean.log" --seed 5
	"$FLOOR" "$TMP/clean.log" >"$TMP/floor.counts"
	LC_ALL=C mawk '{c[$9]++} END{for (k in c) print k, c[k]}' "$TMP/clean.log" |
		sort -n >"$TMP/mawk.counts"
	tap_cmp "$TMP/floor.counts" "$TMP/mawk.counts" "perf/floor equals mawk on clean input"
else
	tap_skip 1 "perf/floor not built"
fi
tap_done
