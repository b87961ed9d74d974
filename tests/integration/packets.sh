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
#   - `loop: true` keeps replaying until SIGINT, then drains and exits 0.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 16
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
grep -q "port=net_pcap0 queue=0 rx=$n_in .*oversize=1 | ipackets=$n_in imissed=0 rx_nombuf=0 ierrors=0 oerrors=0" run.err
tap_ok $? "the source's summary has the port statistics and the jumbo frame as oversize"

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
# Lines longer than 700 bytes may be too large for a record behind them in a small event
# (syslog_parse's too_large); every other non-empty line must parse, in order.
python3 - recs.jsonl expect.log >hosts.check <<'PY'
import json, sys
got = [json.loads(l)["hostname"] for l in open(sys.argv[1])]
want = [(l.split(b" ")[3].decode(), len(l) > 700)
        for l in open(sys.argv[2], "rb") if l.startswith(b"<")]
i = 0
ok = True
for host, optional in want:
    if i < len(got) and got[i] == host:
        i += 1
    elif not optional:
        ok = False
print("hosts", "yes" if ok and i == len(got) and got else "no %d %d" % (len(got), len(want)))
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
# it replays out.pcap, which has no jumbo frame).
n_in=$(wc -l <expect.frames)
cat >loop.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap2,rx_pcap=out.pcap", loop: true }
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
tap_done
