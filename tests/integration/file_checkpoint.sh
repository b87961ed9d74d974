#!/usr/bin/env bash
# Checkpoints and end-to-end delivery of the `file` source (docs/file-tailing.md,
# Checkpoints). A sequenced writer (file_checkpoint.py gen: every line carries its stream,
# sequence number and CRC) appends to 4 followed files at 8,000 lines/s while sluice is
# killed with SIGKILL and restarted KILLS times (default 4; SLUICE_CHECKPOINT_KILLS=20 for
# the long variant of issue 3, about 60 s), reading through a stage and a fan-out into a raw
# file sink that writes event ids. The checkpoint must parse after every kill; at the end
# (SIGTERM: drained, final checkpoint, exit 0) the ledger must show no line lost, and
# duplicates within the bound of one checkpoint lag per kill. Then: files rotated several
# times while sluice is stopped (every rotated name still inside the globs) resume with
# nothing lost or repeated, and a file rotated out of the globs while stopped is found by
# its inode and read to its end; a damaged checkpoint stops the start with its path and byte
# offset; a checkpointed source and an untracked one share a sink; a file deleted while
# stopped whose inode a new file with the same first bytes took is read from its start
# (birth time); without checkpoint nothing is written.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
KILLS=${SLUICE_CHECKPOINT_KILLS:-4}
RATE=8000
INTERVAL_MS=200
PY=$SLUICE_SOURCE/tests/integration/file_checkpoint.py
tap_plan $((KILLS + 19))
tap_tmpdir
. "$(dirname "$0")/../lib/sluice_proc.sh"
trap sl_cleanup EXIT

