#!/usr/bin/env bash
# `sluice top` against a running pipeline (docs/control.md): driven in a detached tmux
# session (a private tmux server), the captured pane shows the header once (the view
# redraws in place), every node's name and a non-zero events/s for the parse stage whose
# source runs at 50,000 lines/s; piped, top prints plain blocks without escape codes.
# `ctl stop` ends the pipeline and top with it. Also the default socket: with no
# `socket:` and no --socket, sluice serves $XDG_RUNTIME_DIR/sluice/<pid>.sock (directory
# 0700, socket 0600) and the clients find it; it is removed at exit.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v tmux >/dev/null || tap_skip_all "tmux not installed (scripts/setup installs it)"
tap_plan 12
tap_tmpdir
cd "$TMP" || exit 1
TMUX_SOCK=sluice-top-$$
PID=
cleanup() {
	[ -n "$PID" ] && { pkill -9 -P "$PID"; kill -9 "$PID"; } 2>/dev/null
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
unset TMUX

export XDG_RUNTIME_DIR=$TMP/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR"
cat >p.yaml <<'EOF'
sources:
  lines: { type: gen, count: 0, rate: 50000, seed: 3 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
  server_errors: { use: filter, inputs: [parse], where: "status >= 500" }
sinks:
  discard: { type: "null", inputs: [server_errors] }
  unparsed: { type: "null", inputs: [parse.errors] }
EOF
timeout 60 "$SLUICE" run p.yaml --stats-json final.json >run.out 2>run.err &
PID=$!
for _ in $(seq 1 100); do
	"$SLUICE" ctl ping >/dev/null 2>&1 && break
	sleep 0.1
done
"$SLUICE" ctl ping >ping.out 2>&1
tap_ok $? "the client finds the default socket ($(head -c 60 ping.out))"
# $! is timeout's pid; the socket is named after sluice's own, which ping reports.
SPID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["pid"])' <ping.out)
SOCK=$XDG_RUNTIME_DIR/sluice/$SPID.sock
tap_is "$(stat -c %a "$XDG_RUNTIME_DIR/sluice")/$(stat -c %a "$SOCK" 2>/dev/null)" "700/600" \
	"default socket at \$XDG_RUNTIME_DIR/sluice/<pid>.sock, directory 0700, socket 0600"

tmux -L "$TMUX_SOCK" new-session -d -s top -x 132 -y 30 \
	"$SLUICE top --interval 0.5 2>top.err; sleep 30"
sleep 3
tmux -L "$TMUX_SOCK" capture-pane -p -t top >pane.txt
tap_diag "$(head -8 pane.txt)"
tap_is "$(grep -c '^NODE' pane.txt)" 1 "the pane holds one frame: top redraws in place"
missing=
for n in lines parse server_errors discard unparsed; do
	grep -q "^$n " pane.txt || missing="$missing $n"
done
tap_is "${missing:-none}" none "every node is in the pane"
# The IN/s column (5th) of parse: non-zero, as printed ("49.9k").
rate=$(awk '$1 == "parse" {print $5}' pane.txt)
case "$rate" in
0 | - | "") tap_ok 1 "parse shows a non-zero events/s in (got '$rate')" ;;
*) tap_ok 0 "parse shows a non-zero events/s in ($rate)" ;;
esac
grep -q "filtered=" pane.txt
tap_ok $? "drops by reason are shown (filtered)"

# Not a terminal: plain lines, one block per refresh, no escape codes.
"$SLUICE" top --socket "$SOCK" -n 2 --interval 0.3 >plain.txt 2>&1
tap_is "$(grep -c '^NODE' plain.txt)/$(grep -c $'\033' plain.txt)" "2/0" \
	"piped top prints two plain blocks for -n 2"

# A second sluice makes the default ambiguous: the client says so instead of guessing.
timeout 60 "$SLUICE" run p.yaml -q >/dev/null 2>run2.err &
PID2=$!
SOCK2=
for _ in $(seq 1 100); do
	for s in "$XDG_RUNTIME_DIR"/sluice/*.sock; do
		[ "$s" != "$SOCK" ] && [ -S "$s" ] && SOCK2=$s
	done
	[ -n "$SOCK2" ] && "$SLUICE" ctl ping --socket "$SOCK2" >/dev/null 2>&1 && break
	sleep 0.1
done
"$SLUICE" ctl ping >two.out 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "2 running sluice processes" two.out
tap_ok $? "two running: the client asks for --socket ($(head -c 100 two.out))"
"$SLUICE" ctl stop --socket "$SOCK2" >/dev/null 2>&1
wait "$PID2"

"$SLUICE" ctl stop >stop.out 2>&1
tap_ok $? "ctl stop drains the pipeline"
wait "$PID"
tap_is "$?" 0 "sluice exits 0 after ctl stop"
PID=
sleep 1.5
tmux -L "$TMUX_SOCK" capture-pane -p -t top >pane2.txt 2>/dev/null
grep -q "the pipeline ended" pane2.txt
tap_ok $? "top ends with the pipeline"
[ ! -e "$SOCK" ]
tap_ok $? "the default socket is removed at exit"
tap_done
