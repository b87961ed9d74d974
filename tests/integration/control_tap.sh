#!/usr/bin/env bash
# `sluice tap` against a running pipeline (docs/control.md): a followed file fed 2,000
# lines every 0.1 s through nginx_parse into a raw and a jsonl file sink (the jsonl sink
# reads every field, so nginx_parse writes them all: a tap shows records as written).
#   - `tap parse --limit 5` prints exactly 5 JSON lines; each (every output is tapped when
#     none is named) holds a line the sink wrote and a record whose status is the one Python
#     reads from that line, or, on `errors`, a line Python rejects and an error; the tap
#     reports its end on stderr and exits 0;
#   - `--rate 4 --limit 3` takes at least half a second (two gaps of 1/4 s);
#   - `tap parse.errors` on an output no sink reads still shows the lines that failed,
#     with the reason; the lines are exactly those Python's regex rejects;
#   - a sink, an unknown output (the outputs are listed) and an unknown node are refused;
#   - a client killed mid-tap releases the node: the next tap on it works;
#   - a tap with a large limit ends when the pipeline ends;
#   - no event is lost or duplicated by tapping: the sink holds every parsed line once;
#   - latency: `stats --json` and --stats-json give p50 <= p99 per-call and age latencies
#     for the stage and the sinks, none for the source; `top` shows a P99us column.
# Then, on a generator that never ends (2,000 lines/s), how the control thread treats tap
# clients (each case judged by Python on what the socket returned):
#   - requests sent behind a running tap, more than the 4 KiB input buffer holds, wait
#     without costing CPU (the control thread used less than 0.5 s in 2.5 s; it spun at
#     100 % before), and are all answered, in order, after the tap's "done" line;
#   - a client that shuts down its sending side after its requests (as `printf ... |
#     socat -` does) gets the whole tap and the answers after it, then the server closes
#     (it once sent the tap's first line only);
#   - a tap client that stops reading is closed after 10 s without write progress, which
#     frees the node for another tap (the node stayed tapped for ever);
#   - `ctl stop` ends the run with exit 0.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 22
tap_tmpdir
cd "$TMP" || exit 1
PID=
trap tap_cleanup_pid EXIT

python3 "$SLUICE_SOURCE/tests/lib/gen_nginx_log.py" -n 60000 -o in.log --seed 4 --bad-ratio 0.05 >/dev/null
cat >p.yaml <<'EOF2'
sources:
  lines: { type: file, paths: [in.log], follow: true }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
sinks:
  out: { type: file, inputs: [parse], path: out.log, format: raw }
  recs: { type: file, inputs: [parse], path: recs.jsonl, format: jsonl }
EOF2
# Feed the followed file 2,000 lines every 0.1 s, over and over, until told to stop.
mv in.log all.log
: > in.log
split -l 2000 -d -a 3 all.log chunk.
timeout 60 "$SLUICE" run p.yaml -q --socket s.sock --stats-json final.json >run.out 2>run.err &
PID=$!
( for _ in $(seq 1 20); do
	for f in chunk.*; do
		[ -e stop ] && exit 0
		cat "$f" >> in.log
		sleep 0.1
	done
done ) &
FEED=$!
for _ in $(seq 1 100); do [ -S s.sock ] && break; sleep 0.05; done

timeout 10 "$SLUICE" tap parse --limit 5 --socket s.sock >t1.out 2>t1.err
tap_is "$?" 0 "tap parse --limit 5 exits 0"
tap_is "$(wc -l <t1.out)" 5 "exactly 5 events printed"
grep -q 'tap: 5 events (limit reached)' t1.err
tap_ok $? "the end is reported on stderr ($(cat t1.err))"

start=$(date +%s.%N)
timeout 10 "$SLUICE" tap parse --limit 3 --rate 4 --socket s.sock >t2.out 2>t2.err
end=$(date +%s.%N)
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 0.45 else 1)" "$start" "$end"
tap_ok $? "--rate 4 spaces 3 samples at least 0.5 s apart in all ($(wc -l <t2.out) events)"

