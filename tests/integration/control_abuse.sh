#!/usr/bin/env bash
# Control socket abuse against a running pipeline (docs/control.md): wrong JSON types in
# every request field, malformed and truncated requests, an over-long line and a stream
# of 64 MiB with no newline (the line protocol's "huge length prefix"), 1,000 connections
# at once, an idle client, and peers of another uid (nobody: refused by the socket's 0600
# mode, and by the server's SO_PEERCRED check once the mode is opened up). Each is
# answered with a clear error; meanwhile a gen source feeds nginx_parse and a null sink,
# and at the end the counts must be exactly the configured count, conserved, with
# nothing queued. The socket file is 0600; stats read over the socket during the run never
# exceed the final --stats-json counters, and read after the end (linger) equal them.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 16
tap_tmpdir
# nobody must be able to reach the socket's directory for the uid test.
chmod 711 "$TMP"
cd "$TMP" || exit 1
N=1000000
RATE=100000
SOCK=$TMP/ctl.sock
cat >p.yaml <<EOF
sources:
  lines: { type: gen, count: $N, rate: $RATE, seed: 5 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
sinks:
  discard: { type: "null", inputs: [parse] }
  unparsed: { type: "null", inputs: [parse.errors] }
control: { socket: $SOCK, linger: 20s }
EOF

PID=
trap tap_cleanup_pid EXIT

timeout 60 "$SLUICE" run p.yaml --stats-json final.json >run.out 2>run.err &
PID=$!
for _ in $(seq 1 100); do
	"$SLUICE" ctl ping --socket "$SOCK" >/dev/null 2>&1 && break
	sleep 0.1
done
"$SLUICE" ctl ping --socket "$SOCK" >ping.out 2>&1
tap_ok $? "sluice serves the control socket ($(cut -c 1-80 ping.out))"
tap_is "$(stat -c %a "$SOCK")" 600 "the socket file is mode 0600"

# A snapshot during the run (checked against the final counters below).
"$SLUICE" stats --json --socket "$SOCK" >snap1.json 2>&1

cat >abuse.py <<'PY'
import json, resource, socket, sys, time

path = sys.argv[1]
fails = []

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: waits while the listen backlog is full
    s.settimeout(10)
    return s

def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            c = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not c:
            break
        buf += c
    return buf

def ask(s, raw):
    s.sendall(raw)
    return readline(s)

def expect_error(what, line, part):
    try:
        r = json.loads(line)
    except ValueError:
        fails.append("%s: unreadable response %r" % (what, line[:120]))
        return None
    if r.get("ok") is not False or part not in r.get("error", ""):
        fails.append("%s: wanted an error with %r, got %r" % (what, part, line[:200]))
    return r

def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False

mode = sys.argv[2]
if mode == "types":
    # Every field with every JSON type it must not have, on one connection.
    values = {"null": "null", "a boolean": "true", "an integer": "7", "a number": "1.5",
              "a string": '"x"', "an array": "[1]", "an object": '{"a":1}'}
    want = {"v": "an integer", "cmd": "a string", "id": "an integer", "node": "a string"}
    s = conn()
    n = 0
    for field, ok_type in want.items():
        for tname, text in values.items():
            if tname == ok_type:
                continue
            if field == "v":
                req = '{"v":%s,"cmd":"stats"}' % text
            elif field == "cmd":
                req = '{"v":1,"cmd":%s}' % text
            else:
                req = '{"v":1,"cmd":"stats","%s":%s}' % (field, text)
            expect_error("%s=%s" % (field, tname), ask(s, req.encode() + b"\n"),
                         "field '%s': expected %s, got %s" % (field, ok_type, tname))
            n += 1
    # The connection survives bad requests: a good one still works.
    r = json.loads(ask(s, b'{"v":1,"cmd":"ping","id":3}\n'))
    if r.get("ok") is not True or r.get("id") != 3:
        fails.append("ping after bad requests: %r" % r)
    print("%d wrong-type requests rejected" % n)
elif mode == "malformed":
    s = conn()
    cases = [(b'{"v":1,"cmd":"stats"\n', "invalid JSON"),
             (b'{"v":1,"cmd":"stats"}}\n', "unexpected bytes after the value"),
             (b'\xff\xfe\n', "invalid JSON"),
             (b'{"v":1,"cmd":"sta\\u0000ts"}\n', "unknown command"),
             (b'{"v":2,"cmd":"stats"}\n', "unsupported protocol version 2"),
             (b'{"v":1,"cmd":"stats","v":1}\n', "duplicate field 'v'"),
             (b'{"v":1,"cmd":"reboot"}\n', "unknown command 'reboot'"),
             (b'{"v":1,"cmd":"stats","node":"ghost"}\n', "no node named 'ghost'"),
             (b'[' * 100 + b'\n', "nested deeper than"),
             (b'\n', "empty request")]
    for raw, part in cases:
        expect_error(repr(raw[:30]), ask(s, raw), part)
    # The id comes back with an error, so a client can match it.
    r = expect_error("id echo", ask(s, b'{"id":41,"v":"1","cmd":"stats"}\n'), "field 'v'")
    if r and r.get("id") != 41:
        fails.append("error without the request's id: %r" % r)
    # Two requests in one write: two responses, in order.
    s.sendall(b'{"v":1,"cmd":"ping","id":1}\n{"v":1,"cmd":"version","id":2}\n')
    both = readline(s)
    if both.count(b"\n") < 2:
        both += readline(s)
    a, b = [json.loads(x) for x in both.splitlines()[:2]]
    if (a.get("id"), b.get("id"), b.get("cmd")) != (1, 2, "version"):
        fails.append("pipelined requests: %r %r" % (a, b))
    # Truncated: half a request, then the end of the stream.
    t = conn()
    t.sendall(b'{"v":1,"cm')
    t.shutdown(socket.SHUT_WR)
    expect_error("truncated", readline(t), "truncated request: 10 bytes without a newline")
    if not closed(t):
        fails.append("truncated: connection not closed")
    # Over-long line: 5000 bytes, no newline.
    t = conn()
    expect_error("over-long", ask(t, b"x" * 5000), "request longer than 4096 bytes")
    if not closed(t):
        fails.append("over-long: connection not closed")
    # A "huge length prefix": 64 MiB with no newline; the server stops reading at 4 KiB.
    t = conn()
    sent = 0
    try:
        chunk = b"9" * 65536
        for _ in range(1024):
            t.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    if sent >= 64 << 20:
        fails.append("huge: the server took 64 MiB without closing")
    print("malformed, truncated and over-long requests rejected (huge stream cut after "
          "%d KiB)" % (sent >> 10))
elif mode == "flood":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks, refused, served = [], 0, 0
    for i in range(1000):
        try:
            socks.append(conn())
        except OSError as e:
            fails.append("connect %d: %s" % (i, e))
            break
    time.sleep(1)
    for s in socks:
        s.settimeout(0.5)
        try:
            s.sendall(b'{"v":1,"cmd":"ping"}\n')
        except OSError:
            pass
        line = readline(s)
        if b"too many connections (at most 64)" in line:
            refused += 1
        elif b'"pong":true' in line:
            served += 1
    for s in socks:
        s.close()
    # 64 slots, one of which may hold the idle client of the test script.
    if served not in (63, 64) or served + refused != 1000:
        fails.append("1000 connections: %d served, %d refused (want 63 or 64, the rest)"
                     % (served, refused))
    time.sleep(0.5)
    r = json.loads(ask(conn(), b'{"v":1,"cmd":"ping"}\n'))
    if r.get("ok") is not True:
        fails.append("ping after the flood: %r" % r)
    print("1000 connections: %d served, %d refused" % (served, refused))
for f in fails:
    print("FAIL " + f)
sys.exit(1 if fails else 0)
PY

# An idle client, opened first and checked last (the idle timeout is 10 s).
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1]); s.settimeout(20); t = time.time(); buf = b""
while True:
    c = s.recv(4096)
    if not c: break
    buf += c
