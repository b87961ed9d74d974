#!/usr/bin/env bash
# The `file` source in follow mode on hostile input and surroundings (docs/file-tailing.md):
# NUL bytes, invalid UTF-8, CRLF, a 4 MiB line with no newline that is finished later, a
# 1 GiB one (sparse), the pipeline file of issue 3 item 7 as written across a restart,
# with max_line_policy truncate and skip and strip_cr off and on; the expected output is
# computed here in Python from the same bytes. Also: non-regular files matching the glob
# (FIFO, socket, directory, symlink to outside) skipped with one warning each while a
# symlink inside is read; an idle followed file costs near-zero CPU and new lines still
# arrive promptly; start_at: end; paths without follow reads every match once and exits;
# follow with replicas > 1 is refused. Each pass also runs through the pread fallback.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 27
tap_tmpdir
cd "$TMP" || exit 1

# wait_lines FILE N: until FILE has at least N lines (10 s at most).
wait_lines() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ "$(wc -l 2>/dev/null <"$1" || echo 0)" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

stop() { # PID: SIGTERM, return its exit status
	kill -TERM "$1"
	wait "$1"
}

# Bad input, two policies, io_uring and pread.
bad_input() { # POLICY STRIP [env...]
	local policy=$1 strip=$2 pid rc tag
	shift 2
	tag="$policy, strip_cr $strip${1:+, $*}"
	D=$TMP/bad-$policy-$strip${1:+-fb}
	mkdir -p "$D/logs"
	cd "$D" || exit 1
	cat >p.yaml <<YAML
sources:
  in: { type: file, path: logs/in.log, follow: true, max_line_bytes: 200,
        max_line_policy: $policy, strip_cr: $strip, read_bytes: 4096 }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
	env "$@" timeout --foreground 60 "$SLUICE" run p.yaml >stdout 2>stderr &
	pid=$!
	python3 - <<'PY'
import os, time
with open("logs/in.log", "ab", buffering=0) as f:
    f.write(b"plain\nnul\x00in\x00the middle\n\xff\xfe invalid \xc3\x28 utf8\n")
    f.write(b"crlf line\r\n\r\nlast-cr\r\n")
    f.write(b"A" * 300 + b"\n")          # over max_line_bytes
    f.write(b"C" * 200 + b"\r\n")        # max_line_bytes and a CR: whole with strip_cr
    f.write(b"D" * 201 + b"\n")          # one over, no CR
    f.write(b"B" * (4 << 20))              # 4 MiB, no newline yet
    time.sleep(0.5)
    f.write(b"B tail\nafter the long line\n")
    f.write(b"\x00" * 50 + b"\n")        # a line of NULs
    f.write(b"partial then ")
    time.sleep(0.2)
    f.write(b"completed\n")
PY
	python3 - "$policy" "$strip" <<'PY' >want
import sys
policy, strip = sys.argv[1], sys.argv[2] == "true"
data = open("logs/in.log", "rb").read()
out = []
for line in data.split(b"\n")[:-1]:
    if strip and line.endswith(b"\r"):
        line = line[:-1]
    if len(line) > 200:
        if policy == "skip":
            continue
        line = line[:200]
    if line:
        out.append(line + b"\n")
sys.stdout.buffer.write(b"".join(out))
PY
	wait_lines out.log "$(wc -l <want)"
	tap_ok $? "[$tag] every line delivered while following"
	stop "$pid"
	rc=$?
	tap_cmp out.log want "[$tag] bytes match the independent split; exit $rc"
	cd "$TMP" || exit 1
}
bad_input truncate false
bad_input skip true
bad_input truncate true SLUICE_NO_URING=1
grep -q 'skipped_long=3 ' "$TMP/bad-skip-true/stderr"
tap_ok $? "[skip] the three over-long lines counted as skipped_long (not 200 bytes and a CR)"
grep -q 'truncated=4 ' "$TMP/bad-truncate-false/stderr"
tap_ok $? "[truncate] the four over-long lines counted as truncated (200 bytes and a CR too)"

