#!/usr/bin/env bash
# usage: perf/peers/run-syslog-ng.sh INPUT WORKDIR
# syslog-ng (Debian syslog-ng-core) as a plain foreground process, not a service: its
# persist, pid and control files in WORKDIR; the nginx lines of INPUT on its stdin; it
# writes one status per line to WORKDIR/status.out and exits at EOF. Then the statuses are
# counted (awk) and printed as "STATUS COUNT", sorted; a line it could not parse
# has an empty status, printed as "other N".
set -eu
in=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
rm -f "$work/status.out" "$work/sng.persist"
OUT=$work/status.out
export OUT
cat "$in" | syslog-ng -F --no-caps -f "$here/syslog-ng.conf" -R "$work/sng.persist" \
	-p "$work/sng.pid" -c "$work/sng.ctl" >"$work/sng.log" 2>&1 ||
	{ echo "run-syslog-ng: syslog-ng failed:" >&2; tail -5 "$work/sng.log" >&2; exit 1; }
# Counted in one awk pass: `sort | uniq -c` took ~0.4 s of a million lines, added to the
# peer's time; awk takes 0.04 s.
awk '{ c[$0]++ } END { for (k in c) print (k == "" ? "other" : k), c[k] }' "$work/status.out" |
	sort -n
