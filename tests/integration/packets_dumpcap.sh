#!/usr/bin/env bash
# Issue 4: dpdk-dumpcap captures from a running Sluice (rte_pdump_init, dataplane/port).
# `sluice gen` loops 2000 frames/s through net_ring0 with a shared EAL config
# (--file-prefix); dpdk-dumpcap attaches as a secondary process and writes 40 frames to a
# pcapng file, which Python reads block by block (no library): at least 40 packets, each one a
# generator frame as docs/packets.md lays it out (60 bytes, IPv4, UDP to port 9, the
# generator's MAC addresses, a valid IPv4 header checksum). About 5 s.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v dpdk-dumpcap >/dev/null || tap_skip_all "dpdk-dumpcap not installed (scripts/setup installs dpdk-dev)"
tap_plan 3
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT HUP # so the EXIT trap runs on a timeout too

PREFIX=sl-pd-$$
# A secondary process must map the primary's memory at the primary's addresses. Left to
# itself, the EAL of an ASan build (whose shadow covers DPDK's usual 4 GiB hint) reserves
# its 16 GiB near the top of the address space, where dumpcap's own libraries may already
# sit: dumpcap then fails "Cannot reserve ... please use '--base-virtaddr'" (and DPDK 22.11
# segfaults while exiting). A fixed base far from both ends (32 TiB) avoids the collision.
timeout -k 5 -s INT 30 "$SLUICE" gen --device net_ring0 --rate 2000 --duration 20s -v \
	-- --file-prefix "$PREFIX" --base-virtaddr 0x200000000000 >gen.out 2>gen.err &
GEN=$!
for _ in $(seq 100); do grep -q "running" gen.err && break; sleep 0.1; done
timeout -k 5 20 dpdk-dumpcap --file-prefix "$PREFIX" -i net_ring0 -c 40 -w cap.pcapng \
	>dumpcap.out 2>&1
rc=$?
kill -INT $GEN 2>/dev/null
wait $GEN
tap_is "$rc" 0 "dpdk-dumpcap attached to the running sluice and captured 40 frames"
[ "$rc" -eq 0 ] || tap_diag "$(tail -8 dumpcap.out; tail -5 gen.err)"

python3 - cap.pcapng >cap.check <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
o, frames = 0, []
while o + 12 <= len(data):
    btype, blen = struct.unpack_from("<II", data, o)
    if blen < 12 or o + blen > len(data):
        break
    if btype == 6:  # Enhanced Packet Block
        caplen = struct.unpack_from("<I", data, o + 20)[0]
        frames.append(data[o + 28:o + 28 + caplen])
    o += blen
def ok(f):
    if len(f) != 60 or f[0:12] != bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]):
        return False
    if f[12:14] != b"\x08\x00" or f[14] != 0x45 or f[23] != 17:
        return False
    s = sum(struct.unpack(">10H", f[14:34]))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF and struct.unpack_from(">H", f, 36)[0] == 9
print(len(frames), sum(ok(f) for f in frames))
PY
read -r n good <cap.check
[ "${n:-0}" -ge 40 ]
tap_ok "$?" "the pcapng file holds at least 40 packets ($n: dumpcap stops after the burst that reaches -c)"
tap_is "$good" "$n" "each one is a generator frame (layout, UDP port 9, IPv4 checksum)"
tap_done