timeout 5 "$SLUICE" top -n 1 --socket s.sock >top.out 2>&1
timeout 5 "$SLUICE" stats --json --socket s.sock >live.json 2>&1
timeout 10 "$SLUICE" tap parse.errors --limit 3 --socket s.sock >t3.out 2>t3.err
tap_is "$?" 0 "tap parse.errors (read by no sink) exits 0"

timeout 5 "$SLUICE" tap out --socket s.sock >/dev/null 2>t4.err
rc=$?
grep -q "'out' is a sink" t4.err
tap_ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "a sink is refused ($(cat t4.err))"
timeout 5 "$SLUICE" tap parse.nope --socket s.sock >/dev/null 2>t5.err
grep -q "has no output 'nope' (outputs: default errors)" t5.err
tap_ok $? "an unknown output is refused with the outputs listed"
timeout 5 "$SLUICE" tap nobody --socket s.sock >/dev/null 2>t6.err
grep -q "no node named 'nobody'" t6.err
tap_ok $? "an unknown node is refused"

# A client that goes away mid-tap: the node is free again afterwards.
timeout -s KILL 0.5 "$SLUICE" tap parse --limit 1000000 --rate 1 --socket s.sock >/dev/null 2>&1
timeout 10 "$SLUICE" tap parse --limit 1 --socket s.sock >t7.out 2>t7.err
tap_is "$(wc -l <t7.out)" 1 "after a client was killed mid-tap, the node can be tapped again"

# Until the end: a tap with a large limit stops when the pipeline does.
timeout 30 "$SLUICE" tap parse --limit 1000000 --rate 1000 --socket s.sock >t8.out 2>t8.err &
TAP=$!
sleep 0.3
touch stop
wait "$FEED"
# Let the last lines through: until the sink's file stops growing.
prev=-1
for _ in $(seq 1 50); do
	now=$(wc -l <out.log 2>/dev/null || echo 0)
	[ "$now" = "$prev" ] && break
	prev=$now
	sleep 0.3
done
kill -INT "$PID"
wait "$PID"
rc=$?
tap_is "$rc" 0 "the pipeline drains and exits 0 while tapped ($(tail -1 run.err))"
PID=
wait "$TAP"
grep -q 'tap: [0-9]* events (the pipeline ended)' t8.err
tap_ok $? "a running tap ends with the pipeline ($(cat t8.err))"

python3 - in.log out.log t1.out t3.out t8.out >check.out 2>check.err <<'PY'
import codecs, json, re, sys
# The tap writes valid UTF-8 as it is and each byte of invalid UTF-8 as \u00XX: decode
# the files the same way to compare.
codecs.register_error("bytewise", lambda e: ("".join(chr(b) for b in e.object[e.start:e.end]), e.end))
def lines(path):
    return [l.rstrip(b"\n").decode("utf-8", "bytewise") for l in open(path, "rb")]
rx = re.compile(r'^([0-9a-fA-F.:]{1,45}) - (\S+) \[([^\]]{26})\] "(\S+) (\S+) (\S+)" ([1-5][0-9][0-9]) (-|[0-9]+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"[ \r]*$')
src = lines(sys.argv[1])
good = [l for l in src if rx.match(l)]
bad = set(l for l in src if not rx.match(l))
out = lines(sys.argv[2])
print("sink", "yes" if out == good else "no", len(out), len(good))
outset = set(out)
ok = True
for f in (sys.argv[3], sys.argv[5]):
    for l in open(f):
        e = json.loads(l)
        if "truncated" in e:
            continue  # longer than a tap slot: the copy is cut, the record unreadable
        m = rx.match(e["line"])
        if e["output"] == "errors":
            # `tap parse` (no output named) taps every output (docs/control.md): a
            # sampled error is a line Python rejects, with a reason.
            good_one = e["node"] == "parse" and e["line"] in bad and "error" in e["record"]
        else:
            good_one = e["node"] == "parse" and e["output"] == "default" and e["line"] in outset
            good_one = good_one and m is not None and e["record"].get("status") == int(m.group(7))
        if not good_one:
            print("bad tap record in", f, l.rstrip(), file=sys.stderr)
        ok &= good_one
