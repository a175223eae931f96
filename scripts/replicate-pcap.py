#!/usr/bin/env python3
"""replicate-pcap.py — a large capture with realistic flows from a small labelled one: the input
(real clients' sessions, scripts/make-labelled-traffic.sh) repeated until the output reaches
--bytes, each copy with its own addresses and later timestamps, so every copy's sessions are new
sessions with the same applications, lengths and timing.

Why: benchmarks need gigabytes of traffic whose flows are tens to thousands of packets of real
protocols (TLS, QUIC, DNS, HTTP...), not synthetic mice; the labelled capture has the right
flows but is a megabyte. Addresses: IPv4 octets 2-3 and IPv6 bytes 2-5 are XORed with a value
drawn per copy (seeded, so runs are reproducible), consistently for every packet of the copy,
so clients and servers keep their pairing; ports, payloads (SNI, QUIC Initials) and checksums
are left as they are (tide, tcpdump and nDPI do not check them). Copies are spaced by the
input's span plus one second, so no session of one copy meets the next.

Usage: scripts/replicate-pcap.py [--bytes 1G] [--seed 1] IN.pcap OUT.pcap
Ethernet pcap (classic, micro- or nanosecond) in, the same format out. python3 stdlib only
(plus tests/lib).
"""

import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import trafficgen as tg  # noqa: E402

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_bytes(s):
    s = s.strip().upper().rstrip("IB")
    return int(float(s[:-1]) * UNITS[s[-1]]) if s and s[-1] in UNITS and s[-1] else int(s)


def read_pcap(path):
    with open(path, "rb") as f:
        buf = f.read()
    magic = struct.unpack_from("<I", buf, 0)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit("%s: not a little-endian classic pcap" % path)
    if struct.unpack_from("<I", buf, 20)[0] != 1:
        sys.exit("%s: not Ethernet" % path)
    scale = 1000 if magic == 0xA1B2C3D4 else 1
    recs, off = [], 24
    while off + 16 <= len(buf):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", buf, off)
        recs.append((sec * 10**9 + frac * scale, wirelen, buf[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return buf[:24], scale, recs


def remap(frame, x4, x6):
    """The frame with its IP addresses XORed (x4: 2 bytes for IPv4, x6: 4 bytes for IPv6)."""
    f = bytearray(frame)
    et, off = tg.eth_payload(f)
    if et == 0x0800 and len(f) >= off + 20:
        for a in (off + 12, off + 16):
            f[a + 1] ^= x4[0]
            f[a + 2] ^= x4[1]
    elif et == 0x86DD and len(f) >= off + 40:
        for a in (off + 8, off + 24):
            for i in range(4):
                f[a + 2 + i] ^= x6[i]
    return bytes(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bytes", default="1G")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    header, scale, recs = read_pcap(a.input)
    if not recs:
        sys.exit("%s: no packets" % a.input)
    want = parse_bytes(a.bytes)
    span = recs[-1][0] - recs[0][0] + 10**9
    rng = random.Random(a.seed)
    written, copies, packets = 24, 0, 0
    with open(a.output, "wb") as out:
        out.write(header)
        while written < want:
            x4 = (0, 0) if copies == 0 else (rng.randrange(1, 256), rng.randrange(256))
            x6 = bytes(4) if copies == 0 else bytes(rng.randrange(256) for _ in range(4))
            shift = copies * span
            chunk = []
            for ts, wirelen, data in recs:
                t = ts + shift
                d = remap(data, x4, x6) if copies else data
                chunk.append(struct.pack("<IIII", t // 10**9, (t % 10**9) // scale, len(d),
                                         wirelen) + d)
                written += 16 + len(d)
            out.write(b"".join(chunk))
            copies += 1
            packets += len(recs)
    print("%s: %d copies of %s, %d packets, %d bytes" % (a.output, copies, a.input, packets,
                                                          written))


if __name__ == "__main__":
    main()
