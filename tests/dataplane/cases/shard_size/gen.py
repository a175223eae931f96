#!/usr/bin/env python3
"""The Ethernet mix, rotated every 32 KiB."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
