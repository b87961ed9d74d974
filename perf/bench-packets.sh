#!/usr/bin/env bash
# Benchmark (issue 4): packet pass-through on net_null ports, Sluice vs dpdk-testpmd, side
# by side in one run, alternating (A B, then B A, ...), one busy lcore each:
#   - sluice: `dpdk rx (net_null0) -> pkt_parse -> pkt_filter -> dpdk tx (net_null1)`
#     with `-- -l 1` (the main lcore runs every task: one worker), stopped by SIGINT after
#     SECONDS; Mpps = frames the tx sink sent / the run's elapsed_s (--stats-json).
#   - testpmd: `--forward-mode=io` between net_null0 and net_null1 on lcore 1 (`-l 0,1
#     --nb-cores=1`: lcore 0 only reads the command line), driven on stdin: start once the
#     prompt shows, stop SECONDS later; Mpps = its accumulated TX-packets / the time
#     between the two commands.
# net_null hands out 64-byte frames without writing them (copy=0), so the frames are the
# mbufs' zeroed bytes: pkt_parse finds Ethernet with EtherType 0 (non-IP, well formed) and
# the filter "not (udp and dst_port == 53)" passes them all. Prints one line per run and the
# medians, min-max and ratio. Each run holds /tmp/sluice-bench.lock (BENCH.md), or the
# whole benchmark does when it runs under `flock /tmp/sluice-bench.lock`.
#
# --unfused adds a runner, the same Sluice pipeline with `fuse: false` (every edge a
# ring; docs/architecture.md, Fusion), alternating with the others. --floor adds one with
# no stage at all, `dpdk rx (net_null0) -> dpdk tx (net_null1)`: what the runtime, the
# source and the sink cost without any packet work, the ceiling of the ratio.
# --parse-only adds one with pkt_parse alone, `dpdk rx -> pkt_parse -> dpdk tx`: the
# ceiling of any way of fusing pkt_filter into pkt_parse (a filter that cost nothing).
# --testpmd-modes "MODE ..." adds a testpmd runner per forward mode (e.g. `macswap`, which
# reads and writes each frame's first line, or `5tswap`, which parses the headers as far as
# UDP/TCP like pkt_parse does), each reported as a ratio too: baselines that touch the
# frame, where `io` forwards mbufs without reading a byte of them.
# --compare BUILD adds the same Sluice runners (the chain, and the floor and parse only when
# asked for) with BUILD/sluice, alternating with the others: an A/B of two builds of
# Sluice (e.g. one with a patch of perf/experiments/ applied) against the same testpmd runs.
# Besides the ratio of the medians, the script prints the median of the rounds' own
# ratios (each round runs its tools within seconds of each other, so a shift in the
# host's speed between rounds moves both).
#
# usage: perf/bench-packets.sh [--rounds N] [--seconds S] [--unfused] [--floor] [--parse-only]
#                              [--testpmd-modes "MODE ..."] [--compare BUILD]
# Environment: SLUICE_BUILD (default build/).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
SLUICE=${SLUICE_BUILD:-$SRC/build}/sluice
ROUNDS=5
SECONDS_RUN=3
UNFUSED=
FLOOR=
PARSE=
MODES=
CMP=
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECONDS_RUN=$2; shift ;;
	--unfused) UNFUSED=1 ;;
	--floor) FLOOR=1 ;;
	--parse-only) PARSE=1 ;;
	--testpmd-modes) MODES=$2; shift ;;
	--compare) CMP=$2; shift ;;
	*) echo "usage: $0 [--rounds N] [--seconds S] [--unfused] [--floor] [--parse-only]" \
		"[--testpmd-modes \"MODE ...\"] [--compare BUILD]" >&2
	   exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] || { echo "bench: $SLUICE not built" >&2; exit 1; }
[ -z "$CMP" ] || [ -x "$CMP/sluice" ] || { echo "bench: $CMP/sluice not built" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "bench: dpdk-testpmd missing (scripts/setup)" >&2; exit 1; }
OUT=$(mktemp -d /tmp/sluice-bench-packets.XXXXXX)
trap '{ pkill -9 -P $$ 2>/dev/null || true; }; rm -rf "$OUT"' EXIT
perf/packet-pipeline.sh chain >"$OUT/p.yaml"
{ cat "$OUT/p.yaml"; echo "fuse: false"; } >"$OUT/unfused.yaml"
perf/packet-pipeline.sh floor >"$OUT/floor.yaml"
perf/packet-pipeline.sh parse >"$OUT/parse.yaml"

run_sluice() { # pipeline file (default p.yaml), binary (default $SLUICE)
	timeout -s INT "$SECONDS_RUN" "${2:-$SLUICE}" run "$OUT/${1:-p.yaml}" -q \
		--stats-json "$OUT/s.json" -- -l 1 >/dev/null 2>"$OUT/sluice.err" || true
	python3 - "$OUT/s.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {n["name"]: n for n in d["nodes"]}
sent = st["tx"]["out"]
assert st["rx"]["generated"] == sent, "pass-through lost frames"
print("%.3f" % (sent / d["elapsed_s"] / 1e6))
PY
}

run_unfused() {
	run_sluice unfused.yaml
}

run_floor() {
	run_sluice floor.yaml
}

run_parse() {
	run_sluice parse.yaml
}

run_cmp() {
	run_sluice p.yaml "$CMP/sluice"
}

run_cmp_floor() {
	run_sluice floor.yaml "$CMP/sluice"
}

run_cmp_parse() {
	run_sluice parse.yaml "$CMP/sluice"
}

