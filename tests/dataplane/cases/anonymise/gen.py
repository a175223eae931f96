#!/usr/bin/env python3
"""The Ethernet mix, anonymised with a key given as 64 hex digits."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
