#!/usr/bin/env bash
# A/B of two Sluice builds (or two environments) on the packet path of
# perf/bench-packets.sh (issue 4): pairs of short runs of the same pipeline file, A then B
# in odd pairs and B then A in even ones, each `timeout -s INT SECONDS BIN run PIPELINE -q
# --stats-json ... -- -l 1`, Mpps = frames the tx sink sent / elapsed_s. Prints each pair
# and the median of B / A (above 1: B faster) with the pairs B won. Runs seconds apart, so
# a shift of the host's speed between pairs moves both; no testpmd (bench-packets.sh
# --compare gives the ratios to it). Each run holds /tmp/sluice-bench.lock unless the
# whole script runs under it.
#
# usage: perf/bench-packets-ab.sh [--pairs N] [--seconds S] [--floor | --parse-only]
#                                 'A: [VAR=value ...] BIN' 'B: [VAR=value ...] BIN'
# e.g.   perf/bench-packets-ab.sh --pairs 10 /tmp/old/build/sluice build/sluice
set -eu
cd "$(dirname "$0")/.."
PAIRS=10
SECS=2
WHICH=chain
while [ $# -gt 2 ]; do
	case $1 in
	--pairs) PAIRS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--floor) WHICH=floor ;;
	--parse-only) WHICH=parse ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 2 ] || { echo "usage: $0 [--pairs N] [--seconds S] [--floor | --parse-only] A B" >&2; exit 2; }
A=$1
B=$2
OUT=$(mktemp -d /tmp/sluice-bench-ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
perf/packet-pipeline.sh "$WHICH" >"$OUT/p.yaml"
LOCK_HELD=
for fd in /proc/$$/fd/*; do
	[ "$(readlink "$fd" 2>/dev/null)" = /tmp/sluice-bench.lock ] && LOCK_HELD=1
done
one() { # "VAR=value ... BIN"
	local cmd=(env $1)
	if [ -n "$LOCK_HELD" ]; then
		timeout -s INT "$SECS" "${cmd[@]}" run "$OUT/p.yaml" -q --stats-json "$OUT/s.json" \
			-- -l 1 >/dev/null 2>"$OUT/err" || true
	else
		flock /tmp/sluice-bench.lock timeout -s INT "$SECS" "${cmd[@]}" run "$OUT/p.yaml" -q \
			--stats-json "$OUT/s.json" -- -l 1 >/dev/null 2>"$OUT/err" || true
	fi
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%.2f" % ({n["name"]: n for n in d["nodes"]}["tx"]["out"] / d["elapsed_s"] / 1e6))' \
		"$OUT/s.json"
}
echo "# $WHICH, ${SECS}s runs, $PAIRS pairs; A: $A; B: $B; load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$PAIRS"); do
	if [ $((i % 2)) = 1 ]; then
		a=$(one "$A"); b=$(one "$B")
	else
		b=$(one "$B"); a=$(one "$A")
	fi
	echo "pair $i A $a B $b" | tee -a "$OUT/pairs"
done
python3 - "$OUT/pairs" <<'PY'
import statistics as st, sys
r = [(float(l.split()[3]), float(l.split()[5])) for l in open(sys.argv[1])]
print("A median %.2f Mpps, B median %.2f Mpps; median B / A %.3f, B ahead in %d of %d" %
      (st.median(a for a, _ in r), st.median(b for _, b in r), st.median(b / a for a, b in r),
       sum(b > a for a, b in r), len(r)))
PY
