#!/usr/bin/env bash
# Benchmark: count nginx requests by status, side by side. Sluice runs the issue-2 pipeline
# (nginx_parse -> count by status -> jsonl, plus filter status >= 500 -> raw file) with
# its default lcores, as "sluice-1lc" on one lcore (-- -l 0) and as "sluice-lanes" with
# --replicas $(nproc) (one lane per CPU, same pipeline file), against
# mawk '{c[$9]++}' (the naive tool) and perf/floor (single-purpose C, one core). The input
# is 5,000,000 generated nginx "combined" lines (~0.9 GB, no malformed lines so all three
# compute the same answer) on tmpfs (/dev/shm), made once by tests/lib/gen_nginx_log.py and
# reused while its size and recipe match. Before timing, the three answers are compared.
# Timing uses hyperfine, one run of each command per round, rotating the order every
# round (A B C, B C A, ...) so drift on this shared machine hits all three alike; the
# rounds' exports are merged into one JSON with every run. Prints median, min and max
# wall time and CPU time per command and the ratios sluice/mawk and sluice/floor.
#
# usage: perf/bench-nginx-status.sh [--quick] [--rounds N] [--lines N] [--out DIR]
#                                  [--profile] [-- EAL args for sluice]
#   --quick    200,000 lines, 1 round: a smoke check that the benchmark still works
#   --profile  instead of timing: run sluice on the input for per-stage cycles/event (from
#              --stats-json: default lcores, one lcore, lanes), perf record of the lanes run
#              (top symbols), under valgrind --tool=callgrind on 200,000 lines for
#              the top functions by instructions (self), and on a one-line input (5 runs)
#              for the fixed start-up and tear-down cost
# Environment: SLUICE_BUILD (default build/), BENCH_DIR (default /dev/shm/sluice-bench).
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${SLUICE_BUILD:-$SRC/build}
SLUICE=$BUILD/sluice
FLOOR=$BUILD/perf/floor
BENCH_DIR=${BENCH_DIR:-/dev/shm/sluice-bench}
LINES=5000000
ROUNDS=5
SEED=1
PROFILE=0
OUT=
EAL=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) LINES=200000; ROUNDS=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--lines) LINES=$2; shift ;;
	--out) OUT=$2; shift ;;
	--profile) PROFILE=1 ;;
	--) shift; EAL=(-- "$@"); break ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--lines N] [--out DIR] [--profile] [-- EAL]" >&2
	   exit 2 ;;
	esac
	shift
done

for exe in "$SLUICE" "$FLOOR"; do
	[ -x "$exe" ] || { echo "bench: $exe not built (ninja -C $BUILD)" >&2; exit 1; }
done
command -v mawk >/dev/null || { echo "bench: mawk missing (apt-get install mawk)" >&2; exit 1; }
if ! command -v hyperfine >/dev/null; then
	echo "bench: installing hyperfine (Debian package)" >&2
	apt-get install -y hyperfine >&2
fi

mkdir -p "$BENCH_DIR"
OUT=${OUT:-$BENCH_DIR/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# make_input LINES: generate (or reuse) the input, print its path.
make_input() {
	local n=$1 f=$BENCH_DIR/nginx-$1.log
	local recipe
	recipe="lines=$n seed=$SEED bad=0 gen=$(sha256sum "$SRC/tests/lib/gen_nginx_log.py" | cut -c1-16)"
	if [ -f "$f" ] && [ -f "$f.recipe" ] &&
	   [ "$(head -1 "$f.recipe")" = "$recipe" ] &&
	   [ "$(sed -n 2p "$f.recipe")" = "$(stat -c %s "$f")" ]; then
		echo "bench: reusing $f ($(stat -c %s "$f") bytes)" >&2
	else
		echo "bench: generating $f ($n lines)" >&2
		rm -f "$f" "$f.recipe"
		python3 "$SRC/tests/lib/gen_nginx_log.py" -n "$n" -o "$f" --seed "$SEED"
		printf '%s\n%s\n' "$recipe" "$(stat -c %s "$f")" >"$f.recipe"
	fi
	echo "$f"
}

{
	echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"kernel $(uname -r), DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?')"
	echo "sluice:  $("$SLUICE" --version 2>&1 | head -1), git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"+ $(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null | wc -l) modified files," \
		"binary built $(date -u -r "$SLUICE" +%H:%MZ)"
	echo "tools:   $(hyperfine --version), mawk $(mawk -W version 2>&1 | head -1 | cut -d' ' -f2-3)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before"
} | tee "$OUT/machine.txt"
INPUT=$(make_input "$LINES")
RUN=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
mkdir -p "$RUN/out"
cat >"$RUN/pipeline.yaml" <<EOF
sources:
  access: { type: file, path: $INPUT }
stages:
  parse:     { use: nginx_parse, inputs: [access] }
  errors:    { use: filter, inputs: [parse], where: "status >= 500" }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl, format: jsonl }
  server_errors: { type: file, inputs: [errors], path: out/5xx.log, format: raw }
