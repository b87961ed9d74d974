#!/usr/bin/env bash
# Issue 4, external generator over a veth pair: the test creates a veth pair (IPv6 off,
# so the kernel sends nothing of its own on it), tcpreplay sends the crafted capture of
# packets.py into one end at 2000 frames/s, and Sluice reads the other end with net_af_packet
# through pkt_parse -> pkt_filter "udp and dst_port == 514" -> forward to an output pcap.
# out.pcap must hold exactly the frames Python selects from the capture, in order, byte for
# byte. The capture holds only frames of at most 1514 bytes: net_af_packet's default ring
# frame (2048 bytes) carries no jumbo. The pair is removed on every exit path. Needs root
# (CI runs as root); about 4 s.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v tcpreplay >/dev/null || tap_skip_all "tcpreplay not installed (scripts/setup installs it)"
[ "$(id -u)" -eq 0 ] || tap_skip_all "creating a veth pair needs root"
tap_plan 5
tap_tmpdir
cd "$TMP" || exit 1
A=slv$$a
B=slv$$b
A=${A:0:15} B=${B:0:15}
trap 'pkill -9 -P $$ 2>/dev/null; ip link del "$A" 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT HUP # so the EXIT trap runs on a timeout too

PK=$SLUICE_SOURCE/tests/integration/packets.py
python3 "$PK" write all.pcap --seed 3
python3 - "$PK" all.pcap in.pcap <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("packets", sys.argv[1])
P = importlib.util.module_from_spec(spec)
spec.loader.exec_module(P)
P.write_pcap(sys.argv[3], [f for f in P.read_pcap(sys.argv[2]) if 14 <= len(f) <= 1514])
PY
python3 "$PK" expect in.pcap .

ip link add "$A" type veth peer name "$B"
tap_is "$?" 0 "veth pair $A/$B created"
for i in "$A" "$B"; do
	sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
	ip link set "$i" up
done

cat >veth.yaml <<YAML
sources:
  wire: { type: dpdk, device: "net_af_packet0,iface=$B", idle: 3s }
stages:
  parse:  { use: pkt_parse, inputs: [wire] }
  syslog: { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 514" }
  out:    { use: forward, inputs: [syslog], device: "net_pcap1,tx_pcap=out.pcap" }
sinks:
  bad: { type: "null", inputs: [parse.errors] }
YAML
timeout -k 5 40 "$SLUICE" run veth.yaml -v --stats-json s.json >run.out 2>run.err &
SL=$!
for _ in $(seq 100); do grep -q "running" run.err && break; sleep 0.1; done
tcpreplay -q -i "$A" --pps 2000 in.pcap >replay.out 2>&1
tap_is "$?" 0 "tcpreplay sent the capture ($(grep -o 'Successful packets: *[0-9]*' replay.out | tr -s ' '))"
wait $SL
rc=$?
tap_is "$rc" 0 "sluice reads the other end with net_af_packet and ends 3 s after the last frame"
[ "$rc" -eq 0 ] || tap_diag "$(tail -20 run.err)"
python3 "$PK" frames out.pcap >got.frames 2>/dev/null
tap_cmp got.frames expect.frames "out.pcap = the UDP/514 frames Python reads in the capture ($(wc -l <expect.frames))"
ip link del "$A"
ip link show "$B" >/dev/null 2>&1
tap_is "$?" 1 "the veth pair is gone"
tap_done
