#!/usr/bin/env bash
# Fail-fast blame and `sluice run --supervise`, with the crash_on test plugin (segfaults on
# the event whose bytes contain BOOM). 1: unsupervised, the process dies of SIGSEGV and
# leaves a blame record naming the stage, kind, version, plugin, fault address 0x10 and
# (when the runtime sets the per-lcore blame slot) the id of the BOOM line, which Python
# computes as its byte offset. 2: supervised, every restart crashes again; the supervisor
# backs off (50, 100 ms) and gives up after --max-crashes 3 with a clear message. 3: after
# the first crash the input is repaired; the restarted child finishes and writes every
# line. 4: SIGTERM to the supervisor drains the child once and is not taken for a crash;
# so does SIGHUP (the child removes its control socket).
# 5: with a checkpointed file source, the restart resumes where the acknowledged output
# ended: no line lost, every committed line once (only uncommitted ones may come twice).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
plugin=$SLUICE_BUILD/plugins/testing/crash_on.so
[ -f "$plugin" ] || tap_skip_all "crash_on plugin not built: $plugin"
tap_plan 21
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; rm -rf "$TMP"' EXIT
cp "$plugin" crash_on.so && chmod 0644 crash_on.so
eal=(-- --no-huge -m 256)

python3 - <<'EOF'
with open("in.log", "wb") as f, open("boom.id", "w") as b:
    off = 0
    for i in range(3000):
        l = b"event %d %s\n" % (i, b"BOOM" if i == 2100 else b"fine")
        if i == 2100:
            b.write("%d\n" % off)
        f.write(l)
        off += len(l)
EOF
boom_id=$(cat boom.id)
cat >p.yaml <<'EOF'
plugins: [./crash_on.so]
sources:
  access: { type: file, path: in.log }
stages:
  risky: { use: crash_on, inputs: [access], marker: "BOOM" }
sinks:
  kept: { type: file, inputs: [risky], path: out/kept.log, format: raw }
EOF

# 1: unsupervised crash.
timeout 60 "$SLUICE" run p.yaml --blame-file blame1.json "${eal[@]}" >out1 2>err1
tap_is "$?" 139 "a fault in a stage kills the process with SIGSEGV (exit 139)"
grep -q "FATAL SIGSEGV (fault address 0x10, .*in stage 'risky' (crash_on 1.0.0, plugin ./crash_on.so)" err1
tap_ok $? "stderr names the signal, fault address, stage, kind, version and plugin"
[ "$?" -ne 0 ] && tap_diag "$(tail -3 err1)"
cat >check_blame.py <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
want = {"signame": "SIGSEGV", "signal": 11, "fault_addr": "0x10", "stage": "risky",
        "use": "crash_on", "version": "1.0.0", "plugin": "./crash_on.so",
        "pc_in_plugin": "./crash_on.so"}
bad = ["%s=%r (want %r)" % (k, d.get(k), v) for k, v in want.items() if d.get(k) != v]
if bad:
    print("; ".join(bad))
sys.exit(1 if bad else 0)
EOF
python3 check_blame.py blame1.json >cb1.out 2>&1
tap_ok $? "the blame file holds one JSON record with the same facts"
[ -s cb1.out ] && tap_diag "$(cat cb1.out)"
ids=$(python3 -c 'import json,sys; print(json.loads(open("blame1.json").readline())["event_ids"])' 2>/dev/null)
if [ "$ids" = "None" ] || [ -z "$ids" ]; then
	tap_skip 1 "event ids need the blame hook in stage_run (graph/pipeline.c, docs/resilience.md)"
else
	python3 -c 'import json,sys; sys.exit(0 if int(sys.argv[1]) in json.loads(open("blame1.json").readline())["event_ids"] else 1)' "$boom_id"
	tap_ok $? "the record's burst holds the BOOM line's event id ($boom_id)"
fi
n_kept=$(cat out/kept.log 2>/dev/null | wc -l)
tap_ok "$([ "$n_kept" -lt 3000 ] && echo 0 || echo 1)" "the crashed run did not finish ($n_kept of 3000 lines written)"

# 2: supervised, crashing every time.
start=$(date +%s.%N)
timeout 120 "$SLUICE" run p.yaml --supervise --max-crashes 3 --crash-window 60 \
	--restart-delay 50 --blame-file blame2.json "${eal[@]}" >out2 2>err2
