#!/usr/bin/env python3
"""The Ethernet mix re-framed as raw IP (LINKTYPE_RAW)."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.to_linktype(tg.ethernet_mix(), 101), 101)
