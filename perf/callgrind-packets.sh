#!/usr/bin/env bash
# Instructions a frame on the packet path (issue 4), by function: the pipeline of
# perf/bench-packets.sh (`dpdk rx (net_null0) -> pkt_parse -> pkt_filter -> dpdk tx`, or
# with --floor no stage, with --parse-only pkt_parse alone) on one lcore under callgrind
# for SECONDS (default 15), counting only what sl_worker_loop runs, divided by the frames
# the tx sink sent. Deterministic where timings on this machine are not (perf/RESULTS.md):
# what a change does to the work a frame costs, not to the time.
#
# usage: perf/callgrind-packets.sh [--floor | --parse-only] [--seconds S]
# Environment: SLUICE_BUILD (default build/).
set -eu
cd "$(dirname "$0")/.."
SLUICE=${SLUICE_BUILD:-$PWD/build}/sluice
WHICH=chain
SECS=15
while [ $# -gt 0 ]; do
	case $1 in
	--floor) WHICH=floor ;;
	--parse-only) WHICH=parse ;;
	--seconds) SECS=$2; shift ;;
	*) echo "usage: $0 [--floor | --parse-only] [--seconds S]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] || { echo "callgrind: $SLUICE not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind: valgrind missing" >&2; exit 1; }
OUT=$(mktemp -d /tmp/sluice-callgrind.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
perf/packet-pipeline.sh "$WHICH" >"$OUT/p.yaml"
timeout -s INT "$SECS" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" \
	--toggle-collect=sl_worker_loop "$SLUICE" run "$OUT/p.yaml" -q \
	--stats-json "$OUT/s.json" -- -l 1 --no-huge -m 512 >/dev/null 2>"$OUT/err" || true
sent=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print({n["name"]: n for n in d["nodes"]}["tx"]["out"])' "$OUT/s.json")
echo "# $WHICH, $SLUICE ($(git rev-parse --short HEAD)), $sent frames sent"
callgrind_annotate --inclusive=no "$OUT/cg.out" 2>/dev/null | awk -v n="$sent" '
/PROGRAM TOTALS/ { x = $1; gsub(",", "", x); printf "%8.1f  instructions a frame in all\n", x / n; next }
/^ *[0-9,]+ .*:[A-Za-z_0-9?]/ && !/=>/ {
	x = $1; gsub(",", "", x)
	if (x / n >= 0.5) { sub(/^ *[0-9,]+ +(\([ 0-9.%]+\) +)?/, ""); printf "%8.1f  %s\n", x / n, $0 }
}' | head -30