print("%.1f %s" % (time.time() - t, buf.decode(errors="replace").strip()))
' "$SOCK" >idle.out 2>&1 &
IDLE=$!

for mode in types malformed flood; do
	python3 abuse.py "$SOCK" "$mode" >"$mode.out" 2>&1
	tap_ok $? "$mode: $(grep -v '^FAIL' "$mode.out" | tail -1)"
	grep '^FAIL' "$mode.out" | head -5 | while read -r l; do tap_diag "$l"; done
done
"$SLUICE" stats --json --socket "$SOCK" >snap2.json 2>&1

# Another uid: the 0600 socket refuses nobody at connect time...
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
	tap_skip 2 "needs root and a 'nobody' user to run a client as another uid"
else
	setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups \
		"$SLUICE" ctl ping --socket "$SOCK" >uid1.out 2>&1
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "Permission denied" uid1.out
	tap_ok $? "uid nobody cannot connect to the 0600 socket (exit $rc: $(head -c 120 uid1.out))"
	# ...and with the mode opened up, the server's SO_PEERCRED check refuses it.
	chmod 666 "$SOCK"
	setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups \
		"$SLUICE" ctl ping --socket "$SOCK" >uid2.out 2>&1
	rc=$?
	chmod 600 "$SOCK"
	[ "$rc" -eq 1 ] && grep -q "permission denied: uid $(id -u nobody) is not the owner" uid2.out
	tap_ok $? "the server refuses a peer of another uid (exit $rc: $(head -c 120 uid2.out))"
