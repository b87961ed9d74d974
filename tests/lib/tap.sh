# shellcheck shell=bash
# TAP helpers for the integration scripts in tests/integration/ (sourced, bash only).
# Each script calls tap_plan N (or tap_skip_all REASON), then ok/not-ok lines through
# tap_ok, tap_is and tap_cmp, and ends with tap_done, which exits 1 when any test failed.
# Diagnostics go to stdout as '# ' lines so meson's TAP parser keeps them in the log.
# Also finds the build tree: SLUICE_BUILD and SLUICE_SOURCE are set by meson's test
# environment; run by hand they default to build/ and the repository root.

_tap_n=0
_tap_failed=0
_tap_planned=

SLUICE_SOURCE=${SLUICE_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SLUICE_BUILD=${SLUICE_BUILD:-$SLUICE_SOURCE/build}
SLUICE=${SLUICE:-$SLUICE_BUILD/sluice}
export TESTLIB=$SLUICE_SOURCE/tests/lib

tap_plan() {
	_tap_planned=$1
	echo "1..$1"
}

tap_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

tap_diag() {
	local line
	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

# tap_ok COND_STATUS DESCRIPTION: pass when COND_STATUS is 0.
tap_ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# tap_is GOT EXPECTED DESCRIPTION
tap_is() {
	if [ "$1" == "$2" ]; then
		tap_ok 0 "$3"
	else
		tap_ok 1 "$3"
		tap_diag "expected: $2"
		tap_diag "     got: $1"
	fi
}

# tap_cmp GOT_FILE EXPECTED_FILE DESCRIPTION: byte equality, with a short diff on failure.
tap_cmp() {
	if cmp -s "$1" "$2"; then
		tap_ok 0 "$3"
	else
		tap_ok 1 "$3"
		tap_diag "$(diff "$2" "$1" 2>&1 | head -12 | cut -c 1-200)"
		tap_diag "(< expected $2, > got $1; sizes $(wc -c <"$2") vs $(wc -c <"$1"))"
	fi
}

# tap_skip N REASON: N skipped tests.
tap_skip() {
	local i
	for ((i = 0; i < $1; i++)); do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP $2"
	done
}

tap_done() {
	if [ -n "$_tap_planned" ] && [ "$_tap_planned" -ne "$_tap_n" ]; then
		echo "# planned $_tap_planned tests, ran $_tap_n"
		exit 1
	fi
	[ "$_tap_failed" -eq 0 ] || exit 1
	exit 0
}

# Skip the whole script when the binary is missing (the only honest reason to skip).
tap_need_sluice() {
	[ -x "$SLUICE" ] || tap_skip_all "sluice binary not built: $SLUICE"
}

# A private temporary directory, removed on exit unless SLUICE_KEEP_TMP is set.
tap_tmpdir() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it.XXXXXX")
	if [ -z "${SLUICE_KEEP_TMP:-}" ]; then
		trap 'rm -rf "$TMP"' EXIT
	else
		echo "# keeping $TMP"
	fi
}

# EXIT trap for a test that runs one sluice in the background as PID (set PID= first):
# kill it and its children, then drop TMP unless SLUICE_KEEP_TMP is set.
tap_cleanup_pid() {
	[ -n "${PID:-}" ] && { pkill -9 -P "$PID"; kill -9 "$PID"; } 2>/dev/null
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