rc=$?
took=$(python3 -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start")
tap_is "$rc" 1 "the supervisor gives up with exit status 1 (after ${took} s)"
tap_is "$(grep -c 'died of Segmentation fault' err2)" 3 "three crashes were seen"
grep -q "giving up: 3 crashes within 60 s; the last: SIGSEGV at 0x10 in stage 'risky' (crash_on 1.0.0, plugin ./crash_on.so)" err2
tap_ok $? "the give-up message names the count, the window and the last blame"
[ "$?" -ne 0 ] && tap_diag "$(grep supervise err2 | tail -3)"
grep -q 'restarting in 50 ms' err2 && grep -q 'restarting in 100 ms' err2
tap_ok $? "the restart delay backs off (50 ms, then 100 ms)"
tap_is "$(grep -c 'FATAL SIGSEGV' err2)" 3 "each child wrote its blame line"
python3 check_blame.py blame2.json >cb2.out 2>&1
tap_ok $? "the supervisor's blame file holds the last child's record"

# 3: the input is repaired after the first crash; the restart runs to the end.
cp in.log in.orig
timeout 120 "$SLUICE" run p.yaml --supervise --max-crashes 3 --restart-delay 1500 \
	--blame-file blame3.json "${eal[@]}" >out3 2>err3 &
sup=$!
for _ in $(seq 1 200); do
	grep -q 'died of' err3 && break
	sleep 0.05
done
grep -q 'died of' err3
tap_ok $? "the first child crashed"
sed 's/BOOM/boom/' in.orig >in.log
wait "$sup"
tap_is "$?" 0 "the restarted child runs to the end and the supervisor exits 0"
tap_cmp out/kept.log in.log "every line of the repaired input was written once"

# 4: a stop signal is passed on once and not taken for a crash.
cat >gen.yaml <<'EOF'
plugins: [./crash_on.so]
sources:
  g: { type: gen, count: 0, rate: 2000 }
stages:
  risky: { use: crash_on, inputs: [g], marker: "NEVER-IN-A-LOG-LINE" }
sinks:
  out: { type: "null", inputs: [risky] }
EOF
timeout 60 "$SLUICE" run gen.yaml --supervise --blame-file blame4.json "${eal[@]}" >out4 2>err4 &
sup=$!
sleep 1.5
kill -TERM "$(pgrep -P "$sup" | head -1)"
wait "$sup"
tap_is "$?" 0 "SIGTERM drains the child and the supervisor exits 0"
tap_is "$(grep -c 'died of\|restarting' err4)" 0 "no restart after a stop"
# The same with SIGHUP, which the supervisor passes on too: the child once had no handler
# for it and died, leaving its socket.
timeout 60 "$SLUICE" run gen.yaml --supervise --blame-file blame4h.json --socket hup.sock \
	"${eal[@]}" >out4h 2>err4h &
sup=$!
for _ in $(seq 1 200); do [ -S hup.sock ] && break; sleep 0.05; done
kill -HUP "$(pgrep -P "$sup" | head -1)"
wait "$sup"
tap_is "$?" 0 "SIGHUP drains the child and the supervisor exits 0 ($(tail -1 err4h))"
tap_ok "$([ ! -e hup.sock ] && [ "$(grep -c 'died of\|restarting' err4h)" = 0 ]; echo $?)" \
	"no restart after SIGHUP, and the child removed its socket"

# 5: resume from a checkpoint. A followed file with a checkpoint is read and written out
# (20000 lines, acknowledged); then 200 lines with BOOM among them are appended; the child
# crashes; BOOM is repaired in place (same inode, so the checkpoint still names the file)
# and the restarted child resumes at the checkpoint: every line is written, none twice.
python3 -c '
with open("f.log", "w") as f:
    for i in range(20000): f.write("event %05d fine\n" % i)'
cat >ck.yaml <<'EOF2'
plugins: [./crash_on.so]
sources:
  access: { type: file, paths: [f.log], follow: true, checkpoint: state/f.ckpt, checkpoint_interval: 50ms }
stages:
  risky: { use: crash_on, inputs: [access], marker: "BOOM" }
sinks:
  kept: { type: file, inputs: [risky], path: out/ck.log, format: raw, append: true }
EOF2
mkdir -p state
timeout 60 "$SLUICE" run ck.yaml --supervise --restart-delay 1000 --blame-file blame5.json \
	"${eal[@]}" >out5 2>err5 &
sup=$!
for _ in $(seq 1 200); do
	[ "$(cat out/ck.log 2>/dev/null | wc -l)" -ge 20000 ] && break
	sleep 0.05
done
sleep 0.5
python3 -c '
with open("f.log", "a") as f:
    for i in range(20000, 20200): f.write("event %05d %s\n" % (i, "BOOM" if i == 20100 else "fine"))'
for _ in $(seq 1 200); do
	grep -q 'died of' err5 && break
	sleep 0.05
done
python3 -c '
f = open("f.log", "r+b"); d = f.read(); f.seek(d.index(b"BOOM")); f.write(b"boom"); f.close()'
for _ in $(seq 1 200); do
	[ "$(sort -u out/ck.log | wc -l)" -ge 20200 ] && break
	sleep 0.05
done
sleep 0.3
kill -TERM "$(pgrep -P "$sup" | head -1)"
wait "$sup"
tap_is "$?" 0 "checkpointed run: crash, restart, stop; the supervisor exits 0"
grep -q 'resumed=1' err5
tap_ok $? "the restarted child resumed the file from its checkpoint"
# At-least-once (docs/file-tailing.md): the restart reads again what no checkpoint had
# committed when the child died. The first 20,000 lines were committed long before (the
# test waited for them, then 0.5 s): each exactly once. Of the 200 appended with BOOM, those
# the sink had written before the crash but the 50 ms checkpoint had not yet committed come
# twice; usually none (they wait in the sink's buffer and die with the child), but a loaded
# machine can flush them first.
python3 - f.log out/ck.log >ck.check <<'PY'
import collections, sys
want = open(sys.argv[1]).read().splitlines()
got = collections.Counter(open(sys.argv[2]).read().splitlines())
old, new = set(want[:20000]), set(want[20000:])
lost = [l for l in want if got[l] == 0]
bad = [l for l, n in got.items() if l not in old and l not in new or l in old and n != 1 or n > 2]
print("yes" if not lost and not bad else "no", len(lost), len(bad),
      sum(n - 1 for l, n in got.items() if l in new))
PY
read -r ok n_lost n_bad n_dup <ck.check
tap_is "$ok" yes "every line was written across the crash: none lost, the committed ones once ($n_lost lost, $n_bad wrong; $n_dup of the uncommitted appended lines twice)"
tap_done
