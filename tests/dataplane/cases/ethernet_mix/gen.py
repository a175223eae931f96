#!/usr/bin/env python3
"""Plain Ethernet mix of every traffic kind tide parses (IPv4 and IPv6)."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
