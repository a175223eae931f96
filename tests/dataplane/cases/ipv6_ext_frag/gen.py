#!/usr/bin/env python3
"""IPv6 extension header chains (hop-by-hop, SRH, destination options), IPv6 and IPv4 fragments."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ipv6_mix())
