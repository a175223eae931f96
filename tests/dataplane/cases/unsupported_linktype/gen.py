#!/usr/bin/env python3
"""A pcap of IEEE 802.11 frames (link type 105), which tide does not parse."""
import os
import random
import sys

import pcapio
import trafficgen as tg

rng = random.Random(5)
frames = [(tg.BASE_TS_NS + i * 1000000, bytes([0x08, 0x02]) + bytes(rng.getrandbits(8) for _ in range(60)), None) for i in range(10)]
pcapio.write_pcap(os.path.join(sys.argv[1], "input.pcap"), frames, 105)
tg.write_labels(sys.argv[1], "input.pcap", [], linktype=105)
