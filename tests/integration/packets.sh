#!/usr/bin/env bash
# The packet path of issue 4 end to end through net_pcap, checked against Python's own
# reading of the same capture (tests/integration/packets.py: struct, no scapy):
#   - the pipeline file of the issue, exactly as written, runs and ends when the capture
#     is consumed; out.pcap holds exactly the UDP/514 frames of in.pcap, in order, byte for
#     byte; out/syslog.log holds exactly their payloads, one a line;
#   - pkt_parse counts every frame by the reason Python gives (parsed or the malformation),
#     the source reports the port statistics and the jumbo frame it could not hold;
#   - conservation at every node; `sluice validate` accepts the file without an EAL;
#   - the lines flow into syslog_parse (hostnames as Python reads them);
#   - flow_count's per-flow packets and bytes equal Python's;
#   - `loop: true` keeps replaying until SIGINT, then drains and exits 0;
#   - the packet generator, written `type: gen` with `emit: packets` (the pktgen source):
#     every frame as docs/packets.md defines it (IMIX pattern, flows, sequence, IPv4
#     checksum, seeded payload), split between replicas, rate held;
#   - the pktcheck sink counts what comes back: a filter that drops one flow in four
#     must show as exactly that loss, no reordering, and ordered latency percentiles;
#   - replicas: a net_null port read by two replicas has two RX queues, both busy, and a
#     run stopped by SIGINT still conserves every event; two sources on one port get
#     queues 0 and 1;
#   - `rate:` replays a capture at that rate, the same frames;
#   - `--replicas 2` leaves a one-file capture at one replica (same outputs); a capture
#     of two files is read by two replicas, one queue each, and ends after both;
#   - errors name the file, line and node: a capture that does not exist, one port
#     declared twice with different arguments (before the EAL starts), an unknown port,
#     a pktgen source asked for lines.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 34
tap_tmpdir
cd "$TMP" || exit 1
# A backgrounded sluice never outlives the test.
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT

PK=$SLUICE_SOURCE/tests/integration/packets.py
python3 "$PK" write in.pcap
python3 "$PK" expect in.pcap .
mkdir -p out

