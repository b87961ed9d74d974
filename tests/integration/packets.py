#!/usr/bin/env python3
"""Packet fixtures and the independent reference for tests/integration/packets.sh
(Python standard library only: struct, no scapy).

  packets.py write IN.pcap [--seed N]     a crafted capture: syslog over UDP/514 (IPv4,
                                          IPv6, VLAN, QinQ, IP options, hop-by-hop), other
                                          UDP, TCP to 514, ICMP, ARP, fragments, frames with
                                          lying length fields, random garbage, one jumbo
  packets.py expect IN.pcap OUT_DIR       what the pipeline of issue 4 must write, from
                                          this file's own reading of IN.pcap:
                                          OUT_DIR/expect.frames (the frames of out.pcap,
                                          hex, one a line), OUT_DIR/expect.log,
                                          OUT_DIR/expect.counts ("name value" lines) and
                                          OUT_DIR/expect.flows (flow_count's records,
                                          JSON with sorted keys, sorted)
  packets.py frames OUT.pcap              the frames of a capture, hex, one a line
  packets.py forward IN.pcap              the frames `pkt_parse -> pkt_filter "tcp or (udp
                                          and port == 514)" -> forward` must send, hex
  packets.py corpus DIR                   seed files for the pkt_parse fuzz target

The reference parser below is written from docs/packets.md, not from stages/pkt_parse.
"""

import ipaddress
import json
import os
import random
import struct
import sys

EVENT_ROOM = 8192  # frames longer than an event's data room are dropped by the source


def be16(b, o):
    return struct.unpack_from(">H", b, o)[0]


# ---- reference parser ----

def parse(f):
    """(error or None, info dict) for one frame, by the rules of docs/packets.md."""
    n = len(f)
    if n < 14:
        return "runt", None
    off, tags, typ = 12, 0, be16(f, 12)
    while typ in (0x8100, 0x88A8, 0x9100):
        if tags == 2:
            return "vlan_depth", None
        if n < off + 6:
            return "vlan_truncated", None
        tags += 1
        off += 4
        typ = be16(f, off)
    l2 = off + 2
    info = {"ip": 0, "proto": None, "frag": False, "sport": None, "dport": None}
    if typ == 0x0800:
        ip = f[l2:]
        if len(ip) < 20:
            return "ip_truncated", None
        if ip[0] >> 4 != 4:
            return "ip_version", None
        ihl = (ip[0] & 15) * 4
        if ihl < 20 or ihl > len(ip):
            return "ipv4_ihl", None
        total = be16(ip, 2)
        if total < ihl or total > len(ip):
            return "ipv4_total_len", None
        info.update(ip=4, proto=ip[9], end=l2 + total, src=ip[12:16], dst=ip[16:20])
        if be16(ip, 6) & 0x3FFF:
            info["frag"] = True
            return None, info
        l4, l4end = l2 + ihl, l2 + total
        v6 = False
    elif typ == 0x86DD:
        ip = f[l2:]
        if len(ip) < 40:
            return "ip_truncated", None
        if ip[0] >> 4 != 6:
            return "ip_version", None
        end = 40 + be16(ip, 4)
        if end > len(ip):
            return "ipv6_payload_len", None
        nh, o, count = ip[6], 40, 0
        while nh in (0, 43, 44, 60, 51):
            if count == 8:
                return "ipv6_ext_limit", None
            count += 1
            if end - o < 8:
                return "ipv6_ext_truncated", None
            if nh == 44:
                h = 8
                frag = be16(ip, o + 2) & 0xFFF9
            elif nh == 51:
                h, frag = (ip[o + 1] + 2) * 4, 0
            else:
                h, frag = (ip[o + 1] + 1) * 8, 0
            if h > end - o:
                return "ipv6_ext_truncated", None
            if o + h > 511:
                return "ipv6_ext_limit", None
            nh = ip[o]
            o += h
            if frag:
                info["frag"] = True
                break
        info.update(ip=6, proto=nh, end=l2 + end, src=ip[8:24], dst=ip[24:40])
        if info["frag"]:
            return None, info
        l4, l4end = l2 + o, l2 + end
        v6 = True
    else:
        return None, info
    avail = l4end - l4
    p = info["proto"]
    if p == 17:
        if avail < 8:
            return "l4_truncated", None
        ulen = be16(f, l4 + 4)
        if ulen < 8 or ulen > avail:
            return "udp_len", None
        info.update(sport=be16(f, l4), dport=be16(f, l4 + 2), payload=f[l4 + 8:l4 + ulen])
    elif p == 6:
        if avail < 20:
            return "l4_truncated", None
        doff = (f[l4 + 12] >> 4) * 4
        if doff < 20 or doff > avail:
            return "tcp_offset", None
        info.update(sport=be16(f, l4), dport=be16(f, l4 + 2))
    elif (p == 1 and not v6) or (p == 58 and v6):
        if avail < 8:
            return "l4_truncated", None
    return None, info


