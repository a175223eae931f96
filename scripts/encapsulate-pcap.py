#!/usr/bin/env python3
"""encapsulate-pcap.py — re-sends a labelled capture through a tunnel: every IP packet of an
Ethernet capture is wrapped in the given encapsulation (outer headers from
tests/lib/trafficgen.py's `encapsulate`, the same builders the parser's tests use), timestamps
and inner bytes unchanged, so the capture's ground truth (inner 5-tuples and times) still holds.

Why: Linux can carry real programs' traffic through VXLAN in network namespaces
(scripts/make-labelled-traffic.sh --tunnel vxlan), but GTP-U, MPLS, PPPoE or ERSPAN need kernel
modules or peers a test machine lacks; wrapping real-client packets gives those encapsulations
real inner traffic. The outer direction follows the inner source: the clients' addresses are
the tunnel's A side, the servers' its B side.

Usage: scripts/encapsulate-pcap.py --kind KIND [--clients 10.77.0.2,fd77::2] IN.pcap OUT.pcap
  KIND: 4in4 (IPv4 and IPv6 in IPv4), 4in6 (… in IPv6), gre4, gre6-key-csum, eogre, erspan2,
        erspan3, vxlan, gtpu, gtpu-ext, mpls, pppoe4 (see trafficgen.TUNNEL_VARIANTS)
python3 stdlib only (plus tests/lib).
"""

import argparse
import ipaddress
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import pcapio  # noqa: E402
import trafficgen as tg  # noqa: E402

KINDS = ["4in4", "4in6", "gre4", "gre6-key-csum", "eogre", "erspan2", "erspan3", "vxlan", "gtpu",
         "gtpu-ext", "mpls", "pppoe4"]


def inner_ip(frame):
    """The IP packet of an Ethernet frame (VLAN tags skipped), or None."""
    if len(frame) < 14:
        return None
    et, off = struct.unpack("!H", frame[12:14])[0], 14
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
        et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    if et == 0x0800 and len(frame) >= off + 20:
        return frame[off:off + struct.unpack("!H", frame[off + 2:off + 4])[0]]
    if et == 0x86DD and len(frame) >= off + 40:
        return frame[off:off + 40 + struct.unpack("!H", frame[off + 4:off + 6])[0]]
    return None


def source(ip):
    if ip[0] >> 4 == 4:
        return ipaddress.ip_address(ip[12:16])
    return ipaddress.ip_address(ip[8:24])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", required=True, choices=KINDS)
    ap.add_argument("--clients", default="10.77.0.2,fd77::2",
                    help="inner source addresses on the tunnel's A side")
    ap.add_argument("inp")
    ap.add_argument("out")
    a = ap.parse_args()
    clients = {ipaddress.ip_address(x) for x in a.clients.split(",") if x}
    cap = pcapio.read(a.inp)
    rng = random.Random(7)
    out, kept, passed = [], 0, 0
    for i, r in enumerate(cap.records):
        ip = inner_ip(r.data) if cap.interfaces[r.ifindex].linktype == tg.LINKTYPE_ETHERNET else None
        if ip is None:
            out.append((r.ts_ns, r.data))   # ARP and the like stay as they were
            passed += 1
            continue
        frame = tg.encapsulate(a.kind, ip, source(ip) in clients, rng, seq=i)
        out.append((r.ts_ns, frame))
        kept += 1
    pcapio.write_pcap(a.out, out, tg.LINKTYPE_ETHERNET, nano=True)
    print("encapsulate-pcap.py: %s: %d IP packets wrapped, %d other frames kept as they were"
          % (a.kind, kept, passed), file=sys.stderr)


if __name__ == "__main__":
    main()
