#!/usr/bin/env bash
# Memory and CPU caps of a stage (issue 8, docs/resilience.md "Memory cap"), with the test
# plugin alloc_on (allocates and keeps `bytes` on each event carrying the marker; fails the
# event with reason out_of_memory when malloc returns NULL, or aborts with on_null: abort).
# Python writes the input (20000 lines, GROW on every 500th, HUGE on 3, SPIN on 1) and
# checks every output against it: which lines are marked, their event ids (byte offsets).
# 1: in process, `memory: 8M`: the stage's jemalloc arena refuses past the cap; the run
#    goes on, the marked lines past the cap are in the DLQ (out_of_memory) and only they,
#    they are the last marked ones (memory is kept), every other line is kept in order,
#    memory_refused equals the DLQ's count, and the process's peak RSS grows by less than
#    the cap where the same run without the cap grows by the 40 MB it allocates. In a build
#    without jemalloc (the ASan build) the key is refused at its position instead, and
#    these checks are skipped with that reason.
# 2: `isolation: process, memory: 24M` (RLIMIT_DATA of the sandbox child; not applied
#    under ASan, so skipped there): the same, from the child. 3: on_null: abort with an
#    allocation bigger than the limit: each HUGE line kills the child (SIGABRT), which is
#    restarted, and the line is in the DLQ with reason stage_crash. 4: `cpu: 1s`
#    (RLIMIT_CPU): hang_on spinning on SPIN is killed by SIGXCPU, restarted, the line is in
#    the DLQ, every other line arrives.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
pdir=$SLUICE_BUILD/plugins/testing
for p in alloc_on hang_on; do
	[ -f "$pdir/$p.so" ] || tap_skip_all "test plugin not built: $pdir/$p.so"
done
tap_plan 19
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -p pl
for p in alloc_on hang_on; do
	cp "$pdir/$p.so" pl/ && chmod 0644 pl/$p.so
done
eal=(-- --no-huge -m 256)

python3 - <<'EOF'
with open("in.log", "w") as f:
    for i in range(20000):
        tag = "GROW" if i % 500 == 250 else "HUGE" if i in (3000, 9000, 15000) else \
              "SPIN" if i == 12345 else "fine"
        f.write("event %d %s\n" % (i, tag))
EOF

# check.py DIR MARKER REASON [STRICT_SUFFIX]: DIR/kept.log is in.log without the lines in
# DIR/dlq.jsonl, in order; every DLQ entry is a MARKER line with its own event id (byte
# offset), stage 'leak', output failed, the reason REASON; with STRICT_SUFFIX the entries
# are the last marked lines (the cap is reached once and stays reached). Prints
# "kept N dead N" or what differs.
cat >check.py <<'EOF'
import json, sys
d, marker, reason = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
suffix = len(sys.argv) > 4
lines, off = [], 0
for l in open("in.log", "rb"):
    lines.append((off, l.rstrip(b"\n")))
    off += len(l)
marked = [o for o, l in lines if marker in l]
rows = [json.loads(l) for l in open(d + "/dlq.jsonl")]
dead = {r["event_id"] for r in rows}
bad = []
for r in rows:
    if (r.get("reason"), r.get("stage"), r.get("output")) != (reason, "leak", "failed"):
        bad.append("entry %s: reason %r stage %r output %r" % (r.get("event_id"), r.get("reason"), r.get("stage"), r.get("output")))
byid = dict(lines)
for r in rows:
    if byid.get(r["event_id"], b"").decode() != r.get("raw"):
        bad.append("entry %s: raw %r is not the input's line" % (r["event_id"], r.get("raw")))
if not dead <= set(marked):
    bad.append("unmarked lines in the DLQ: %r" % sorted(dead - set(marked))[:5])
if suffix and sorted(dead) != marked[len(marked) - len(dead):]:
    bad.append("the DLQ is not the last %d marked lines" % len(dead))
want = b"".join(l + b"\n" for o, l in lines if o not in dead)
if open(d + "/kept.log", "rb").read() != want:
    bad.append("kept.log is not the input without the DLQ's lines")
print("; ".join(bad)[:600] if bad else "kept %d dead %d marked %d" % (len(lines) - len(dead), len(dead), len(marked)))
sys.exit(1 if bad else 0)
EOF

