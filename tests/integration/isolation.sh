#!/usr/bin/env bash
# Sandboxed stages (`isolation: process`, docs/resilience.md) with the misbehaving test
# plugins. Python writes the input and computes, from it alone, which lines carry the
# marker and each line's event id (its byte offset). 1: issue 8's pipeline exactly as
# written (crash_on, `risky.failed` to a dlq sink) validates and runs: the marked lines
# are in the DLQ with reason stage_crash, every other line reaches out/kept.log in order,
# the pipeline ends normally and reports the restart time. 2: hang_on: the watchdog kills
# the child at the budget (stage_timeout); scribble_on, a child that also writes a
# bystander's pid over the shared region's header, is killed and the bystander is not. 3: garbage_on (out-of-range count, invalid
# msgpack, the same event emitted twice): stage_garbage. 4: socket_on: seccomp kills a
# child that opens a socket (SIGSYS). 5: the circuit breaker opens after K failures, routes
# by policy and closes after a probe; kept + DLQ hold every line once. 6: bad isolation
# keys are refused at their position. 7: in process (isolation: none) an out-of-range
# output count fails fast (SIGABRT) with a blame record naming the stage and the reason.
# 8: an in-process stage's `budget` is counted (budget_exceeded), not enforced.
# (Records through sandboxes, with no timing in their checks: isolation_records.sh.)
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
pdir=$SLUICE_BUILD/plugins/testing
for p in crash_on hang_on garbage_on socket_on scribble_on; do
	[ -f "$pdir/$p.so" ] || tap_skip_all "test plugin not built: $pdir/$p.so"
done
tap_plan 43
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../lib/isolation_fixture.sh"
isolation_fixture crash_on hang_on garbage_on socket_on scribble_on
eal=(-- --no-huge -m 256)

# check_dlq FILE REASON WANT: every entry has the reason, the stage's names, and the ids
# and bytes of WANT ("id raw" lines) in order. Prints what differs.
cat >check_dlq.py <<'EOF'
import json, sys
path, reason, want = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(path)]
got = ["%d %s" % (r["event_id"], r.get("raw")) for r in rows]
exp = [l.rstrip("\n") for l in open(want)]
bad = []
if got != exp:
    bad.append("entries %r, want %r" % (got, exp))
for r in rows:
    if r.get("reason") != reason or r.get("stage") != "risky" or r.get("output") != "failed":
        bad.append("entry %s: reason %r stage %r output %r" % (r.get("event_id"), r.get("reason"), r.get("stage"), r.get("output")))
print("; ".join(bad)[:600])
sys.exit(1 if bad else 0)
EOF

# 1: the issue's pipeline.
"$SLUICE" validate p.yaml >v.out 2>&1
tap_ok $? "the issue's pipeline validates as written"
[ "$?" -ne 0 ] && tap_diag "$(cat v.out)"
timeout 60 "$SLUICE" run "$TMP/p.yaml" "${eal[@]}" >out1 2>err1
tap_is "$?" 0 "it runs to the end although the stage segfaults three times"
# Regression: children whose uid changed lost PR_SET_PDEATHSIG and outlived sluice, and
# the zygote did not reap the ones it killed. The children's command line is sluice's.
sleep 0.3
left=$(ps -eo comm=,args= | awk -v t="$TMP/p.yaml" '($1 == "sluice-sandbox" || $1 == "sluice-zygote") && index($0, t)' | wc -l)
tap_is "$left" 0 "no sandbox child or zygote of the run is left after it ends"
tap_cmp out/kept.log kept.want "every unmarked line reaches kept.log, in order (2997 lines)"
python3 check_dlq.py out/dlq.jsonl stage_crash dead.want >c1.out 2>&1
tap_ok $? "the three marked lines are in the DLQ with reason stage_crash, their ids and bytes"
grep -q . c1.out && tap_diag "$(cat c1.out)"
grep -q '"detail":"killed by SIGSEGV"' out/dlq.jsonl
tap_ok $? "each DLQ entry says the child was killed by SIGSEGV"
grep -q 'counters: passed=2997 .*sandbox_crashes=[1-9]' err1
tap_ok $? "the stage's own counter (passed=2997) and the sandbox's crashes are in the summary"
[ "$?" -ne 0 ] && tap_diag "$(grep counters err1)"
restart_ms=$(sed -n 's/.*restarted in \([0-9.]*\) ms.*/\1/p' err1 | sort -n | tail -1)
[ -n "$restart_ms" ]
tap_ok $? "each restart is logged with its time (slowest: ${restart_ms:-none} ms)"
awk -v t="${restart_ms:-1e9}" 'BEGIN { exit !(t < 100) }'
tap_ok $? "restarts take less than 100 ms (slowest ${restart_ms:-none} ms)"
grep -q 'restart_us_max=[0-9]' err1
tap_ok $? "the summary reports restart_us_last and restart_us_max"

# run_case NAME USE EXTRA: the same pipeline with another plugin and keys.
run_case() {
	sed -e "s/crash_on/$2/g" -e "s/isolation: process/isolation: process$3/" \
		-e "s#out/#out-$1/#g" p.yaml >"$1.yaml"
	timeout 60 "$SLUICE" run "$1.yaml" "${eal[@]}" >"out-$1.txt" 2>"err-$1.txt"
}

