#!/usr/bin/env python3
"""The Ethernet mix with --max-duration 2 (packet time for --pcap)."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