# rss.py OUT ERR CMD...: run CMD, print its peak RSS in KiB (wait4), exit with its status.
cat >rss.py <<'EOF'
import os, subprocess, sys
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    p = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
    _, status, ru = os.wait4(p.pid, 0)
print(ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) & 255)
EOF

# counter NAME FILE: a stage counter of leak's summary line (empty when absent).
counter() {
	grep -o " $1=[0-9]*" "$2" | head -1 | cut -d= -f2
}

cat >m.yaml <<'EOF'
plugins: [pl/alloc_on.so]
sources:
  access: { type: file, path: in.log }
stages:
  leak: { use: alloc_on, inputs: [access], marker: "GROW", bytes: 1M, memory: 8M }
sinks:
  kept: { type: file, inputs: [leak], path: out1/kept.log, format: raw }
  dead: { type: dlq, inputs: [leak.failed], path: out1/dlq.jsonl }
EOF
col=$(awk 'NR == 5 { print index($0, "8M") }' m.yaml)

# 1: in process.
"$SLUICE" validate m.yaml >v1.out 2>&1
rc=$?
if grep -q "needs a jemalloc arena" v1.out; then
	grep -q "m.yaml:5:$col: stage 'leak' (alloc_on): memory: a cap on an in-process stage needs a jemalloc arena, and this sluice does not run on jemalloc" v1.out
	tap_ok $? "no jemalloc in this build: memory on an in-process stage is refused at its position"
	[ "$?" -ne 0 ] && tap_diag "$(cat v1.out)"
	tap_skip 8 "this build has no jemalloc (ASan build): the in-process cap is refused, not enforced"
else
	tap_ok $rc "memory: 8M on an in-process stage validates"
	[ "$?" -ne 0 ] && tap_diag "$(cat v1.out)"
	rss1=$(timeout 60 python3 rss.py o1.txt e1.txt "$SLUICE" run m.yaml "${eal[@]}")
	tap_is "$?" 0 "in process, 8M cap: the run ends normally although the stage runs out of memory"
	r=$(python3 check.py out1 GROW out_of_memory suffix)
	tap_ok $? "in process: every unmarked line kept in order; the DLQ holds the last marked lines with out_of_memory ($r)"
	[ "$?" -ne 0 ] && tap_diag "$r"
	dead=$(wc -l <out1/dlq.jsonl)
	alloc=$((40 - dead))
	[ "$dead" -ge 1 ] && [ "$alloc" -ge 2 ] && [ "$alloc" -le 8 ]
	tap_ok $? "in process: $alloc x 1 MB fit in the 8M cap (2 to 8), $dead refused"
	tap_is "$(counter memory_refused e1.txt)" "$dead" "memory_refused counts each refused allocation (= the DLQ's entries)"
	grep -q 'comp=leak msg="memory cap of 8388608 bytes reached' e1.txt
	tap_ok $? "the first refusal is logged once"
	[ "$(grep -c 'memory cap of' e1.txt)" -eq 1 ] || tap_diag "$(grep 'memory cap of' e1.txt)"
	# RSS: the same run without the cap, and without marked lines (the baseline).
	sed -e 's/, memory: 8M//' -e 's#out1/#out1n/#' m.yaml >n.yaml
	sed -e 's/"GROW"/"NOT-IN-THE-INPUT"/' -e 's#out1/#out1b/#' m.yaml >b.yaml
	rssn=$(timeout 60 python3 rss.py o1n.txt e1n.txt "$SLUICE" run n.yaml "${eal[@]}")
	rssb=$(timeout 60 python3 rss.py o1b.txt e1b.txt "$SLUICE" run b.yaml "${eal[@]}")
	tap_diag "peak RSS: capped ${rss1} KiB, uncapped ${rssn} KiB, no marked lines ${rssb} KiB"
	[ $((rssn - rssb)) -gt 30000 ]
	tap_ok $? "without the cap the 40 marked lines grow the peak RSS by > 30 MB ($(((rssn - rssb) / 1024)) MB): the measure sees the leak"
	[ $((rss1 - rssb)) -lt 10240 ]
	tap_ok $? "with the 8M cap the peak RSS grows by < 10 MB ($(((rss1 - rssb) / 1024)) MB)"
	[ "$(wc -l <out1n/dlq.jsonl)" -eq 0 ] && cmp -s out1n/kept.log in.log && [ -z "$(counter memory_refused e1n.txt)" ]
	tap_ok $? "without the cap nothing is refused and every line is kept"