# ---- pcap ----

def write_pcap(path, frames):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            out.write(struct.pack("<IIII", 1795773600 + i, i, len(fr), len(fr)))
            out.write(fr)


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, o = [], 24
    while o + 16 <= len(data):
        caplen = struct.unpack_from(end + "I", data, o + 8)[0]
        frames.append(data[o + 16:o + 16 + caplen])
        o += 16 + caplen
    return frames


# ---- crafted traffic ----

MAC = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2])


def eth(typ, tags=()):
    h = MAC
    for i, t in enumerate(tags):
        h += struct.pack(">HH", 0x88A8 if len(tags) == 2 and i == 0 else 0x8100, t)
    return h + struct.pack(">H", typ)


def ipv4(proto, payload, src=(10, 0, 0, 1), dst=(10, 0, 0, 2), opts=b"", frag=0):
    ihl = (20 + len(opts)) // 4
    h = struct.pack(">BBHHHBBH4B4B", 0x40 | ihl, 0, 20 + len(opts) + len(payload), 1, frag,
                    64, proto, 0, *src, *dst)
    return h + opts + payload


def ipv6(nh, payload, ext=b""):
    src = bytes([0xFD] + [0] * 14 + [1])
    dst = bytes([0xFD] + [0] * 14 + [2])
    return struct.pack(">IHBB", 0x60000000, len(ext) + len(payload), nh, 64) + src + dst + \
        ext + payload


def udp(sport, dport, data):
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport, data=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x18, 512, 0, 0) + data


def pad(fr):
    return fr + bytes(max(0, 60 - len(fr)))


def crafted(seed):
    rnd = random.Random(seed)
    frames = []
    hosts = ["web01", "db02", "cache03", "edge04"]
    for i in range(400):
        k = i % 20
        msg = ("<%d>Nov 27 10:%02d:%02d %s app[%d]: event %d user=u%d" %
               (rnd.randrange(192), i // 60 % 60, i % 60, hosts[i % 4], 100 + i % 7, i,
                rnd.randrange(1000))).encode()
        if k == 0:
            frames.append(pad(eth(0x0800) + ipv4(17, udp(40000 + i, 514, msg))))
        elif k == 1:
            frames.append(eth(0x0800) + ipv4(17, udp(40000 + i, 514, msg + b"\n")))
        elif k == 2:
            frames.append(eth(0x8100, (100,)) + ipv4(17, udp(5140, 514, msg + b"\r\n")))
        elif k == 3:
            frames.append(eth(0x8100, (100, 200)) + ipv4(17, udp(5140, 514, msg)))
        elif k == 4:
            frames.append(eth(0x86DD) + ipv6(17, udp(40000, 514, msg)))
        elif k == 5:  # IPv6 hop-by-hop then UDP
            frames.append(eth(0x86DD) + ipv6(0, udp(40001, 514, msg), ext=bytes([17, 0]) + bytes(6)))
        elif k == 6:  # IPv4 options
            frames.append(eth(0x0800) + ipv4(17, udp(40002, 514, msg), opts=b"\x01" * 8))
        elif k == 7:
            frames.append(pad(eth(0x0800) + ipv4(17, udp(40003, 53, b"\x12\x34dns"))))
        elif k == 8:  # from 514, to elsewhere
            frames.append(eth(0x0800) + ipv4(17, udp(514, 6000, msg)))
        elif k == 9:
            frames.append(eth(0x0800) + ipv4(6, tcp(51000, 514, msg)))
        elif k == 10:
            frames.append(pad(eth(0x0800) + ipv4(1, bytes([8, 0, 0, 0, 0, 1, 0, i % 256]))))
        elif k == 11:
            frames.append(pad(eth(0x0806) + bytes(28)))
        elif k == 12:  # first fragment of a UDP/514 datagram: not matched (fragment)
            frames.append(eth(0x0800) + ipv4(17, udp(40004, 514, msg)[:24], frag=0x2000))
        elif k == 13:  # lying UDP length
            u = bytearray(udp(40005, 514, msg))
            u[4:6] = struct.pack(">H", len(u) + 50)
            frames.append(eth(0x0800) + ipv4(17, bytes(u)))
        elif k == 14:  # lying IPv4 total length and bad IHL
            fr = bytearray(eth(0x0800) + ipv4(17, udp(40006, 514, msg)))
            if i % 40 < 20:
                fr[16:18] = struct.pack(">H", len(fr))
            else:
                fr[14] = 0x43
            frames.append(bytes(fr))
        elif k == 15:  # truncated: cut anywhere in the headers
            fr = eth(0x86DD) + ipv6(17, udp(40007, 514, msg))
            frames.append(fr[:rnd.randrange(0, 62)])
        elif k == 16:  # garbage
            frames.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200))))
        elif k == 17:  # IPv6 extension header running past the payload
            frames.append(eth(0x86DD) + ipv6(60, udp(1, 514, b"x"), ext=bytes([17, 9]) + bytes(6)))
        elif k == 18:  # syslog over UDP/514 with an empty payload
            frames.append(pad(eth(0x0800) + ipv4(17, udp(40008, 514, b""))))
        else:  # long syslog line
            frames.append(eth(0x0800) + ipv4(17, udp(40009, 514, msg + b" " + b"x" * 1200)))
    # Longer than a small event: the source copies them into an enlarged one.
    frames.append(eth(0x0800) + ipv4(17, udp(40011, 514, b"<14>Nov 27 11:00:00 big01 app: " +
                                             b"y" * 3900 + b"\n")))
    frames.append(eth(0x86DD) + ipv6(17, udp(40012, 53, b"z" * 2500)))
    # A jumbo frame the event cannot hold (dropped by the source as oversize).
    frames.append(eth(0x0800) + ipv4(17, udp(40010, 514, b"j" * 8900)))
    return frames


