#!/usr/bin/env bash
# The tail engine when a file starts over (docs/config.md, "Event ids"): 1. copytruncate
# (truncated to 0, written again): every line arrives and no two lines share an event_id
# (the new content once took the old one's ids, so a de-duplicator keyed on the id dropped
# real lines); 2. a short file deleted and re-created at once, on the same inode number and
# beginning with the same bytes: the new file is read from its start (it once resumed at the
# old file's offset, losing its first line); 3. read once, a glob of 1,500 files under an
# open-file limit of 400, with a second glob matching some of them again: every file is
# read once (all were opened at the first scan, and the run failed with "Too many open
# files"); 4. a file sink writing jsonl with event_id: true, of records that carry an
# event_id field themselves: each object has one event_id, the sink's (two once, and a
# reader took the record's). Expected lines come from what the test wrote.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 7
tap_tmpdir
cd "$TMP" || exit 1
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir logs
cat >p.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/*.log], follow: true, rotate_wait: 100ms,
        glob_interval: 100ms }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw, event_id: true }
YAML
start() {
	: >out.log
	"$SLUICE" run p.yaml -v -- --no-huge -m 256 >run.out 2>run.err &
	PID=$!
	for _ in $(seq 500); do
		grep -q 'msg="running ' run.err 2>/dev/null && break
		sleep 0.02
	done
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	PID=
}
lines_in() { # wait until out.log has $1 lines (at most 5 s)
	for _ in $(seq 250); do
		[ "$(wc -l <out.log)" -ge "$1" ] && return 0
		sleep 0.02
	done
	return 1
}

# 1: copytruncate twice.
start
for g in 1 2 3; do
	[ "$g" -gt 1 ] && truncate -s 0 logs/a.log
	for i in 0 1 2 3 4; do echo "gen$g line $i"; done >>logs/a.log
	lines_in $((g * 5))
done
stop
python3 - <<'PY' >ids.out
lines = [l.rstrip("\n").split(" ", 1) for l in open("out.log")]
want = ["gen%d line %d" % (g, i) for g in (1, 2, 3) for i in range(5)]
print("lines", "ok" if [t for _, t in lines] == want else [t for _, t in lines])
print("distinct_ids", len({i for i, _ in lines}), len(lines))
PY
tap_is "$(sed -n 1p ids.out)" "lines ok" "copytruncate: every generation's lines arrive in order"
tap_is "$(awk '/^distinct_ids/ { print ($2 == $3 && $3 == 15) }' ids.out)" 1 \
	"copytruncate: 15 lines, 15 distinct event ids ($(sed -n 2p ids.out))"

# 2: delete and re-create on the same inode number with the same first bytes. Whether the
# filesystem hands the number out again at once varies: up to 5 tries.
same=0
for try in 1 2 3 4 5; do
	rm -f logs/*.log
	start
	printf 'hello\n' >>logs/b.log
	lines_in 1
	ino1=$(stat -c %i logs/b.log)
	rm logs/b.log
	sleep 0.5 # past rotate_wait: sluice has closed it, the inode is free
	printf 'hello\nworld\n' >>logs/b.log
	ino2=$(stat -c %i logs/b.log)
	lines_in 3
	sleep 0.3
	stop
	[ "$ino1" = "$ino2" ] && same=1 && break
done
if [ "$same" = 1 ]; then
	got=$(cut -d' ' -f2- out.log | tr '\n' ' ')
	tap_is "$got" "hello hello world " "delete and re-create on the same inode: the new file is read whole (try $try)"
	grep -q "files_opened=2 " run.err
	tap_ok $? "both files were opened ($(grep -o "files_opened=[0-9]*" run.err))"
else
	tap_skip 2 "the filesystem gave the new file another inode 5 times ($ino1, $ino2)"
fi

# 3: more files than the open-file limit, read once.
mkdir many
python3 -c '
for i in range(1500):
    open("many/f%04d.log" % i, "w").write("file %d\n" % i)'
cat >many.yaml <<'YAML'
sources:
  in: { type: file, paths: ["many/*.log", "many/f1*.log"] }
sinks:
  out: { type: file, inputs: [in], path: many.out, format: raw }
YAML
(ulimit -n 400 && exec "$SLUICE" run many.yaml -- --no-huge -m 256) >many.stdout 2>many.err
tap_is "$?" 0 "1,500 files under an open-file limit of 400: exit 0"
sort many.out | python3 -c '
import sys
got = [l.rstrip("\n") for l in sys.stdin]
want = sorted("file %d" % i for i in range(1500))
sys.exit(0 if got == want else 1)'
tap_ok $? "every file's line arrives once ($(wc -l <many.out) lines; $(grep -c "Too many" many.err) 'Too many' errors)"

# 4: jsonl with event_id: true, of records that have an event_id field of their own.
python3 -c '
import json
with open("own.log", "w") as f:
    for i in range(200):
        r = {"n": i, "event_id": "theirs-%d" % i} if i % 3 else {"n": i}
        f.write(json.dumps(r) + "\n")'
cat >own.yaml <<'YAML'
sources:
  in: { type: file, path: own.log }
stages:
  p: { use: json_parse, inputs: [in] }
sinks:
  out: { type: file, inputs: [p], path: own.out, format: jsonl, event_id: true }
YAML
"$SLUICE" run own.yaml -- --no-huge -m 256 >own.stdout 2>own.err
python3 - <<'PY' >own.check
import json
# Read-once path: slot 0, so the id is the byte offset of the line's first byte.
want, off = [], 0
for line in open("own.log", "rb"):
    r = json.loads(line)
    r.pop("event_id", None)
    want.append([("event_id", off)] + sorted(r.items()))
    off += len(line)
got = []
for line in open("own.out"):
    pairs = json.loads(line, object_pairs_hook=lambda p: p)
    got.append(pairs[:1] + sorted(pairs[1:]))
print("ok" if got == want else "got %s, want %s" % (got[:3], want[:3]))
PY
tap_is "$(cat own.check)" ok "jsonl with event_id: one event_id per object, the line's offset; a record's own is left out"
tap_done
