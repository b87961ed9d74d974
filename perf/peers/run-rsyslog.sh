#!/usr/bin/env bash
# usage: perf/peers/run-rsyslog.sh INPUT WORKDIR
# rsyslogd as a plain foreground process (-n), not a service: config, state (imfile's
# position), pid and output in WORKDIR. rsyslog has no end-of-input, so this waits until its
# output holds one line per input line (polling every 20 ms), then stops it (SIGTERM, which
# flushes) and counts the statuses like run-syslog-ng.sh. rsyslog conflicts with
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
lines() { if [ -f "$work/status.out" ]; then wc -l <"$work/status.out"; else echo 0; fi; }
while [ "$(lines)" -lt "$want" ]; do
	kill -0 $pid 2>/dev/null || { echo "run-rsyslog: rsyslogd died:" >&2; tail -5 "$work/rsyslog.log" >&2; exit 1; }
	sleep 0.02
done
kill $pid
wait $pid || true
trap - EXIT
LC_ALL=C sort "$work/status.out" | uniq -c |
	awk '{ if (NF == 1) print "other", $1; else print $2, $1 }' | sort -n