# 2: a hang, cut by the watchdog at the budget.
start=$(date +%s%N)
run_case hang hang_on ", budget: 30ms"
tap_is "$?" 0 "hang_on: the pipeline runs to the end"
took_ms=$((($(date +%s%N) - start) / 1000000))
tap_cmp out-hang/kept.log kept.want "hang_on: every unmarked line arrives"
python3 check_dlq.py out-hang/dlq.jsonl stage_timeout dead.want >c2.out 2>&1
tap_ok $? "hang_on: the marked lines are in the DLQ with reason stage_timeout"
grep -q . c2.out && tap_diag "$(cat c2.out)"
grep -q '"detail":"no result within the budget of 30.000 ms"' out-hang/dlq.jsonl
tap_ok $? "hang_on: the entry names the budget (run took $took_ms ms)"
grep -q 'budget_exceeded=[1-9]' err-hang.txt
tap_ok $? "hang_on: budget_exceeded is counted"
# The same hang after writing a bystander's pid over the region's handshake words: sluice
# once read the child's pid from there and killed whatever it said.
sleep 300 &
bystander=$!
run_case scribble scribble_on ", budget: 30ms, value: $bystander"
tap_is "$?" 0 "scribble_on: the pipeline runs to the end"
python3 check_dlq.py out-scribble/dlq.jsonl stage_timeout dead.want >c2s.out 2>&1 &&
	cmp -s out-scribble/kept.log kept.want
tap_ok $? "scribble_on: the marked lines are in the DLQ (stage_timeout), the rest kept"
grep -q . c2s.out && tap_diag "$(cat c2s.out)"
kill -0 "$bystander" 2>/dev/null
tap_ok $? "scribble_on: the bystander whose pid the child wrote is alive"
kill "$bystander" 2>/dev/null

# 3: garbage of three kinds.
for g in count msgpack double; do
	run_case "g$g" garbage_on ", garbage: $g"
	tap_is "$?" 0 "garbage_on ($g): the pipeline runs to the end"
	tap_cmp "out-g$g/kept.log" kept.want "garbage_on ($g): every unmarked line arrives"
	python3 check_dlq.py "out-g$g/dlq.jsonl" stage_garbage dead.want >"c3$g.out" 2>&1
	tap_ok $? "garbage_on ($g): the marked lines are in the DLQ with reason stage_garbage"
	grep -q . "c3$g.out" && tap_diag "$(cat "c3$g.out")"
done
grep -q 'count 60000 on output 0 is out of range' out-gcount/dlq.jsonl &&
	grep -q 'record is not a valid msgpack map' out-gmsgpack/dlq.jsonl &&
	grep -q 'emitted twice' out-gdouble/dlq.jsonl
tap_ok $? "garbage_on: each entry says what was wrong"

# 4: seccomp.
run_case sock socket_on ""
tap_is "$?" 0 "socket_on: the pipeline runs to the end"
tap_cmp out-sock/kept.log kept.want "socket_on: every unmarked line arrives"
python3 check_dlq.py out-sock/dlq.jsonl stage_crash dead.want >c4.out 2>&1 &&
	grep -q 'killed by SIGSYS (seccomp' out-sock/dlq.jsonl
tap_ok $? "socket_on: socket(2) in the sandbox is killed by seccomp (SIGSYS, stage_crash)"
grep -q . c4.out && tap_diag "$(cat c4.out)"

# 5: the circuit breaker. Lines 1000-1029 carry the marker: after 3 failures the breaker
# opens and routes input to the DLQ (circuit_open); after 1 ms a probe tries again (the
# input is long enough to outlast that however fast the open breaker routes it).
python3 - <<'EOF'
with open("in5.log", "wb") as f:
    for i in range(100000):
        f.write(b"event %d %s\n" % (i, b"BOOM" if 1000 <= i < 1030 else b"fine"))
EOF
sed -e 's/in.log/in5.log/' -e 's/isolation: process/isolation: process, breaker_failures: 3, breaker_window: 10s, breaker_probe: 1ms/' \
	-e 's#out/#out5/#g' p.yaml >b.yaml
timeout 60 "$SLUICE" run b.yaml "${eal[@]}" >out5.txt 2>err5.txt
tap_is "$?" 0 "breaker: the pipeline runs to the end"
grep -q 'circuit breaker open: 3 failures' err5.txt && grep -q 'circuit breaker closed' err5.txt
tap_ok $? "breaker: it opens after 3 failures and closes after a probe succeeds"
[ "$?" -ne 0 ] && tap_diag "$(grep -i breaker err5.txt | head -5)"
python3 - >c5.out 2>&1 <<'EOF'
import json, sys
lines = open("in5.log", "rb").read().split(b"\n")[:-1]
kept = open("out5/kept.log", "rb").read().split(b"\n")[:-1]
dead = [json.loads(l) for l in open("out5/dlq.jsonl")]
bad = []
draw = [d["raw"].encode() for d in dead]
if sorted(kept + draw) != sorted(lines):
    bad.append("kept (%d) + dlq (%d) is not the input (%d) once" % (len(kept), len(draw), len(lines)))
