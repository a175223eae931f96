#!/usr/bin/env python3
"""A pcap whose magic number is garbage."""
import os
import sys

import trafficgen as tg

path = os.path.join(sys.argv[1], "input.pcap")
pkts = tg.ethernet_mix()[:20]
tg.write(path, pkts)
with open(path, "r+b") as f:
    f.write(b"\xde\xad\xbe\xef")
tg.write_labels(sys.argv[1], "input.pcap", pkts)
