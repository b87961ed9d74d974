#!/usr/bin/env bash
# The golden test of issue 4: a crafted capture through pkt_parse -> pkt_filter -> forward
# to an output pcap, checked against Python's own reading of the input
# (tests/integration/packets.py forward, written from docs/packets.md):
#   - `use: forward` under stages, with no sinks section, runs as written and ends when
#     the capture is consumed; fwd.pcap holds exactly the frames Python selects for
#     "tcp or (udp and port == 514)", in order, byte for byte;
#   - the summary shows forward as the sink it becomes (kind forward, tx = opackets);
#   - conservation: what the filter passed is what forward sent;
#   - forward takes the sink's keys: an unknown key, replicas or a missing device are
#     refused with file:line, and nothing may read from forward (it has no outputs).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 9
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT HUP # so the EXIT trap runs on a timeout too

PK=$SLUICE_SOURCE/tests/integration/packets.py
python3 "$PK" write in.pcap --seed 5
python3 "$PK" forward in.pcap >expect.frames

cat >fwd.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap0,rx_pcap=in.pcap" }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
  pick:  { use: pkt_filter, inputs: [parse], where: "tcp or (udp and port == 514)" }
  out:   { use: forward, inputs: [pick], device: "net_pcap1,tx_pcap=fwd.pcap" }
YAML

"$SLUICE" validate fwd.yaml >validate.out 2>&1
tap_is "$?" 0 "sluice validate accepts forward among the stages, with no sinks section"

timeout -k 5 60 "$SLUICE" run fwd.yaml --stats-json s.json >run.out 2>run.err
rc=$?
tap_is "$rc" 0 "pkt_parse -> pkt_filter -> forward runs and ends with the capture"
[ "$rc" -eq 0 ] || tap_diag "$(tail -20 run.err)"

python3 "$PK" frames fwd.pcap >got.frames 2>frames.err
test -s expect.frames
tap_ok "$?" "Python selects some frames ($(wc -l <expect.frames) of $(python3 "$PK" frames in.pcap | wc -l))"
tap_cmp got.frames expect.frames "fwd.pcap = the frames Python selects, in order, byte for byte"

python3 - s.json "$(wc -l <expect.frames)" >stats.check <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
want = int(sys.argv[2])
o = st["out"]
print("sink", "yes" if o["role"] == "sink" and o["kind"] == "forward" else "no %s %s" % (o["role"], o["kind"]))
print("conserved", "yes" if st["pick"]["out"] == want and o["in"] == want and o["out"] == want
      else "no pick=%s in=%s out=%s want=%d" % (st["pick"]["out"], o["in"], o["out"], want))
PY
tap_is "$(grep '^sink' stats.check)" "sink yes" "forward runs as a sink of kind forward"
tap_is "$(grep '^conserved' stats.check)" "conserved yes" "what the filter passed is what forward sent"
grep -q "port=net_pcap1 queue=0 tx=$(wc -l <expect.frames) " run.err run.out
tap_is "$?" 0 "the summary line names the port and counts the frames sent"

# Errors: forward takes the dpdk sink's keys only.
cat >bad.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap0,rx_pcap=in.pcap" }
stages:
  out:  { use: forward, inputs: [wire], devcie: net_null0 }
YAML
"$SLUICE" validate bad.yaml >bad.out 2>&1
grep -q "bad.yaml:4:.*unknown key 'devcie'" bad.out
tap_ok "$?" \
	"a misspelt key is refused at its line: $(head -1 bad.out)"

cat >bad2.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap0,rx_pcap=in.pcap" }
stages:
  out:  { use: forward, inputs: [wire], device: net_null0 }
  more: { use: pkt_parse, inputs: [out] }
sinks:
  s: { type: null, inputs: [more] }
YAML
"$SLUICE" validate bad2.yaml >bad2.out 2>&1
grep -q "bad2.yaml:5:.*'out' is a sink" bad2.out
tap_ok "$?" \
	"nothing reads from forward: $(head -1 bad2.out)"
tap_done
