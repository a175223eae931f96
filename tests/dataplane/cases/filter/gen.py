#!/usr/bin/env python3
"""The Ethernet mix with a filter on HTTPS, QUIC and ICMP."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
