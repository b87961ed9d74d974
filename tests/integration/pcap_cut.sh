#!/usr/bin/env bash
# A capture cut off at its end, as tcpdump killed mid-write leaves it: a `type: dpdk`
# source on net_pcap reads every whole record before the cut, the log names the file, the
# byte offset of the cut record and what is wrong with it, and the run ends by itself with
# the capture. Two cuts: inside the last record's frame, and inside a record header after
# the last whole record. Frames and offsets come from Python's own walk of the file it
# wrote; out.pcap must hold exactly the whole records' frames, in order, byte for byte.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT HUP # so the EXIT trap runs on a timeout too

# cut_pcap DIR: writes DIR/in.pcap, DIR/expect.frames (hex, one a line) and
# DIR/expect.why ("byte N: ...": the log's words for the cut); DIR's name says where
# the cut is (data, header).
cut_pcap() {
	mkdir -p "$1"
	python3 - "$SLUICE_SOURCE/tests/integration" "$1" <<'PY'
import os, random, struct, sys
sys.path.insert(0, sys.argv[1])
import packets
d, case = sys.argv[2], os.path.basename(sys.argv[2])
rnd = random.Random(11)
frames = [packets.pad(packets.eth(0x0800) + packets.ipv4(17, packets.udp(
    40000 + i, 514, bytes(rnd.randrange(256) for _ in range(rnd.randrange(20, 1400))))))
    for i in range(40)]
packets.write_pcap(d + "/in.pcap", frames)
data = open(d + "/in.pcap", "rb").read()
if case == "data":
    # The last record loses 7 bytes of its frame: 39 whole records stay.
    off = len(data) - 16 - len(frames[-1])
    data = data[:-7]
    why = "byte %d: record cut short (%d of %d bytes)" % (off, len(frames[-1]) - 7, len(frames[-1]))
    frames = frames[:-1]
else:
    # A 41st record's header, 9 of its 16 bytes.
    off = len(data)
    data += struct.pack("<IIII", 1795773700, 0, 60, 60)[:9]
    why = "byte %d: record header cut short (9 of 16 bytes)" % off
open(d + "/in.pcap", "wb").write(data)
open(d + "/expect.frames", "w").write("".join(f.hex() + "\n" for f in frames))
open(d + "/expect.why", "w").write(why + "\n")
PY
}

for c in data header; do
	cut_pcap "$TMP/$c"
	cd "$TMP/$c" || exit 1
	cat >p.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap0,rx_pcap=in.pcap" }
sinks:
  back: { type: dpdk, device: "net_pcap1,tx_pcap=out.pcap", inputs: [wire] }
YAML
	timeout -k 5 60 "$SLUICE" run p.yaml >run.out 2>run.err
	rc=$?
	tap_is "$rc" 0 "[$c] the run ends by itself with the cut capture, exit 0"
	[ "$rc" -eq 0 ] || tap_diag "$(tail -5 run.err)"
	grep -F -q "in.pcap: $(cat expect.why); libpcap stops reading the capture there: $(wc -l <expect.frames) whole records before it" run.err
	tap_ok $? "[$c] the log names the file and the cut: $(cat expect.why)"
	[ -s out.pcap ] && python3 "$SLUICE_SOURCE/tests/integration/packets.py" frames out.pcap >got.frames
	tap_cmp got.frames expect.frames "[$c] out.pcap = the $(wc -l <expect.frames) whole records' frames, in order"
	grep -q "port=net_pcap0 queue=0 rx=$(wc -l <expect.frames) " run.err run.out
	rc=$?
	tap_ok $rc "[$c] the source counted exactly the whole records"
	[ "$rc" -eq 0 ] || tap_diag "$(grep 'port=' run.err run.out)"
	cd "$TMP" || exit 1
done
tap_done
