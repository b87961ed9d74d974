#!/usr/bin/env bash
# Benchmark (issue 4): the generator over memif into a Sluice pipeline and back, two
# processes, one lcore each:
#   - the pipeline (memif server, lcore 1): dpdk rx net_memif0 -> pkt_parse ->
#     pkt_filter "udp and dst_port == 9" -> forward back out of net_memif0;
#   - `sluice gen` (memif client, lcore 0): 64-byte frames (60 + FCS) at RATE for
#     SECONDS, 64 flows, received back on the same port: its report gives the rate it held
#     (pktgen: pps, held / NOT held), received, lost, reordered and the latency percentiles
#     (pktcheck, same process so the TSC is shared).
# For each rate, ROUNDS runs; prints each run and the medians (min-max). Each run holds
# /tmp/sluice-bench.lock (BENCH.md).
#
# usage: perf/bench-packets-memif.sh [--rounds N] [--seconds S] [--rates "1M 2M 4M"]
# Environment: SLUICE_BUILD (default build/).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
SLUICE=${SLUICE_BUILD:-$SRC/build}/sluice
ROUNDS=5
SECS=3
RATES="1M 2M 4M"
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--rates) RATES=$2; shift ;;
	*) echo "usage: $0 [--rounds N] [--seconds S] [--rates LIST]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$SLUICE" ] || { echo "bench: $SLUICE not built" >&2; exit 1; }
OUT=$(mktemp -d /tmp/sluice-bench-memif.XXXXXX)
trap '{ pkill -9 -P $$ 2>/dev/null || true; }; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$OUT"' EXIT
SOCK=$OUT/memif.sock
cat >"$OUT/echo.yaml" <<YAML
sources:
  wire: { type: dpdk, device: "net_memif0,role=server,socket=$SOCK", idle: 3s }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
  udp9:  { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 9" }
  back:  { use: forward, inputs: [udp9], device: net_memif0 }
sinks:
  bad: { type: "null", inputs: [parse.errors] }
YAML

one_run() { # rate -> "pps held received lost reordered p50 p99 p999"
	local rate=$1
	rm -f "$SOCK"
	"$SLUICE" run "$OUT/echo.yaml" -v -- -l 1 --file-prefix sl-echo-$$ >"$OUT/echo.out" \
		2>"$OUT/echo.err" &
	local echo_pid=$!
	# (memif sockets are abstract by default: no file to wait for)
	for _ in $(seq 100); do grep -q running "$OUT/echo.err" && break; sleep 0.1; done
	"$SLUICE" gen --device "net_memif0,role=client,socket=$SOCK" --rate "$rate" \
		--duration "${SECS}s" --flows 64 --size 60 -- -l 0 --file-prefix sl-gen-$$ \
		>"$OUT/gen.out" 2>"$OUT/gen.err" || true
	wait $echo_pid || true
	python3 - "$OUT/gen.err" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
g = re.search(r"packets=(\d+) .*pps=(\d+) target=(\d+) \((held|NOT held)", t)
c = re.search(r"received=(\d+) lost=(\d+) reordered=(\d+) other=\d+ latency_ns p50=(\d+) p99=(\d+) p99\.9=(\d+)", t)
if not g or not c:
    print("failed")
else:
    print(g.group(2), g.group(4).replace(" ", "_"), *c.groups())
PY
}

# Under `flock /tmp/sluice-bench.lock perf/bench-packets-memif.sh ...` the lock is an
# inherited descriptor: locking the file again through a new one would wait for ourselves.
LOCK_HELD=
for fd in /proc/$$/fd/*; do
	[ "$(readlink "$fd" 2>/dev/null)" = /tmp/sluice-bench.lock ] && LOCK_HELD=1
done
echo "# machine: nproc $(nproc), $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)," \
	"DPDK $(dpkg-query -W -f='${Version}' dpdk 2>/dev/null), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sluice: $SLUICE ($(git -C "$SRC" rev-parse --short HEAD)); ${SECS}s per run, $ROUNDS rounds per rate"
for rate in $RATES; do
	: >"$OUT/r.txt"
	for r in $(seq "$ROUNDS"); do
		if [ -z "$LOCK_HELD" ]; then
			exec 9>/tmp/sluice-bench.lock
			flock 9
		fi
		line=$(one_run "$rate")
		if [ -z "$LOCK_HELD" ]; then
			flock -u 9
			exec 9>&-
		fi
		echo "rate $rate round $r: pps held received lost reordered p50 p99 p99.9 = $line"
		echo "$line" >>"$OUT/r.txt"
	done
	python3 - "$rate" "$OUT/r.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[2]) if not l.startswith("failed")]
if not rows:
    print("rate %s: no successful run" % sys.argv[1]); sys.exit()
def col(i): return [int(r[i]) for r in rows]
def fmt(v, scale=1, unit=""):
    return "%.3g%s (%.3g-%.3g)" % (statistics.median(v) / scale, unit, min(v) / scale, max(v) / scale)
held = sum(r[1] == "held" for r in rows)
loss = [int(r[3]) / max(1, int(r[2]) + int(r[3])) * 100 for r in rows]
print("rate %s: sent %s, held in %d of %d runs, lost %s%%, p50 %s, p99 %s, p99.9 %s" % (
    sys.argv[1], fmt(col(0), 1e6, " Mpps"), held, len(rows),
    "%.2f (%.2f-%.2f)" % (statistics.median(loss), min(loss), max(loss)),
    fmt(col(5), 1e3, " us"), fmt(col(6), 1e3, " us"), fmt(col(7), 1e3, " us")))
PY
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
