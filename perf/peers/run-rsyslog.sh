#!/usr/bin/env bash
# usage: perf/peers/run-rsyslog.sh INPUT WORKDIR
# rsyslogd as a plain foreground process (-n), not a service: config, state (imfile's
# position), pid and output in WORKDIR. rsyslog has no end-of-input, so this waits until its
# output holds one line per input line (wait-lines.py, checking every 20 ms), then stops it
# (SIGTERM, which flushes) and counts the statuses like run-syslog-ng.sh. rsyslog conflicts with
# syslog-ng-core as a Debian package (both provide system-log-daemon), so it is used unpacked
# from its .deb (apt-get download rsyslog; dpkg -x) in RSYSLOG_ROOT (default
# /opt/sluice-peers/rsyslog); its libraries (liblognorm5, libestr0, libfastjson4) are
# installed normally. perf/bench-peers.sh prepares it.
set -eu
in=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
root=${RSYSLOG_ROOT:-/opt/sluice-peers/rsyslog}
mkdir -p "$work"
rm -rf "$work/rs-state" "$work/status.out"
mkdir -p "$work/rs-state"
sed -e "s|@INPUT@|$in|" -e "s|@OUT@|$work/status.out|" -e "s|@WORK@|$work/rs-state|" \
	-e "s|@HERE@|$here|" "$here/rsyslog.conf.in" >"$work/rsyslog.conf"
want=$(wc -l <"$in")
"$root/usr/sbin/rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" \
	-M "$root/usr/lib/x86_64-linux-gnu/rsyslog" >"$work/rsyslog.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
# One poller process (wait-lines.py), not `wc -l` and `sleep` forked every 20 ms: those
# took CPU from rsyslogd.
python3 "$here/wait-lines.py" "$work/status.out" "$want" "$pid" ||
	{ echo "run-rsyslog: rsyslogd died:" >&2; tail -5 "$work/rsyslog.log" >&2; exit 1; }
kill $pid
wait $pid || true
trap - EXIT
# Counted in one awk pass: `sort | uniq -c` took ~0.4 s of a million lines, added to the
# peer's time; awk takes 0.04 s.
awk '{ c[$0]++ } END { for (k in c) print (k == "" ? "other" : k), c[k] }' "$work/status.out" |
	sort -n
