#!/usr/bin/env python3
"""The Ethernet mix with --count 50."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