fi

wait "$IDLE"
read -r idle_s idle_msg <idle.out
python3 -c "import sys; sys.exit(0 if 9 <= float('$idle_s') <= 15 else 1)" 2>/dev/null &&
	grep -q "idle timeout" idle.out
tap_ok $? "an idle client is closed after 10 s with an error ($idle_s s: $(echo "$idle_msg" | cut -c 1-80))"

# The end, while lingering: stats say "ended".
for _ in $(seq 1 200); do
	grep -q '"state":"ended"' end.json 2>/dev/null && break
	"$SLUICE" stats --json --socket "$SOCK" >end.json 2>/dev/null
	sleep 0.1
done
grep -q '"state":"ended"' end.json
tap_ok $? "stats over the socket report the end (linger keeps the socket up)"
# A state-changing command: stop during linger is logged with the peer's uid.
"$SLUICE" ctl stop --socket "$SOCK" >stop.out 2>&1
tap_ok $? "ctl stop answers ($(head -c 80 stop.out))"
wait "$PID"
rc=$?
PID=
tap_is "$rc" 0 "sluice exits 0 after all the abuse"
grep -q "command stop from uid=$(id -u) pid=" run.err
tap_ok $? "the stop command is logged with the peer's uid"
[ -e "$SOCK" ]
tap_ok $((!$?)) "the socket file is removed at exit"

python3 "$TESTLIB/check_stats.py" conserve final.json >conserve.out
tap_ok $? "every node conserves events, nothing queued or pending"
[ -s conserve.out ] && tap_diag "$(head -5 conserve.out)"
get() { python3 "$TESTLIB/check_stats.py" get final.json "$@" 2>/dev/null || echo "?"; }
tap_is "$(get lines out)/$(get parse in)/$(($(get discard in) + $(get unparsed in)))" "$N/$N/$N" \
	"the data plane kept running: all $N generated lines parsed and delivered"

python3 - "$TMP" >compare.out 2>&1 <<'PY'
import json, sys
d = sys.argv[1]
final = {n["name"]: n for n in json.load(open(d + "/final.json"))["nodes"]}
bad = []
fields = ["in", "out", "generated", "in_flight", "pending", "queued", "busy_cycles"]
for snap in ("snap1", "snap2"):
    s = json.load(open("%s/%s.json" % (d, snap)))
    for n in s["nodes"]:
        f = final[n["name"]]
        for k in ("role", "kind", "replicas", "ring_capacity"):
            if n[k] != f[k]:
                bad.append("%s %s %s: %r != final %r" % (snap, n["name"], k, n[k], f[k]))
        for k in ("in", "out", "generated", "busy_cycles", "calls"):
            if n[k] > f[k]:
                bad.append("%s %s %s: %d > final %d" % (snap, n["name"], k, n[k], f[k]))
end = json.load(open(d + "/end.json"))
for n in end["nodes"]:
    f = final[n["name"]]
    for k in fields + ["replicas", "ring_capacity", "calls", "dropped", "counters"]:
        if n[k] != f[k]:
            bad.append("end %s %s: %r != final %r" % (n["name"], k, n[k], f[k]))
if len(end["nodes"]) != len(final):
    bad.append("end: %d nodes, final %d" % (len(end["nodes"]), len(final)))
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
tap_ok $? "stats over the socket: snapshots never exceed the final counters; after the end they equal --stats-json"
[ -s compare.out ] && tap_diag "$(head -8 compare.out)"
tap_done
