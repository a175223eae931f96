#!/usr/bin/env python3
"""The Ethernet mix (spanning several seconds), rotated every second of packet time."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