pipeline() { # extra source keys
	cat <<YAML
sources:
  app: { type: file, paths: [logs/*.log*], follow: true, start_at: beginning,
         checkpoint: state/app.ckpt, checkpoint_interval: ${INTERVAL_MS}ms,
         glob_interval: 200ms, rotate_wait: 300ms $1 }
stages:
  keep: { use: sample, inputs: [app], rate: 1 }
sinks:
  out: { type: file, inputs: [keep], path: out/out.log, format: raw, event_id: true,
         append: true, fsync: interval, fsync_interval: 100ms }
  nothing: { type: null, inputs: [app] }
YAML
}

start() { sl_start "$1"; }

stop() { sl_stop "$1"; }

settle() { sl_settle out/out.log; }

# ---- kill -9 under load ----
D=$TMP/kill
mkdir -p "$D/logs"
cd "$D" || exit 1
pipeline "" >p.yaml
secs=$((KILLS * 2 + 2))
python3 "$PY" gen "$D" "$secs" $RATE 4 >gen.out 2>&1 &
GEN=$!
for k in $(seq "$KILLS"); do
	start "run$k.log"
	sleep "$(python3 -c "import random; print(1.2 + random.random())")"
	stop KILL 2>/dev/null
	if [ -e state/app.ckpt ]; then
		python3 "$PY" ckpt state/app.ckpt >"ckpt$k.out"
		tap_ok $? "[kill] checkpoint parses after kill -9 #$k ($(tail -1 "ckpt$k.out" | sed 's/^# //'))"
	else
		tap_ok 1 "[kill] checkpoint exists after kill -9 #$k"
	fi
done
wait "$GEN"
tap_is "$?" 0 "[kill] writer ran (${secs} s at $RATE lines/s)"
start final.log
settle
stop TERM
tap_is "$RC" 0 "[kill] sluice exits 0 after SIGTERM"
python3 "$PY" ckpt state/app.ckpt --complete logs >ckpt_final.out
tap_ok $? "[kill] final checkpoint holds every file at its full size"
# Lag per kill: one interval of events in the open epoch, plus the sink's flush period
# (100 ms) and fsync interval (100 ms) before they count as delivered.
max_dup=$((KILLS * RATE * (INTERVAL_MS + 200) / 1000))
python3 "$PY" ledger out/out.log logs/../writer.state --max-dup "$max_dup" --max-torn "$KILLS" >ledger.out
rc=$?
tap_diag "$(cat ledger.out) (bound: $max_dup duplicates for $KILLS kills)"
tap_ok $rc "[kill] ledger: lost = 0, duplicates <= $max_dup, same id for the same line"
grep -q 'resumed=[1-9]' final.log
tap_ok $? "[kill] the last run resumed files from the checkpoint"

# ---- several rotations while stopped ----
D=$TMP/rotate
mkdir -p "$D/logs"
cd "$D" || exit 1
pipeline "" >p.yaml
python3 "$PY" gen "$D" 0.5 4000 1 >/dev/null
start run1.log
settle
stop TERM
tap_is "$RC" 0 "[rotate] first run exits 0"
for r in 1 2 3; do
	python3 "$PY" gen "$D" 0.3 4000 1 >/dev/null
	mv logs/s00.log "logs/s00.log.$r"
done
python3 "$PY" gen "$D" 0.3 4000 1 >/dev/null
start run2.log
settle
stop TERM
tap_is "$RC" 0 "[rotate] second run exits 0"
python3 "$PY" ledger out/out.log writer.state --max-dup 0 >ledger.out
rc=$?
tap_diag "$(cat ledger.out)"
tap_ok $rc "[rotate] 3 rotations while stopped: nothing lost, nothing read twice"
python3 "$PY" ckpt state/app.ckpt --complete logs >/dev/null
tap_ok $? "[rotate] the checkpoint holds all 4 files at their full size"

# ---- rotated out of the globs while stopped ----
D=$TMP/moved
mkdir -p "$D/logs"
cd "$D" || exit 1
pipeline "" | sed 's|paths: \[logs/\*.log\*\]|paths: [logs/*.log]|' >p.yaml
python3 "$PY" gen "$D" 0.5 4000 1 >/dev/null
start run1.log
settle
stop TERM
python3 "$PY" gen "$D" 0.3 4000 1 >/dev/null
mv logs/s00.log logs/s00.log.1
python3 "$PY" gen "$D" 0.3 4000 1 >/dev/null
start run2.log
settle
stop TERM
tap_is "$RC" 0 "[moved] second run exits 0"
python3 "$PY" ledger out/out.log writer.state --max-dup 0 >ledger.out
rc=$?
tap_diag "$(cat ledger.out); $(grep -o 'moved=[0-9]*' run2.log)"
tap_ok $rc "[moved] a file rotated out of the globs while stopped is read to its end: nothing lost"

# ---- a damaged checkpoint stops the start ----
cd "$TMP/rotate" || exit 1
printf 'sluice-checkpoint 1\nfile 1 2 3 00000000000000ff 4 5 0\nend 2 0000000000000000\n' >state/app.ckpt
timeout 30 "$SLUICE" run p.yaml -- --no-huge -m 256 >bad.log 2>&1
rc=$?
tap_ok $((rc == 0)) "[damaged] sluice refuses to start (exit $rc)"
grep -q 'checkpoint state/app.ckpt: byte 58: end line counts 2 files, 1 were read' bad.log
tap_ok $? "[damaged] the error names the checkpoint and the byte offset"
tap_diag "$(grep -m1 checkpoint bad.log)"

# ---- a checkpointed source and an untracked one into the same sink ----
D=$TMP/mixed
mkdir -p "$D/logs"
cd "$D" || exit 1
cat >p.yaml <<YAML
sources:
  app: { type: file, paths: [logs/*.log], follow: true, checkpoint: state/app.ckpt,
         checkpoint_interval: 50ms }
  noise: { type: gen, count: 300000 }
sinks:
  out: { type: file, inputs: [app, noise], path: out/out.log, format: raw, append: true }
YAML
python3 "$PY" gen "$D" 0.5 8000 2 >/dev/null
start run.log
settle
stop TERM
tap_is "$RC" 0 "[mixed] exits 0 with an untracked source beside the checkpointed one"
python3 "$PY" ckpt state/app.ckpt --complete logs >ckpt.out &&
	[ "$(grep -c '^s=' out/out.log)" = 4000 ] &&
	[ "$(wc -l <out/out.log)" = 304000 ]
tap_ok $? "[mixed] every line and generated event written, both files committed in full"

# ---- a file deleted while stopped, its inode reused by a new one that begins the same ----
# The checkpoint holds the old file at its end; the new file's first bytes hash as the old
# one's did, but its birth time differs: it is read from its start (it once resumed at the
# old offset, and its first lines were lost).
D=$TMP/reuse
mkdir -p "$D/logs"
cd "$D" || exit 1
pipeline "" >p.yaml
python3 -c '
with open("logs/a.log", "w") as f:
    f.write("".join("first %d\n" % i for i in range(50)))'
ino1=$(stat -c %i logs/a.log)
start run1.log
settle
stop TERM
n1=$(wc -l <out/out.log)
same=0
for try in 1 2 3 4 5; do
	rm -f logs/a.log
	python3 -c '
with open("logs/a.log", "w") as f:
    f.write("".join("first %d\n" % i for i in range(50)))
    f.write("".join("then %d\n" % i for i in range(30)))'
	[ "$(stat -c %i logs/a.log)" = "$ino1" ] && { same=1; break; }
done
if [ "$same" = 1 ] && [ "$(stat -c %W logs/a.log)" != 0 ]; then
	start run2.log
	settle
	stop TERM
	got=$(tail -n +$((n1 + 1)) out/out.log | cut -d' ' -f2- | tr '\n' ' ')
	want=$(cut -d' ' -f1- logs/a.log | tr '\n' ' ')
	tap_is "$n1:$got" "50:$want" "[reuse] a new file on the old inode, same first bytes: read from its start (try $try)"
	grep -q 'inode_reused=1 ' run2.log
	tap_ok $? "[reuse] counted as inode_reused ($(grep -o 'inode_reused=[0-9]*' run2.log))"
else
	tap_skip 2 "the filesystem gave no same inode with a birth time ($ino1, try $try)"
fi
cd "$TMP" || exit 1

# ---- no checkpoint: nothing written, nothing stamped ----
D=$TMP/none
mkdir -p "$D/logs"
cd "$D" || exit 1
pipeline "" | sed 's/checkpoint: state\/app.ckpt, checkpoint_interval: [0-9]*ms,//' >p.yaml
python3 "$PY" gen "$D" 0.3 4000 1 >/dev/null
start run.log
settle
stop TERM
tap_is "$RC" 0 "[none] exits 0"
[ ! -e state ] && ! grep -q 'epochs=' run.log
tap_ok $? "[none] no state directory, no delivery accounting"
tap_done