run_testpmd() { # forward mode (default io)
	rm -f "$OUT/tp.in"
	mkfifo "$OUT/tp.in"
	dpdk-testpmd -l 0,1 --no-pci --in-memory --vdev net_null0 \
		--vdev net_null1 -- -i --forward-mode="${1:-io}" --nb-cores=1 <"$OUT/tp.in" \
		>"$OUT/tp.out" 2>&1 &
	local tp=$!
	exec 3>"$OUT/tp.in"
	for _ in $(seq 600); do grep -q "testpmd>" "$OUT/tp.out" && break; sleep 0.1; done
	grep -q "testpmd>" "$OUT/tp.out" || { echo "bench: testpmd did not start" >&2; exit 1; }
	local t0 t1
	t0=$(date +%s%N)
	echo start >&3
	sleep "$SECONDS_RUN"
	t1=$(date +%s%N)
	echo stop >&3
	sleep 0.5
	echo quit >&3
	exec 3>&-
	wait $tp || true
	local n
	n=$(awk '/Accumulated forward statistics/ {a = 1} a && /TX-packets:/ {print $2; exit}' "$OUT/tp.out")
	python3 -c "print('%.3f' % ($n / (($t1 - $t0) / 1e9) / 1e6))"
}

# Under `flock /tmp/sluice-bench.lock perf/bench-packets.sh ...` the lock is an inherited
# descriptor: locking the file again through a new one would wait for ourselves.
LOCK_HELD=
for fd in /proc/$$/fd/*; do
	[ "$(readlink "$fd" 2>/dev/null)" = /tmp/sluice-bench.lock ] && LOCK_HELD=1
done
echo "# machine: nproc $(nproc), $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)," \
	"DPDK $(dpkg-query -W -f='${Version}' dpdk 2>/dev/null), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sluice: $SLUICE ($(git -C "$SRC" rev-parse --short HEAD)); ${SECONDS_RUN}s per run, $ROUNDS rounds"
[ -z "$CMP" ] || echo "# compared with: $CMP/sluice"
: >"$OUT/sluice.txt"
: >"$OUT/testpmd.txt"
: >"$OUT/unfused.txt"
: >"$OUT/floor.txt"
: >"$OUT/parse.txt"
: >"$OUT/cmp.txt"
: >"$OUT/cmp_floor.txt"
: >"$OUT/cmp_parse.txt"
for r in $(seq "$ROUNDS"); do
	order="sluice testpmd${UNFUSED:+ unfused}${FLOOR:+ floor}${PARSE:+ parse}"
	for m in $MODES; do order="$order tp_$m"; done
	[ -z "$CMP" ] || order="$order cmp${FLOOR:+ cmp_floor}${PARSE:+ cmp_parse}"
	# Every other round in reverse.
	[ $((r % 2)) -eq 0 ] && order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
	for w in $order; do
		# The lock for the whole run (testpmd must not wait for it behind its prompt),
		# unless the caller holds it for the whole benchmark.
		if [ -z "$LOCK_HELD" ]; then
			exec 9>/tmp/sluice-bench.lock
			flock 9
		fi
		case $w in
		tp_*) v=$(run_testpmd "${w#tp_}") ;;
		*) v=$(run_$w) ;;
		esac
		if [ -z "$LOCK_HELD" ]; then
			flock -u 9
			exec 9>&-
		fi
		echo "$v" >>"$OUT/$w.txt"
		echo "round $r $w ${v} Mpps"
	done
done
python3 - "$OUT/sluice.txt" "$OUT/testpmd.txt" "$OUT/unfused.txt" "$OUT/floor.txt" \
	"$OUT/parse.txt" "$OUT/cmp.txt" "$OUT/cmp_floor.txt" "$OUT/cmp_parse.txt" \
	$(for m in $MODES; do echo "$OUT/tp_$m.txt"; done) <<'PY'
import os, statistics, sys
s, t, u, f, pa, c, cf, cp = ([float(x) for x in open(a)] for a in sys.argv[1:9])
modes = [(os.path.basename(a)[3:-4], [float(x) for x in open(a)]) for a in sys.argv[9:]]
med = statistics.median
for name, v in (("sluice", s), ("testpmd", t), ("unfused", u), ("floor", f), ("parse", pa)):
    if v:
        print("%-8s median %.2f Mpps  min %.2f  max %.2f" % (name, med(v), min(v), max(v)))
print("ratio sluice/testpmd (medians): %.3f  (target >= 0.80); median of the rounds' "
      "ratios %.3f" % (med(s) / med(t), med([a / b for a, b in zip(s, t)])))
if u:
    print("ratio sluice/unfused (medians): %.3f" % (med(s) / med(u)))
if f:
    print("ratio floor/testpmd (medians): %.3f; median of the rounds' ratios %.3f"
          % (med(f) / med(t), med([a / b for a, b in zip(f, t)])))
if pa:
    print("ratio parse-only/testpmd (medians): %.3f; median of the rounds' ratios %.3f"
          % (med(pa) / med(t), med([a / b for a, b in zip(pa, t)])))
for name, v, mine in (("compare", c, s), ("cmp_floor", cf, f), ("cmp_parse", cp, pa)):
    if v:
        print("%-9s median %.2f Mpps  min %.2f  max %.2f" % (name, med(v), min(v), max(v)))
        print("ratio %s/testpmd (medians): %.3f; median of the rounds' ratios %.3f"
              % (name, med(v) / med(t), med([a / b for a, b in zip(v, t)])))
        print("ratio %s/its SLUICE_BUILD runner: median of the rounds' ratios %.3f"
              % (name, med([a / b for a, b in zip(v, mine)])))
for m, v in modes:
    print("testpmd %-8s median %.2f Mpps  min %.2f  max %.2f" % (m, med(v), min(v), max(v)))
    print("ratio sluice/testpmd-%s (medians): %.3f; median of the rounds' ratios %.3f"
          % (m, med(s) / med(v), med([a / b for a, b in zip(s, v)])))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
