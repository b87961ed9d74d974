#!/usr/bin/env bash
# Disk full at the file sink (issue 3, point 4): the sink writes into a 4 MiB tmpfs that a
# filler file has almost filled. It says once that it is pausing (ENOSPC), takes no more
# events (the source is held back, nothing is dropped), and when the test deletes the
# filler it resumes by itself; the output is then byte for byte the input, the run exits
# 0, the summary shows one pause and no write error. The same with the pwrite fallback
# (SLUICE_NO_URING). Needs root for the mount; skipped otherwise.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
[ "$(id -u)" = 0 ] || tap_skip_all "needs root to mount a small tmpfs"
tap_tmpdir
cd "$TMP" || exit 1
mkdir small
if ! mount -t tmpfs -o size=4m tmpfs small 2>/dev/null; then
	tap_skip_all "cannot mount a tmpfs here"
fi
PID=
cleanup() {
	[ -n "$PID" ] && { pkill -9 -P "$PID"; kill -9 "$PID"; } 2>/dev/null
	umount "$TMP/small" 2>/dev/null
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
tap_plan 10

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 20000 -o in.log --seed 6 >/dev/null
cat >p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
sinks:
  out: { type: file, inputs: [in], path: small/out.log, format: raw }
YAML

run_case() { # name, extra environment
	local name=$1
	shift
	rm -f small/out.log small/filler
	# Leave about 256 KiB: the 3.6 MB of output cannot fit until the filler goes.
	avail=$(df --output=avail -B1 small | tail -1)
	head -c $((avail - 262144)) /dev/zero > small/filler
	env "$@" timeout 60 "$SLUICE" run p.yaml >"$name.out" 2>"$name.err" &
	PID=$!
	for _ in $(seq 1 200); do
		grep -q 'pausing' "$name.err" && break
		sleep 0.05
	done
	grep -q "small/out.log: No space left on device: pausing" "$name.err"
	tap_ok $? "[$name] the sink says it pauses on ENOSPC"
	sleep 0.5
	kill -0 "$PID" 2>/dev/null
	tap_ok $? "[$name] the run waits instead of failing"
	rm -f small/filler
	wait "$PID"
	tap_is "$?" 0 "[$name] after space returns the run completes and exits 0"
	PID=
	cmp -s small/out.log in.log
	tap_ok $? "[$name] the output is the input, byte for byte"
	grep -q 'resumed after' "$name.err" && grep -q 'full_pauses=1 ' "$name.err" &&
		grep -q 'write_errors=0 discarded=0' "$name.err"
	tap_ok $? "[$name] resumed, one pause, no write error, nothing discarded"
}
run_case uring
run_case pwrite SLUICE_NO_URING=1
