# Start, stop and wait for a `sluice run` of p.yaml in the current directory, for tests
# that kill and restart it (sourced after tap.sh). sluice runs under timeout: PID is the
# timeout, SPID sluice itself (signals go there; killing only the timeout would leave
# sluice running), RC the exit status after sl_stop.

# Kill the sluice children of our timeouts first, then the rest; drop TMP unless kept.
sl_cleanup() {
	local p
	for p in $(pgrep -P $$); do pkill -9 -P "$p"; done
	pkill -9 -P $$
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}

sl_start() { # log-file [run options]
	local log=$1
	shift
	timeout --foreground -s KILL 120 "$SLUICE" run p.yaml "$@" -- --no-huge -m 256 >"$log" 2>&1 &
	PID=$!
	SPID=
	for _ in $(seq 100); do
		SPID=$(pgrep -P "$PID") && break
		sleep 0.02
	done
}

sl_stop() { # signal
	kill "-$1" "$SPID"
	wait "$PID"
	RC=$?
}

# Wait until FILE stops growing for 0.6 s (sluice caught up). A FILE missing or empty is
# not settled for the first 6 s: on a loaded machine sluice may still be starting (the sink
# makes the file before the source reads), and a stop sent then finds nothing read.
sl_settle() { # file
	local a b=-1 i
	for i in $(seq 100); do
		a=$(stat -c %s "$1" 2>/dev/null || echo 0)
		[ "$a" = "$b" ] && { [ "$a" != 0 ] || [ "$i" -gt 10 ]; } && return 0
		b=$a
		sleep 0.6
	done
}
