#!/usr/bin/env python3
"""ICMP/ICMPv6 exchanges: echo v4 and v6, timestamp, neighbour solicitation/advertisement, and a
port unreachable (not a pair)."""
import sys

import trafficgen as tg

pkts, flows = tg.icmp_pairing_mix()
tg.write_case(sys.argv[1], pkts, flows=flows)