EOF
MAWK_PROG='{c[$9]++} END{for(k in c) print k, c[k]}'
SLUICE_CMD="$SLUICE run $RUN/pipeline.yaml -q ${EAL[*]:+$(printf '%q ' "${EAL[@]}")}"
# The same on one lcore (main lcore only), unless EAL arguments were given.
SLUICE1_CMD="$SLUICE run $RUN/pipeline.yaml -q -- -l 0"
# The same in lanes: every stage and the file source split in one replica per CPU, replica k
# on lcore k (`--replicas`; the pipeline file is unchanged).
LANES=$(nproc)
SLUICEL_CMD="$SLUICE run $RUN/pipeline.yaml -q --replicas $LANES"
MAWK_CMD="mawk '$MAWK_PROG' $INPUT"
FLOOR_CMD="$FLOOR $INPUT"

# Correctness first: all three must give the same counts.
cd "$RUN"
$SLUICE run pipeline.yaml --stats-json "$OUT/stats.json" "${EAL[@]}" >"$OUT/sluice.stdout" \
	2>"$OUT/sluice.stderr" || { echo "bench: sluice run failed:" >&2; tail "$OUT/sluice.stderr" >&2; exit 1; }
python3 "$SRC/tests/lib/check_stats.py" counts out/status.jsonl status | sort -n >"$OUT/sluice.counts"
$SLUICE run pipeline.yaml --replicas "$LANES" >/dev/null 2>"$OUT/sluice-lanes.stderr" ||
	{ echo "bench: sluice --replicas run failed:" >&2; tail "$OUT/sluice-lanes.stderr" >&2; exit 1; }
python3 "$SRC/tests/lib/check_stats.py" counts out/status.jsonl status | sort -n \
	>"$OUT/sluice-lanes.counts"
LC_ALL=C mawk "$MAWK_PROG" "$INPUT" | sort -n >"$OUT/mawk.counts"
"$FLOOR" "$INPUT" >"$OUT/floor.counts"
if ! cmp -s "$OUT/sluice.counts" "$OUT/mawk.counts" || ! cmp -s "$OUT/floor.counts" "$OUT/mawk.counts" ||
	! cmp -s "$OUT/sluice-lanes.counts" "$OUT/mawk.counts"; then
	echo "bench: the three disagree; see $OUT/{sluice,mawk,floor}.counts" >&2
	exit 1
fi
echo "bench: sluice, mawk and floor agree on $(wc -l <"$OUT/mawk.counts") statuses over $LINES lines" >&2