fi
sed -e 's/memory: 8M/memory: 1M/' m.yaml >m2.yaml
"$SLUICE" validate m2.yaml >v2.out 2>&1
grep -q "m2.yaml:5:$col: stage 'leak' (alloc_on): memory: expected at least 4M for an in-process stage, got '1M'" v2.out
tap_ok $? "a cap under 4M on an in-process stage is refused at its position"
[ "$?" -ne 0 ] && tap_diag "$(cat v2.out)"

# 2 and 3: sandboxed, RLIMIT_DATA.
sed -e 's/, memory: 8M/, isolation: process, memory: 24M/' -e 's#out1/#out2/#' m.yaml >p.yaml
sed -e 's/"GROW", bytes: 1M/"HUGE", bytes: 64M, on_null: abort/' -e 's#out2/#out3/#' p.yaml >a.yaml
if grep -q __asan_init "$SLUICE"; then
	tap_skip 6 "ASan build: the sandbox child's RLIMIT_DATA is not applied (ASan maps far more)"
else
	timeout 60 "$SLUICE" run p.yaml "${eal[@]}" >o2.txt 2>e2.txt
	tap_is "$?" 0 "sandboxed, 24M RLIMIT_DATA: the run ends normally"
	r=$(python3 check.py out2 GROW out_of_memory suffix)
	tap_ok $? "sandboxed: every unmarked line kept; the DLQ holds the last marked lines with out_of_memory ($r)"
	[ "$?" -ne 0 ] && tap_diag "$r"
	dead=$(wc -l <out2/dlq.jsonl)
	[ "$dead" -ge 1 ] && [ "$(counter out_of_memory e2.txt)" = "$dead" ] && [ -z "$(counter sandbox_crashes e2.txt)" ]
	tap_ok $? "sandboxed: the child saw $dead NULLs from malloc, handled them (no crash)"
	[ "$?" -ne 0 ] && tap_diag "$(grep counters: e2.txt)"
	timeout 60 "$SLUICE" run a.yaml "${eal[@]}" >o3.txt 2>e3.txt
	tap_is "$?" 0 "sandboxed, 64 MB asked under a 24M limit with on_null: abort: the run ends normally"
	r=$(python3 check.py out3 HUGE stage_crash)
	[ "$(wc -l <out3/dlq.jsonl)" -eq 3 ] && grep -q '"detail":"killed by SIGABRT"' out3/dlq.jsonl
	tap_ok $? "each of the 3 HUGE lines is in the DLQ (stage_crash, killed by SIGABRT), every other line kept ($r)"
	[ "$?" -ne 0 ] && tap_diag "$r"
	n=$(counter sandbox_restarts e3.txt)
	[ "${n:-0}" -ge 3 ] && grep -q 'sandbox child of replica 0 restarted in' e3.txt
	tap_ok $? "the child was restarted after each crash ($n restarts)"
fi

# 4: RLIMIT_CPU (cpu: 1s); the budget is longer, so only the CPU limit can stop the spin.
sed -e 's#pl/alloc_on.so#pl/hang_on.so#' -e 's/use: alloc_on/use: hang_on/' \
	-e 's/marker: "GROW", bytes: 1M, memory: 8M/marker: "SPIN", isolation: process, cpu: 1s, budget: 20s/' \
	-e 's#out1/#out4/#' m.yaml >c.yaml
t0=$(date +%s%N)
timeout 60 "$SLUICE" run c.yaml "${eal[@]}" >o4.txt 2>e4.txt
tap_is "$?" 0 "sandboxed, cpu: 1s: the run ends normally"
t1=$(date +%s%N)
r=$(python3 check.py out4 SPIN stage_crash)
[ "$(wc -l <out4/dlq.jsonl)" -eq 1 ] && grep -q '"detail":"killed by SIGXCPU"' out4/dlq.jsonl
tap_ok $? "the SPIN line is in the DLQ (stage_crash, killed by SIGXCPU), every other line kept ($r)"
[ "$?" -ne 0 ] && tap_diag "$r; $(head -c 400 out4/dlq.jsonl)"
n=$(counter sandbox_restarts e4.txt)
[ "${n:-0}" -ge 1 ] && [ $(((t1 - t0) / 1000000)) -lt 15000 ]
tap_ok $? "the child was restarted ($n restarts) and the run took $(((t1 - t0) / 1000000)) ms (CPU limit, not the 20 s budget)"
tap_done