# Read once, the same rule: with strip_cr a line of max_line_bytes and a CR is whole (it
# was taken for a long one, and the skip policy dropped it); the last line has no newline
# and is one byte over.
D=$TMP/once
mkdir -p "$D"
cd "$D" || exit 1
python3 -c '
import sys
sys.stdout.buffer.write(b"a\r\n" + b"C" * 200 + b"\r\n" + b"D" * 201 + b"\r\n" + b"E" * 201 + b"\r\n" +
                        b"\r\n" + b"F" * 201)' >in.log
cat >p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log, max_line_bytes: 200, strip_cr: true,
        max_line_policy: skip }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
"$SLUICE" run p.yaml -- --no-huge -m 256 >stdout 2>stderr
python3 - >want <<'PY'
import sys
out = []
data = open("in.log", "rb").read()
for line in data.split(b"\n"):
    if line.endswith(b"\r"):
        line = line[:-1]
    if 0 < len(line) <= 200:
        out.append(line + b"\n")
sys.stdout.buffer.write(b"".join(out))
PY
tap_cmp out.log want "[read once, strip_cr, skip] 200 bytes and a CR kept, longer lines skipped, the last one too"
cd "$TMP" || exit 1

# Non-regular files matching the glob, and symlinks.
D=$TMP/nonreg
mkdir -p "$D/logs" "$D/elsewhere"
cd "$D" || exit 1
printf 'r1\nr2\n' >logs/real.log
printf 'secret\n' >elsewhere/secret.log
mkfifo logs/fifo.log
python3 "$TESTLIB/seqlog.py" socket logs/sock.log
mkdir logs/dir.log
ln -s ../elsewhere/secret.log logs/outside.log
ln -s real.log logs/inside.log
cat >p.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/*.log], follow: true, glob_interval: 100ms }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
timeout --foreground 60 "$SLUICE" run p.yaml >stdout 2>stderr &
pid=$!
sleep 0.8 # several glob scans
printf 'r3\n' >>logs/real.log
wait_lines out.log 3
stop "$pid"
tap_is "$?" 0 "[non-regular] sluice keeps running and exits 0"
tap_is "$(sort out.log | tr '\n' ' ')" "r1 r2 r3 " "[non-regular] the regular file read once (also via the inside symlink), nothing else"
for what in 'fifo.log: skipped: a FIFO' 'sock.log: skipped: a socket' 'dir.log: skipped: a directory' \
	'outside.log: skipped: symbolic link to outside'; do
	tap_is "$(grep -c "$what" stderr)" 1 "[non-regular] one warning: $what"
done
cd "$TMP" || exit 1

# Idle cost and prompt pick-up; start_at: end.
idle_case() { # [env...]
	local pid spid t0 t1 cpu tag="idle${1:+, $*}"
	D=$TMP/idle${1:+-fb}
	mkdir -p "$D/logs"
	cd "$D" || exit 1
	printf 'old1\nold2\nold-partial' >logs/a.log
	cat >p.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/*.log], follow: true, start_at: end }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
	env "$@" timeout --foreground 60 "$SLUICE" run p.yaml >stdout 2>stderr &
	pid=$!
	sleep 0.5
	spid=$(pgrep -P "$pid" -x sluice || echo "$pid")
	t0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
	sleep 3
	t1=$(awk '{print $14 + $15}' "/proc/$spid/stat")
	cpu=$((t1 - t0)) # clock ticks (1/100 s) over 3 s, both lcores together
	tap_diag "[$tag] CPU while idle: $cpu ticks in 3 s"
	[ "$cpu" -le 30 ]
	tap_ok $? "[$tag] an idle followed file costs under 10% of a core"
	t0=$(date +%s%N)
	printf ' rest\nnew1\n' >>logs/a.log
	wait_lines out.log 1
	t1=$(date +%s%N)
	tap_diag "[$tag] appended line delivered after $(((t1 - t0) / 1000000)) ms"
	printf 'new2\n' >>logs/a.log
	wait_lines out.log 2
	stop "$pid"
	tap_is "$(tr '\n' ' ' <out.log)" "new1 new2 " "[$tag] start_at: end skips what was there (the partial line too)"
	cd "$TMP" || exit 1
}
idle_case
idle_case SLUICE_NO_URING=1

# A 1 GiB line with no newline (a sparse file: its hole reads as NUL bytes), then its end
# and more lines: truncated to max_line_bytes, the rest dropped without holding it, and
# following goes on.
D=$TMP/gib
mkdir -p "$D/logs"
cd "$D" || exit 1
truncate -s 1G logs/big.log
cat >p.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/*.log], follow: true, max_line_bytes: 100 }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
timeout --foreground 120 "$SLUICE" run p.yaml >stdout 2>stderr &
pid=$!
sleep 0.3
printf 'end of the 1 GiB line\nafter it\n' >>logs/big.log
wait_lines out.log 2
sleep 0.2
printf 'later\n' >>logs/big.log
wait_lines out.log 3
tap_ok $? "[1 GiB line] the lines after a 1 GiB line without newline are delivered while following"
stop "$pid"
python3 -c 'import sys; sys.stdout.buffer.write(b"\0" * 100 + b"\nafter it\nlater\n")' >want
tap_cmp out.log want "[1 GiB line] truncated to max_line_bytes (100 NULs), then the next lines; $(grep -o 'truncated=[0-9]*' stderr)"

# The pipeline file of issue 3 item 7, exactly as written, with a sink: two logs, a
# restart (SIGTERM), more lines; every line once, the checkpoint where the file says.
D=$TMP/item7
mkdir -p "$D/logs"
cd "$D" || exit 1
cat >p.yaml <<'YAML'
sources:
  access: { type: file, paths: [logs/*.log], follow: true, start_at: beginning,
            checkpoint: state/access.ckpt }
sinks:
  out: { type: file, inputs: [access], path: out.log, format: raw, append: true }
YAML
seq -f 'a%g' 1 1000 >logs/a.log
seq -f 'b%g' 1 1000 >logs/b.log
timeout --foreground 60 "$SLUICE" run p.yaml >run1.out 2>&1 &
pid=$!
wait_lines out.log 2000
stop "$pid"
rc1=$?
seq -f 'a%g' 1001 1500 >>logs/a.log
seq -f 'c%g' 1 10 >logs/c.log
timeout --foreground 60 "$SLUICE" run p.yaml >run2.out 2>&1 &
pid=$!
wait_lines out.log 2510
seq -f 'b%g' 1001 1200 >>logs/b.log
wait_lines out.log 2710
stop "$pid"
rc2=$?
tap_ok $((rc1 || rc2)) "[item 7] the pipeline runs as written and stops with exit 0 (twice)"
cat logs/*.log | sort >want
tap_cmp <(sort out.log) want "[item 7] every line of every log once across the restart ($(wc -l <out.log) lines)"
python3 "$SLUICE_SOURCE/tests/integration/file_checkpoint.py" ckpt state/access.ckpt --complete logs >ckpt.out
tap_ok $? "[item 7] state/access.ckpt holds the 3 logs at their full size ($(tail -1 ckpt.out | sed 's/^# //'))"

# paths without follow: every match read once, then the run ends by itself.
D=$TMP/once
mkdir -p "$D/logs"
cd "$D" || exit 1
printf 'a1\na2\n' >logs/a.log
printf 'b1\nb2-no-newline' >logs/b.log
cat >p.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/a.log, logs/b*.log] }
sinks:
  out: { type: file, inputs: [in], path: out.log, format: raw }
YAML
timeout 60 "$SLUICE" run p.yaml -q
tap_is "$?" 0 "[paths, no follow] ends by itself with exit 0"
tap_is "$(sort out.log | tr '\n' ' ')" "a1 a2 b1 b2-no-newline " "[paths, no follow] every line of every match"
# follow cannot be split between replicas.
cat >r.yaml <<'YAML'
sources:
  in: { type: file, paths: [logs/*.log], follow: true, replicas: 2 }
sinks:
  out: { type: "null", inputs: [in] }
YAML
# Refused when the file is loaded (so `validate` says it too), before anything starts.
timeout 60 "$SLUICE" validate r.yaml 2>r.err
rc=$?
[ "$rc" -eq 2 ] && grep -q "r.yaml:2:.*source 'in' (file): cannot split its input, so replicas must be 1" r.err
tap_ok $? "[replicas] follow with replicas: 2 is refused at load with a clear error (exit $rc)"
tap_diag "$(head -2 r.err)"
tap_done
