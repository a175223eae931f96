#!/usr/bin/env python3
"""The Ethernet mix as pcap with the file cut in the middle of the last record's data."""
import os
import sys

import trafficgen as tg

path = os.path.join(sys.argv[1], "input.pcap")
pkts = tg.ethernet_mix()
tg.write(path, pkts)
bad = 24 + sum(16 + len(p.data) for p in pkts[:-1])
with open(path, "r+b") as f:
    f.truncate(bad + 16 + len(pkts[-1].data) // 2)
tg.write_labels(sys.argv[1], "input.pcap", pkts[:-1], bad_offset=bad)