print("default", "yes" if ok else "no")
errs = [json.loads(l) for l in open(sys.argv[4])]
print("errors", "yes" if len(errs) == 3 and all(e["output"] == "errors" and e["line"] in bad
                                               and "error" in e["record"] for e in errs) else "no")
PY
tap_is "$(grep -c '^sink yes' check.out)" 1 "the sink holds every parsed line once, in order ($(grep '^sink' check.out))"
tap_is "$(grep -c '^default yes' check.out)" 1 "tapped events (all outputs) are lines the sink wrote with the status Python reads, or lines Python rejects ($(head -c 600 check.err))"
tap_is "$(grep -c '^errors yes' check.out)" 1 "tapped errors are lines Python rejects, with a reason"

python3 - final.json live.json >lat.out <<'PY'
import json, sys
ok = True
for path in sys.argv[1:]:
    d = json.load(open(path))
    for n in d["nodes"]:
        lat = n.get("latency_us")
        if n["role"] == "source":
            ok &= lat is None
            continue
        ok &= lat is not None and lat["call_p50"] <= lat["call_p99"] and lat["age_p50"] <= lat["age_p99"]
        if n["name"] in ("parse", "out") and path == sys.argv[1]:
            ok &= lat["call_p99"] > 0 and lat["age_p99"] > 0
print("latency", "yes" if ok else "no")
PY
tap_is "$(grep -c '^latency yes' lat.out)" 1 "latency p50 <= p99 (call and age) for stages and sinks, none for the source"
grep -q 'P99us' top.out
tap_ok $? "top shows the P99us column"