if any(b"BOOM" in l for l in kept):
    bad.append("a marked line reached kept.log")
reasons = {d["reason"] for d in dead}
if not reasons <= {"stage_crash", "circuit_open"} or "circuit_open" not in reasons:
    bad.append("reasons %r" % reasons)
if sum(d["reason"] == "stage_crash" for d in dead) < 3:
    bad.append("fewer than 3 stage_crash entries")
if kept[-1] != lines[-1]:
    bad.append("the input's last line did not get through after the breaker closed")
print("; ".join(bad))
sys.exit(1 if bad else 0)
EOF
tap_ok $? "breaker: kept + DLQ hold every line once; no marked line kept; reasons crash and circuit_open"
grep -q . c5.out && tap_diag "$(cat c5.out)"

# 6: refused keys, at their position.
printf 'plugins: [build/plugins/testing/crash_on.so]\nsources:\n  a: { type: file, path: in.log }\nstages:\n  r: { use: crash_on, inputs: [a], marker: B, isolation: jail }\nsinks:\n  k: { type: null, inputs: [r] }\n' >e1.yaml
"$SLUICE" validate e1.yaml >e1.out 2>&1
col=$(awk 'NR == 5 { print index($0, "jail") }' e1.yaml)
grep -q "e1.yaml:5:$col: stage 'r' (crash_on): isolation: expected none, process or bpf, got 'jail'" e1.out
tap_ok $? "an unknown isolation level is refused at its position"
[ "$?" -ne 0 ] && tap_diag "$(cat e1.out)"
sed -e 's/isolation: jail/isolation: process, breaker_policy: retry/' e1.yaml >e2.yaml
"$SLUICE" validate e2.yaml >e2.out 2>&1
grep -q "e2.yaml:5:.*breaker_policy: expected dlq, skip or pass_through, got 'retry'" e2.out
tap_ok $? "an unknown breaker policy is refused"
sed -e 's/isolation: jail/replicas: 8, isolation: process/' e1.yaml >e3.yaml
"$SLUICE" run e3.yaml "${eal[@]}" >e3.out 2>&1
grep -q "at most 4 replicas" e3.out
tap_ok $? "more replicas than sandboxes are refused"
sed -e 's/isolation: jail/budget: 5ms, cpu: 2s/' e1.yaml >e4.yaml
"$SLUICE" validate e4.yaml >e4.out 2>&1
grep -q "cpu: only for stages with isolation: process" e4.out
tap_ok $? "sandbox keys on an in-process stage are refused"

# 7: garbage in process: the runtime checks the counts after every call.
sed -e 's/crash_on/garbage_on/g' -e 's/, isolation: process//' -e 's#out/#out7/#g' p.yaml >n.yaml
timeout 60 "$SLUICE" run n.yaml --blame-file b7.json "${eal[@]}" >out7.txt 2>err7.txt
tap_is "$?" 134 "garbage in an in-process stage fails fast with SIGABRT, not a crash later"
grep -q "FATAL SIGABRT (invalid output: count 60000 on output 0 is past the cap).* in stage 'risky' (garbage_on 1.0.0" err7.txt
tap_ok $? "stderr names the invalid count, the stage and its plugin"
[ "$?" -ne 0 ] && tap_diag "$(grep FATAL err7.txt)"
first=$(head -1 dead.want | cut -d' ' -f1)
python3 -c '
import json, sys
d = json.loads(open("b7.json").readline())
ok = d["reason"].startswith("invalid output: count 60000") and d["stage"] == "risky" and int(sys.argv[1]) in (d["event_ids"] or [])
sys.exit(0 if ok else 1)' "$first"
tap_ok $? "the blame record has the reason, the stage and the marked line's id ($first) in its burst"

# 8: a budget in process: counted only.
sed -e 's/, isolation: process/, budget: 1ns/' -e 's#out/#out8/#g' -e 's/"BOOM"/"NOT-IN-THE-INPUT"/' p.yaml >b8.yaml
timeout 60 "$SLUICE" run b8.yaml "${eal[@]}" >out8.txt 2>err8.txt
rc=$?
cmp -s out8/kept.log in.log && [ "$rc" -eq 0 ] && grep -q 'counters: passed=3000 budget_exceeded=[1-9]' err8.txt
tap_ok $? "a 1 ns budget on an in-process stage: every call counted over budget, every line kept"
[ "$?" -ne 0 ] && tap_diag "$(grep counters err8.txt)"
sed -e 's/budget: 1ns/budget: 10s/' -e 's#out8/#out9/#g' b8.yaml >b9.yaml
timeout 60 "$SLUICE" run b9.yaml "${eal[@]}" >out9.txt 2>err9.txt
! grep -q 'budget_exceeded=[1-9]' err9.txt && cmp -s out9/kept.log in.log
tap_ok $? "a 10 s budget: nothing counted, every line kept"
tap_done