# Rounds: one run of each per round, order rotated.
[ "$PROFILE" = 1 ] && ROUNDS=0
names=(sluice mawk floor)
cmds=("$SLUICE_CMD" "$MAWK_CMD" "$FLOOR_CMD")
if [ ${#EAL[@]} -eq 0 ]; then
	names+=(sluice-1lc sluice-lanes)
	cmds+=("$SLUICE1_CMD" "$SLUICEL_CMD")
fi
n_cmds=${#names[@]}
for ((r = 0; r < ROUNDS; r++)); do
	args=()
	for ((k = 0; k < n_cmds; k++)); do
		i=$(((r + k) % n_cmds))
		args+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	hyperfine -N --runs 1 --style basic --prepare "rm -f $RUN/out/5xx.log $RUN/out/status.jsonl" \
		--export-json "$OUT/round-$r.json" "${args[@]}" >"$OUT/round-$r.txt" 2>&1 ||
		{ cat "$OUT/round-$r.txt" >&2; exit 1; }
done
cd "$SRC"

echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after" | tee -a "$OUT/machine.txt"
[ "$ROUNDS" -gt 0 ] && python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {}
cmds = {}
for r in range(rounds):
    for res in json.load(open("%s/round-%d.json" % (out, r)))["results"]:
        name = res["command"]
        cmds[name] = res.get("command")
        for t, u, s in zip(res["times"], res["user"] if isinstance(res["user"], list) else [res["user"]],
                           res["system"] if isinstance(res["system"], list) else [res["system"]]):
            runs.setdefault(name, []).append({"round": r, "wall": t, "cpu": u + s})
merged = {"rounds": rounds, "order": "rotated per round", "results": [
    {"command": n, "times": [x["wall"] for x in v], "cpu": [x["cpu"] for x in v]}
    for n, v in runs.items()]}
json.dump(merged, open(out + "/hyperfine.json", "w"), indent=1)

def stat(v):
    return statistics.median(v), min(v), max(v)

print("%-12s %8s %8s %8s   %8s %8s" % ("command", "median", "min", "max", "cpu med", "cpu max"))
for n in [x for x in ("sluice", "sluice-1lc", "sluice-lanes", "mawk", "floor") if x in runs]:
    w = stat([x["wall"] for x in runs[n]])
    c = stat([x["cpu"] for x in runs[n]])
    print("%-12s %7.3fs %7.3fs %7.3fs   %7.3fs %7.3fs" % (n, w[0], w[1], w[2], c[0], c[2]))
for s in [x for x in ("sluice", "sluice-1lc", "sluice-lanes") if x in runs]:
    for base in ("mawk", "floor"):
        med = statistics.median(x["wall"] for x in runs[s]) / \
            statistics.median(x["wall"] for x in runs[base])
        per = sorted(a["wall"] / b["wall"] for a, b in zip(runs[s], runs[base]))
        print("%-12s / %-5s wall: ratio of medians %5.2f (per round %.2f..%.2f)"
              % (s, base, med, per[0], per[-1]))
print("runs per command: %d; exports: %s/round-*.json, merged %s/hyperfine.json"
      % (len(runs["sluice"]), out, out))
EOF

if [ "$PROFILE" = 1 ]; then
	PIN=$(make_input 200000)
	PRUN=$(mktemp -d "$BENCH_DIR/prof.XXXXXX")
	mkdir -p "$PRUN/out"
	sed "s|path: $INPUT|path: $PIN|" "$RUN/pipeline.yaml" >"$PRUN/pipeline.yaml"
	cd "$PRUN"
	# valgrind cannot map the address space EAL reserves for -m 512; -m 256 fits.
	VG_EAL=("${EAL[@]}")
	[ ${#VG_EAL[@]} -eq 0 ] && VG_EAL=(-- --no-huge -m 256)
	valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
		"$SLUICE" run pipeline.yaml --stats-json "$OUT/profile-stats.json" "${VG_EAL[@]}" \
		>"$OUT/profile.stdout" 2>"$OUT/profile.stderr" ||
		{ echo "bench: callgrind run failed" >&2; tail "$OUT/profile.stderr" >&2; }
	cd "$SRC"
	rm -rf "$PRUN/out"
	if [ -s "$OUT/callgrind.out" ]; then
		callgrind_annotate --inclusive=no "$OUT/callgrind.out" 2>/dev/null |
			sed -n '/^-* *$/,$p' | grep -v '^--' | head -40 >"$OUT/callgrind.top"
		echo "== callgrind (200000 lines): top functions by instructions (self)"
		cat "$OUT/callgrind.top"
		echo "== callgrind: instructions per input line, inclusive, per task function"
		callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null |
			python3 -c '
import re, sys
want = ["file_poll", "nginx_parse_process", "filter_process", "count_process", "sink_run",
        "source_run", "stage_run", "sl_edge_send", "sl_edge_flush", "sl_worker_loop",
        "sl_eal_init", "sl_pipeline_create", "sl_pipeline_run", "sl_pipeline_destroy"]
seen = {}
for line in sys.stdin:
    # One function shows up once per file its inlined code came from; the largest
    # inclusive figure is the whole function.
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*:(\w+)( \[|$)", line)
    if m and m.group(2) in want:
        v = int(m.group(1).replace(",", ""))
        seen[m.group(2)] = max(v, seen.get(m.group(2), 0))
for f in want:
    if f in seen:
        print("%-22s %14d Ir %9.1f Ir/line" % (f, seen[f], seen[f] / 200000))
'
	fi
	# Fixed cost: the same pipeline on a one-line input (EAL bring-up, pools, teardown).
	head -1 "$INPUT" >"$BENCH_DIR/one-line.log"
	mkdir -p "$PRUN/out"
	sed "s|path: $INPUT|path: $BENCH_DIR/one-line.log|" "$RUN/pipeline.yaml" >"$PRUN/pipeline.yaml"
	(cd "$PRUN" && hyperfine -N --runs 5 --style basic --export-json "$OUT/startup.json" \
		-n sluice-1-line "$SLUICE run pipeline.yaml -q ${EAL[*]:+$(printf '%q ' "${EAL[@]}")}" \
		-n sluice-1-line-1lc "$SLUICE run pipeline.yaml -q -- -l 0" 2>&1 |
		grep -E 'Benchmark|Time|Range')
	rm -rf "$PRUN"
	# The same per-node figures on one lcore, where every hop stays on one core, and in
	# lanes (--replicas $LANES), where each event stays on its lane's lcore.
	mkdir -p "$RUN/out"
	(cd "$RUN" && "$SLUICE" run pipeline.yaml -q --stats-json "$OUT/stats-1lc.json" -- -l 0)
	(cd "$RUN" && "$SLUICE" run pipeline.yaml -q --replicas "$LANES" \
		--stats-json "$OUT/stats-lanes.json")
	# Where the CPU goes in lanes, by symbol (cpu-clock samples; kernel time included).
	if command -v perf >/dev/null 2>&1; then
		(cd "$RUN" && perf record -q -F 5000 -o "$OUT/perf-lanes.data" \
			"$SLUICE" run pipeline.yaml -q --replicas "$LANES" >/dev/null 2>&1)
		echo "== perf record, lanes, $LINES lines: top symbols by samples"
		perf report -i "$OUT/perf-lanes.data" --no-children --sort sym 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -15
	fi
	for st in stats stats-1lc stats-lanes; do
		echo "== per node, from --stats-json of the correctness run ($LINES lines): $st.json"
		python3 - "$OUT/$st.json" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
print("%-14s %-7s %-12s %10s %10s %14s %10s" % ("node", "role", "kind", "in", "out", "busy_cycles",
                                               "cyc/event"))
for n in st["nodes"]:
    ev = n["in"] if n["role"] != "source" else n["out"]
    print("%-14s %-7s %-12s %10d %10d %14d %10.1f" % (n["name"], n["role"], n["kind"], n["in"],
          n["out"], n["busy_cycles"], n["busy_cycles"] / ev if ev else 0))
total = sum(n["busy_cycles"] for n in st["nodes"])
lines = sum(n["out"] for n in st["nodes"] if n["role"] == "source")
print("all nodes: %.1f busy cycles per input line; %d lcores, elapsed %.3f s"
      % (total / lines, st.get("lcores", 0), st["elapsed_s"]))
EOF
	done
fi