cat >g.yaml <<'EOF2'
sources:
  lines: { type: gen, count: 0, rate: 2000, seed: 5 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
  held: { use: nginx_parse, inputs: [lines] }
sinks:
  discard: { type: "null", inputs: [parse, parse.errors, held, held.errors] }
EOF2
timeout 120 "$SLUICE" run g.yaml -q --socket g.sock >grun.out 2>grun.err &
PID=$!
for _ in $(seq 1 100); do [ -S g.sock ] && break; sleep 0.05; done
SPID=$(pgrep -P "$PID" | head -1) # sluice itself, under timeout

cat >taplib.py <<'PY'
import json, os, socket, time
def connect(path, rcvbuf=0):
    s = socket.socket(socket.AF_UNIX)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(path)
    s.settimeout(30)
    return s
def read_lines(s, n):
    """Up to n lines, or fewer when the server closes (or after 30 s of silence)."""
    buf = b""
    try:
        while buf.count(b"\n") < n:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except socket.timeout:
        pass
    return [json.loads(l) for l in buf.split(b"\n") if l]
def ctl_cpu_s(pid):
    """CPU seconds used so far by the sl-control thread of pid."""
    for t in os.listdir("/proc/%s/task" % pid):
        if open("/proc/%s/task/%s/comm" % (pid, t)).read().strip() == "sl-control":
            st = open("/proc/%s/task/%s/stat" % (pid, t)).read().rsplit(")", 1)[1].split()
            return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
def tap_ok(lines, limit):
    """A tap's whole answer: its head, limit events of parse, its done line."""
    return (len(lines) >= limit + 2 and lines[0].get("result", lines[0]).get("node") == "parse"
            and all("event_id" in e and e["node"] == "parse" for e in lines[1:limit + 1])
            and lines[limit + 1].get("result", {}).get("done") is True
            and lines[limit + 1]["result"]["events"] == limit)
PY

# A tap client that never reads (a 4 KiB receive buffer): its lines pile up in the socket.
# It taps node `held` and waits out the 10 s while the cases below use `parse`.
python3 - g.sock "$SLUICE" >noread.out 2>&1 <<'PY' &
import subprocess, sys, time
sys.path.insert(0, ".")
from taplib import connect
s = connect(sys.argv[1], rcvbuf=4096)
s.sendall(b'{"v":1,"cmd":"tap","node":"held","limit":1000000,"rate":100000}\n')
def tap_once():
    return subprocess.run([sys.argv[2], "tap", "held", "--limit", "1", "--socket", sys.argv[1]],
                          capture_output=True, text=True, timeout=20)
time.sleep(0.5)
r = tap_once()
print("held", "yes" if r.returncode == 1 and "tapped by another client" in r.stderr else "no",
      r.returncode, r.stderr.strip())
t0 = time.time()
while time.time() - t0 < 40:
    r = tap_once()
    if r.returncode == 0:
        break
    time.sleep(1)
print("freed", "yes" if r.returncode == 0 else "no", round(time.time() - t0), r.stderr.strip())
PY
NOREAD=$!

# Requests behind a running tap, more than the input buffer holds.
python3 - g.sock "$SPID" >spin.out 2>&1 <<'PY'
import sys, time
sys.path.insert(0, ".")
from taplib import connect, read_lines, ctl_cpu_s, tap_ok
s = connect(sys.argv[1])
s.sendall(b'{"v":1,"cmd":"tap","node":"parse","limit":5,"rate":1}\n')
s.sendall(b'{"v":1,"id":7,"cmd":"ping"}\n' * 300)  # 8,400 bytes
a = ctl_cpu_s(sys.argv[2])
time.sleep(2.5)
b = ctl_cpu_s(sys.argv[2])
print("cpu", "yes" if b - a < 0.5 else "no", "%.2f" % (b - a))
lines = read_lines(s, 307)
pongs = [l for l in lines[7:] if l.get("id") == 7 and l["result"]["pong"] is True]
print("answers", "yes" if tap_ok(lines, 5) and len(lines) == 307 and len(pongs) == 300 else "no",
      len(lines), len(pongs))
PY
tap_is "$(grep -c '^cpu yes' spin.out)" 1 "8 KiB of requests behind a tap cost the control thread no CPU ($(grep '^cpu' spin.out))"
tap_is "$(grep -c '^answers yes' spin.out)" 1 "the tap ends, then the 300 requests behind it are answered ($(grep -v '^cpu' spin.out | head -c 300))"

# Requests, then shutdown(SHUT_WR): a tap of 3 and a ping behind it, all answered, then EOF.
python3 - g.sock >half.out 2>&1 <<'PY'
import json, socket, sys
sys.path.insert(0, ".")
from taplib import connect, tap_ok
s = connect(sys.argv[1])
s.sendall(b'{"v":1,"cmd":"tap","node":"parse","limit":3,"rate":1000}\n{"v":1,"id":9,"cmd":"ping"}\n')
s.shutdown(socket.SHUT_WR)
buf, eof = b"", False
try:
    while True:
        c = s.recv(65536)
        if not c:
            eof = True
            break
        buf += c
except socket.timeout:
    pass
lines = [json.loads(l) for l in buf.split(b"\n") if l]
print("half", "yes" if tap_ok(lines, 3) and len(lines) == 6 and lines[5].get("id") == 9
      and lines[5]["result"]["pong"] is True and eof else "no", len(lines), "eof" if eof else "open")
PY
tap_is "$(grep -c '^half yes' half.out)" 1 "after shutdown(SHUT_WR): the tap's 5 lines, the ping's answer, then the server closes ($(head -c 300 half.out))"

wait "$NOREAD"
tap_is "$(grep -c '^held yes' noread.out)" 1 "a tap client that does not read holds the node at first ($(grep '^held' noread.out))"
tap_is "$(grep -c '^freed yes' noread.out)" 1 "it is closed after 10 s without progress: the node can be tapped again ($(grep '^freed' noread.out))"

timeout 10 "$SLUICE" ctl stop --socket g.sock >/dev/null 2>&1
wait "$PID"
tap_is "$?" 0 "ctl stop ends the generator's run with exit 0 ($(tail -1 grun.err))"
PID=