cat >issue4.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap" }
stages:
  parse:  { use: pkt_parse, inputs: [wire] }
  syslog: { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 514" }
  lines:  { use: udp_payload, inputs: [syslog] }
sinks:
  back:   { type: dpdk, device: net_pcap0, inputs: [syslog] }
  text:   { type: file, inputs: [lines], path: out/syslog.log, format: raw }
YAML

"$SLUICE" validate issue4.yaml >validate.out 2>&1
tap_is "$?" 0 "sluice validate accepts the issue's file"

timeout -k 5 60 "$SLUICE" run issue4.yaml --stats-json s.json >run.out 2>run.err
rc=$?
tap_is "$rc" 0 "the issue's pipeline runs and ends when the capture is consumed"
[ "$rc" -eq 0 ] || tap_diag "$(tail -20 run.err)"

python3 "$PK" frames out.pcap >got.frames 2>frames.err
tap_cmp got.frames expect.frames "out.pcap = the UDP/514 frames of in.pcap, in order ($(wc -l <expect.frames) frames)"
tap_cmp out/syslog.log expect.log "out/syslog.log = their payloads as Python reads them"

# pkt_parse counters against Python's reasons.
python3 - s.json expect.counts >counts.check <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
want = dict(l.split() for l in open(sys.argv[2]))
want = {k: int(v) for k, v in want.items()}
c = st["parse"]["counters"]
names = ["parsed", "runt", "vlan_truncated", "vlan_depth", "ip_version", "ip_truncated",
         "ipv4_ihl", "ipv4_total_len", "ipv6_payload_len", "ipv6_ext_truncated",
         "ipv6_ext_limit", "l4_truncated", "udp_len", "tcp_offset"]
bad = [n for n in names if c.get(n, 0) != want.get(n, 0)]
print("reasons", "yes" if not bad else "no " + " ".join(
    "%s=%s/%s" % (n, c.get(n, 0), want.get(n, 0)) for n in bad))
print("errors", "yes" if st["parse"]["out"] == want["parsed"] and
      st["parse"]["dropped"].get("unrouted", 0) == want["errors"] else "no")
print("matched", "yes" if st["syslog"]["counters"]["matched"] == want["matched"] and
      st["back"]["out"] == want["matched"] and st["text"]["out"] == want["matched"] else "no")
print("source", "yes" if st["wire"]["generated"] == want["parsed"] + want["errors"] else "no")
PY
tap_is "$(grep -c '^reasons yes' counts.check)" 1 "pkt_parse counts each reason as Python does ($(grep reasons counts.check))"
tap_is "$(grep -c '^errors yes' counts.check)" 1 "well-formed frames leave on default, the rest on errors"
tap_is "$(grep -c '^matched yes' counts.check)" 1 "pkt_filter matches, the dpdk sink sends and the file sink writes the same count"
tap_is "$(grep -c '^source yes' counts.check)" 1 "the source made one event per frame it could hold"
n_in=$(python3 -c "import sys; sys.path.insert(0, '$(dirname "$PK")'); import packets; print(len(packets.read_pcap('in.pcap')))")
grep -q "port=net_pcap0 queue=0 rx=$n_in .* enlarged=2 oversize=1 | ipackets=$n_in imissed=0 rx_nombuf=0 ierrors=0 oerrors=0" run.err
tap_ok $? "the source's summary has the port statistics, the two long frames enlarged and the jumbo as oversize"

python3 "$TESTLIB/check_stats.py" conserve s.json >conserve.out
tap_ok $? "conservation at every node"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"

# The lines are log lines: syslog_parse reads them.
cat >parse.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap1,rx_pcap=in.pcap" }
stages:
  parse:  { use: pkt_parse, inputs: [wire] }
  syslog: { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 514" }
  lines:  { use: udp_payload, inputs: [syslog] }
  sp:     { use: syslog_parse, inputs: [lines] }
sinks:
  recs:   { type: file, inputs: [sp], path: recs.jsonl, format: jsonl }
  bad:    { type: file, inputs: [sp.errors], path: bad.log, format: raw }
YAML
timeout -k 5 60 "$SLUICE" run parse.yaml -q
tap_is "$?" 0 "udp_payload feeds syslog_parse"
# Every non-empty line parses, long ones too (udp_payload moves them to a big event).
python3 - recs.jsonl expect.log >hosts.check <<'PY'
import json, sys
got = [json.loads(l)["hostname"] for l in open(sys.argv[1])]
want = [l.split(b" ")[3].decode() for l in open(sys.argv[2], "rb") if l.startswith(b"<")]
print("hosts", "yes" if got == want else "no %d %d" % (len(got), len(want)))
PY
tap_is "$(grep -c '^hosts yes' hosts.check)" 1 "syslog_parse reads the hostname of every non-empty line"

# flow_count over the whole capture, against Python's flows.
cat >flows.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap3,rx_pcap=in.pcap" }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
  flows: { use: flow_count, inputs: [parse] }
sinks:
  out:   { type: file, inputs: [flows], path: flows.jsonl, format: jsonl }
YAML
timeout -k 5 60 "$SLUICE" run flows.yaml -q --stats-json flows.json
tap_is "$?" 0 "flow_count runs"
python3 -c 'import json, sys
for l in sorted(json.dumps(json.loads(x), sort_keys=True) for x in open(sys.argv[1])): print(l)' flows.jsonl >got.flows
sort expect.flows >want.flows
tap_cmp got.flows want.flows "flow_count's packets and bytes per 5-tuple = Python's ($(wc -l <want.flows) flows)"

# loop: true replays until stopped (net_pcap's infinite_rx: frames must fit one mbuf, so
# it replays the frames of out.pcap up to 1514 bytes).
python3 -c "import sys; sys.path.insert(0, '$(dirname "$PK")'); import packets
packets.write_pcap('loop.pcap', [f for f in packets.read_pcap('out.pcap') if len(f) <= 1514])"
n_in=$(wc -l <expect.frames)
cat >loop.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap2,rx_pcap=loop.pcap", loop: true }
stages:
  parse:  { use: pkt_parse, inputs: [wire] }
sinks:
  none:   { type: null, inputs: [parse] }
YAML
timeout -k 5 60 "$SLUICE" run loop.yaml --stats-json loop.json >loop.out 2>loop.err &
pid=$!
sleep 2
kill -0 $pid 2>/dev/null
tap_ok $? "loop: true is still running after 2 s"
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
gen=$(python3 "$TESTLIB/check_stats.py" get loop.json wire generated 2>/dev/null || echo 0)
[ "$rc" -eq 0 ] && [ "$gen" -gt $((2 * n_in)) ]
tap_ok $? "after SIGINT it drains and exits 0, having replayed the capture many times ($gen events)"
# The packet generator (gen with emit: packets is pktgen): frames exactly as documented,
# checked by Python against its own rules.
cat >gen.yaml <<'YAML'
sources:
  gen: { type: gen, emit: packets, count: 1200, size: imix, flows: 5, dst_port: 514, seed: 3, replicas: 2 }
stages:
  parse: { use: pkt_parse, inputs: [gen] }
sinks:
  tx: { type: dpdk, device: "net_pcap6,tx_pcap=gen.pcap", inputs: [parse] }
YAML
timeout -k 5 60 "$SLUICE" run gen.yaml -q --stats-json gen.json
tap_is "$?" 0 "gen with emit: packets, 2 replicas, into a dpdk sink runs"
python3 - gen.pcap "$PK" >gen.check <<'PY'
import struct, sys
sys.path.insert(0, __import__("os").path.dirname(sys.argv[2]))
import packets
frames = packets.read_pcap(sys.argv[1])
imix = [60, 60, 60, 590, 60, 60, 590, 60, 60, 590, 590, 1514]
s, fill = 3, []
for _ in range(9000):  # splitmix64, seeded with the seed itself
    s = (s + 0x9E3779B97F4A7C15) & (2**64 - 1)
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    fill.append((z ^ (z >> 31)) & 0xFF)
problems, seqs = [], []
for fr in frames:
    err, info = packets.parse(fr)
    seq = struct.unpack_from("<Q", fr, 42)[0]
    seqs.append(seq)
    ip = fr[14:34]
    csum = sum(struct.unpack(">10H", ip))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    want_flow = seq % 5
    if err or info["proto"] != 17 or info["dport"] != 514:
        problems.append("parse %s" % err)
    elif len(fr) != imix[seq % 12]:
        problems.append("seq %d: %d bytes" % (seq, len(fr)))
    elif info["sport"] != 1024 + want_flow or csum != 0xFFFF:
        problems.append("seq %d: port %d csum %x" % (seq, info["sport"], csum))
    elif list(fr[58:]) != fill[:len(fr) - 58]:
        problems.append("seq %d: payload" % seq)
print("frames", "yes" if not problems else "no " + "; ".join(problems[:3]))
print("seqs", "yes" if sorted(seqs) == list(range(1200)) else "no")
PY
tap_is "$(grep -c '^frames yes' gen.check)" 1 "every pktgen frame is as documented ($(grep frames gen.check))"
tap_is "$(grep -c '^seqs yes' gen.check)" 1 "the replicas' sequence numbers are 0..1199, each once"
# Frames longer than a small event go out of enlarged ones.
cat >jumbo.yaml <<'YAML'
sources:
  gen: { type: pktgen, count: 300, size: 8000, dst_port: 514 }
stages:
  parse: { use: pkt_parse, inputs: [gen] }
sinks:
  tx: { type: dpdk, device: "net_pcap11,tx_pcap=jumbo.pcap", inputs: [parse] }
YAML
timeout -k 5 60 "$SLUICE" run jumbo.yaml -q
rc=$?
python3 - "$PK" jumbo.pcap <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import packets
fr = packets.read_pcap(sys.argv[2])
ok = len(fr) == 300 and all(len(f) == 8000 and packets.parse(f)[0] is None and
                            packets.parse(f)[1]["dport"] == 514 for f in fr)
sys.exit(0 if ok else 1)
PY
py=$?
[ $rc -eq 0 ] && [ $py -eq 0 ]
tap_ok $? "pktgen size 8000: 300 well-formed 8000-byte frames through enlarged events"

cat >rate.yaml <<'YAML'
sources:
  gen: { type: pktgen, count: 3000, rate: 1500 }
sinks:
  none: { type: null, inputs: [gen] }
YAML
t0=$(date +%s.%N)
timeout -k 5 60 "$SLUICE" run rate.yaml >rate.out 2>rate.err
t1=$(date +%s.%N)
python3 -c "import sys; t = $t1 - $t0; sys.exit(0 if 1.8 < t < 6 else 1)" &&
	grep -q "packets=3000 .*target=1500 (held" rate.err
tap_ok $? "rate: 1500 pps for 3000 packets takes about 2 s and the summary says the rate was held"
# bitrate: 1 Mbit/s of 101-byte frames is (101 + 24) * 8 = 1000 bits each, 1000 pps; for 2 s.
cat >bitrate.yaml <<'YAML'
sources:
  gen: { type: pktgen, count: 0, size: 101, bitrate: 1000000, duration: 2s }
sinks:
  none: { type: null, inputs: [gen] }
YAML
timeout -k 5 60 "$SLUICE" run bitrate.yaml >bitrate.out 2>bitrate.err
rc=$?
n=$(grep -o 'packets=[0-9]*' bitrate.err | head -1 | cut -d= -f2)
# (A loaded machine may stall the worker near the end: a little short is fine.)
[ $rc -eq 0 ] && [ "${n:-0}" -ge 1800 ] && [ "${n:-0}" -le 2010 ] && grep -q 'target=1000 ' bitrate.err
tap_ok $? "bitrate 1 Mbit/s of 101-byte frames for 2 s: target 1000 pps, about 2000 packets ($n)"

cat >check.yaml <<'YAML'
sources:
  gen: { type: pktgen, count: 1000, size: imix, flows: 4, dst_port: 7 }
stages:
  parse: { use: pkt_parse, inputs: [gen] }
  drop:  { use: pkt_filter, inputs: [parse], where: "src_port != 1024" }
sinks:
  chk: { type: pktcheck, inputs: [drop], dst_port: 7 }
YAML
timeout -k 5 60 "$SLUICE" run check.yaml >check.out 2>check.err
tap_is "$?" 0 "pktgen -> pkt_filter -> pktcheck runs"
line=$(grep -o 'received=.*' check.err)
python3 - "$line" <<'PY'
import re, sys
f = dict(re.findall(r"(\S+)=(\d+)", sys.argv[1]))
ok = (f.get("received") == "750" and f.get("lost") == "250" and f.get("reordered") == "0"
      and f.get("other") == "0"
      and int(f["p50"]) <= int(f["p99"]) <= int(f["p99.9"]) <= int(f["max"]))
sys.exit(0 if ok else 1)
PY
tap_ok $? "pktcheck: received 750, lost 250 (flow 0 of 4 dropped), none reordered, p50 <= p99 <= p99.9 <= max ($line)"

cat >null.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_null0,size=128", replicas: 2 }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
sinks:
  out: { type: dpdk, device: net_null1, inputs: [parse, parse.errors] }
YAML
timeout -k 5 60 "$SLUICE" run null.yaml --stats-json null.json >null.out 2>null.err &
pid=$!
sleep 1.5
kill -INT $pid 2>/dev/null
wait $pid
tap_is "$?" 0 "two replicas on net_null run until SIGINT and exit 0"
q0=$(grep -o 'queue=0 rx=[0-9]*' null.err | head -1 | cut -d= -f3)
q1=$(grep -o 'queue=1 rx=[0-9]*' null.err | head -1 | cut -d= -f3)
python3 "$TESTLIB/check_stats.py" conserve null.json >null.conserve &&
	[ "${q0:-0}" -gt 0 ] && [ "${q1:-0}" -gt 0 ]
tap_ok $? "both RX queues delivered ($q0 and $q1 packets) and every node conserves"

cat >rated.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap9,rx_pcap=in.pcap,tx_pcap=rated.pcap", rate: 400 }
sinks:
  back: { type: dpdk, device: net_pcap9, inputs: [wire] }
YAML
t0=$(date +%s.%N)
timeout -k 5 60 "$SLUICE" run rated.yaml -q
rc=$?
t1=$(date +%s.%N)
python3 - "$PK" in.pcap rated.pcap "$t0" "$t1" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import packets
src = [f for f in packets.read_pcap(sys.argv[2]) if len(f) <= packets.EVENT_ROOM]
got = packets.read_pcap(sys.argv[3])
t = float(sys.argv[5]) - float(sys.argv[4])
# 403 frames at 400/s: about a second (plus start-up), never much less.
sys.exit(0 if got == src and 0.95 < t < 4 else 1)
PY
py=$?
[ $rc -eq 0 ] && [ $py -eq 0 ]
tap_ok $? "rate: 400 replays the capture in about a second, every frame it can hold, in order"

mkdir -p r2/out
cp in.pcap issue4.yaml r2/
(cd r2 && timeout -k 5 60 "$SLUICE" run issue4.yaml -q --replicas 2 --stats-json s.json)
rc=$?
python3 "$PK" frames r2/out.pcap >r2/got.frames 2>/dev/null
# The stages run two replicas, which do not keep order between them: compare as multisets.
[ $rc -eq 0 ] && cmp -s <(sort r2/got.frames) <(sort expect.frames) &&
	cmp -s <(sort r2/out/syslog.log) <(sort expect.log) &&
	[ "$(python3 "$TESTLIB/check_stats.py" get r2/s.json wire replicas)" = 1 ]
tap_ok $? "--replicas 2: the one-file capture stays one replica, the outputs hold the same frames and lines"
cp in.pcap in2.pcap
cat >tworx.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap10,rx_pcap=in.pcap,rx_pcap=in2.pcap", replicas: 2 }
sinks:
  none: { type: null, inputs: [wire] }
YAML
timeout -k 5 60 "$SLUICE" run tworx.yaml --stats-json tworx.json >tworx.out 2>tworx.err
rc=$?
held=$(python3 -c "import sys; sys.path.insert(0, '$(dirname "$PK")'); import packets
print(sum(1 for f in packets.read_pcap('in.pcap') if len(f) <= packets.EVENT_ROOM))")
[ $rc -eq 0 ] && [ "$(python3 "$TESTLIB/check_stats.py" get tworx.json wire generated)" = $((2 * held)) ] &&
	grep -q 'queue=1 rx=' tworx.err
tap_ok $? "two rx_pcap files, two replicas: both queues read, the run ends with $((2 * held)) events"

cat >two.yaml <<'YAML'
sources:
  a: { type: dpdk, device: "net_null2,size=64" }
  b: { type: dpdk, device: net_null2 }
sinks:
  out: { type: null, inputs: [a, b] }
YAML
timeout -k 5 60 "$SLUICE" run two.yaml >two.out 2>two.err &
pid=$!
sleep 1
kill -INT $pid 2>/dev/null
wait $pid
[ "$?" -eq 0 ] && grep -q 'port=net_null2 queue=0 rx=[1-9]' two.err &&
	grep -q 'port=net_null2 queue=1 rx=[1-9]' two.err
tap_ok $? "two sources on one port read queues 0 and 1"

cat >bad1.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap7,rx_pcap=no-such.pcap" }
sinks:
  out: { type: null, inputs: [wire] }
YAML
timeout -k 5 60 "$SLUICE" run bad1.yaml >bad1.out 2>bad1.err
rc=$?
[ $rc -eq 1 ] && grep -q '^bad1.yaml:2:31: wire: port net_pcap7 was not created' bad1.err
tap_ok $? "a missing capture: exit 1, file:line:col and the node (rc $rc)"
cat >bad2.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap8,rx_pcap=in.pcap" }
sinks:
  out: { type: dpdk, device: "net_pcap8,tx_pcap=x.pcap", inputs: [wire] }
YAML
timeout -k 5 60 "$SLUICE" run bad2.yaml >bad2.out 2>bad2.err
rc=$?
[ $rc -eq 2 ] && grep -q '^bad2.yaml:4:30: out: port net_pcap8 is declared twice' bad2.err
tap_ok $? "one port declared twice with different arguments: exit 2 before the EAL (rc $rc)"
cat >bad3.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: eth7 }
sinks:
  out: { type: null, inputs: [wire] }
YAML
timeout -k 5 60 "$SLUICE" run bad3.yaml >bad3.out 2>bad3.err
rc=$?
[ $rc -eq 1 ] && grep -q '^bad3.yaml:2:31: wire: no port named eth7' bad3.err
tap_ok $? "an unknown port: exit 1 and its name (rc $rc)"
cat >bad4.yaml <<'YAML'
sources:
  g: { type: pktgen, emit: lines }
sinks:
  out: { type: "null", inputs: [g] }
YAML
timeout -k 5 60 "$SLUICE" run bad4.yaml >bad4.out 2>bad4.err
rc=$?
[ $rc -eq 2 ] && grep -q "^bad4.yaml:2:28: source 'g' (pktgen): emit: a pktgen source emits packets only" bad4.err
tap_ok $? "a pktgen source asked for lines: exit 2 naming file:line:col (rc $rc)"
tap_done
