#!/usr/bin/env python3
"""The Ethernet mix's IP packets as BSD loopback (DLT_NULL), AF_INET6 as 24, 28 and 30 in turn."""
import struct
import sys

import trafficgen as tg

pkts = tg.to_linktype(tg.ethernet_mix(), tg.LINKTYPE_NULL)
v6 = 0
for i, p in enumerate(pkts):
    if struct.unpack("<I", p.data[:4])[0] != tg.AF_INET:
        pkts[i] = p._replace(data=struct.pack("<I", (24, 28, 30)[v6 % 3]) + p.data[4:])
        v6 += 1
tg.write_case(sys.argv[1], pkts, tg.LINKTYPE_NULL)
