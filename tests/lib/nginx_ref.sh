# shellcheck shell=bash
# Reference answers for nginx "combined" logs, computed with mawk independently of Sluice.
# Sourced by tests/integration/*.sh and perf/bench-*.sh; every function reads one file and
# writes to stdout. The rule (the same one nginx_parse documents): a valid line matches
#   ^IP - USER \[TIME\] "METHOD PATH PROTO" STATUS BYTES "REFERER" "UA"$
# with STATUS three digits 100-599, BYTES digits or '-', quoted fields free of unescaped '"'
# (a backslash escape such as \" is allowed) and a request of exactly three non-empty parts
# separated by single spaces (an escaped character inside a part may not be a space).
# mawk is byte-oriented under LC_ALL=C, so binary garbage and NUL bytes are just text.

NGINX_REF_AWK=${NGINX_REF_AWK:-mawk}

# The regex is written once, as a literal (mawk mishandles ']' in dynamic brackets).
_nginx_ref_prog='
function valid() {
	return $0 ~ /^[0-9A-Fa-f.:]+ - [^ ]+ \[[^\]]+\] "([^ "\\]|\\[^ ])+ ([^ "\\]|\\[^ ])+ ([^ "\\]|\\[^ ])+" [1-5][0-9][0-9] ([0-9]+|-) "([^"\\]|\\.)*" "([^"\\]|\\.)*"$/
}
function status() {
	match($0, /\] "([^"\\]|\\.)*" /)
	return substr($0, RSTART + RLENGTH, 3) + 0
}
'

# Print the valid lines, in input order.
nginx_ref_valid() {
	LC_ALL=C "$NGINX_REF_AWK" "$_nginx_ref_prog"'valid() { print }' "$1"
}

# Print "STATUS COUNT" for every status seen on valid lines, sorted by status.
nginx_ref_status_counts() {
	LC_ALL=C "$NGINX_REF_AWK" "$_nginx_ref_prog"'
valid() { c[status()]++ }
END { for (k in c) print k, c[k] }' "$1" | sort -n
}

# Print the valid lines whose status is >= 500, in input order.
nginx_ref_5xx() {
	LC_ALL=C "$NGINX_REF_AWK" "$_nginx_ref_prog"'valid() && status() >= 500 { print }' "$1"
}

# Print "LINES VALID INVALID" for a file.
nginx_ref_totals() {
	LC_ALL=C "$NGINX_REF_AWK" "$_nginx_ref_prog"'
{ n++ } valid() { v++ }
END { print n + 0, v + 0, n - v }' "$1"
}

# The three answers of one file in a single pass (the same rule and functions as above):
# PREFIX.counts as nginx_ref_status_counts, PREFIX.5xx as nginx_ref_5xx, PREFIX.totals as
# nginx_ref_totals. For large inputs read by several of them (one mawk pass, not three).
nginx_ref_all() {
	: >"$2.5xx"
	LC_ALL=C "$NGINX_REF_AWK" -v fiv="$2.5xx" -v tot="$2.totals" "$_nginx_ref_prog"'
{ n++ }
valid() { v++; s = status(); c[s]++; if (s >= 500) print > fiv }
END {
	for (k in c) print k, c[k]
	print n + 0, v + 0, n - v > tot
}' "$1" | sort -n >"$2.counts"
}
