#!/usr/bin/env python3
"""Classic pcap, nanosecond magic, big-endian, with sub-µs timestamps."""
import os
import sys

import pcapio
import trafficgen as tg

pkts = [p._replace(ts_ns=p.ts_ns + 1 + i * 7 % 999) for i, p in enumerate(tg.ethernet_mix())]
pcapio.write_pcap(os.path.join(sys.argv[1], "input.pcap"), tg.records(pkts), 1, nano=True, big_endian=True)
tg.write_labels(sys.argv[1], "input.pcap", pkts)