def flow_of(info, fr, flows):
    """Count fr in flows under its 5-tuple (ports 0 without a UDP/TCP header)."""
    if not info["ip"]:
        return
    addr = ipaddress.ip_address
    ports = info["proto"] in (6, 17) and not info["frag"]
    key = (str(addr(bytes(info["src"]))), str(addr(bytes(info["dst"]))),
           info["sport"] if ports else 0, info["dport"] if ports else 0, info["proto"])
    p, b = flows.get(key, (0, 0))
    flows[key] = (p + 1, b + len(fr))


def expect(frames, outdir):
    counts, out, log, flows = {}, [], [], {}
    for fr in frames:
        if len(fr) > EVENT_ROOM:
            counts["oversize"] = counts.get("oversize", 0) + 1
            continue
        err, info = parse(fr)
        key = err or "parsed"
        counts[key] = counts.get(key, 0) + 1
        if err:
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        flow_of(info, fr, flows)
        if info["proto"] == 17 and not info["frag"] and info["dport"] == 514:
            out.append(fr)
            line = info["payload"]
            while line[-1:] in (b"\n", b"\r"):
                line = line[:-1]
            log.append(line + b"\n")
    counts["matched"] = len(out)
    with open(os.path.join(outdir, "expect.frames"), "w") as f:
        for fr in out:
            f.write(fr.hex() + "\n")
    with open(os.path.join(outdir, "expect.log"), "wb") as f:
        f.write(b"".join(log))
    with open(os.path.join(outdir, "expect.flows"), "w") as f:
        for (s, d, sp, dp, pr), (p, b) in sorted(flows.items()):
            f.write(json.dumps({"src_ip": s, "dst_ip": d, "src_port": sp, "dst_port": dp,
                                "proto": pr, "packets": p, "bytes": b}, sort_keys=True) + "\n")
    with open(os.path.join(outdir, "expect.counts"), "w") as f:
        for k in sorted(counts):
            f.write("%s %d\n" % (k, counts[k]))


def forwarded(frames):
    """The frames matching 'tcp or (udp and port == 514)' (docs/packets.md: a fragment
    has no L4 header; malformed and oversize frames never reach the filter)."""
    for fr in frames:
        if len(fr) > EVENT_ROOM:
            continue
        err, info = parse(fr)
        if err or not info["ip"] or info["frag"]:
            continue
        if info["proto"] == 6 or (info["proto"] == 17 and 514 in (info["sport"], info["dport"])):
            yield fr


def corpus(d):
    os.makedirs(d, exist_ok=True)
    seen = set()
    for i, fr in enumerate(crafted(7)[:40] + [b"", bytes(13), bytes(14)]):
        if fr in seen:
            continue
        seen.add(fr)
        with open(os.path.join(d, "frame%02d" % i), "wb") as f:
            f.write(fr)


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        write_pcap(sys.argv[2], crafted(seed))
    elif cmd == "expect":
        expect(read_pcap(sys.argv[2]), sys.argv[3])
    elif cmd == "frames":
        for fr in read_pcap(sys.argv[2]):
            print(fr.hex())
    elif cmd == "forward":
        for fr in forwarded(read_pcap(sys.argv[2])):
            print(fr.hex())
    elif cmd == "corpus":
        corpus(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
