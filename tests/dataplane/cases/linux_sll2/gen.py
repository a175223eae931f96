#!/usr/bin/env python3
"""The Ethernet mix re-framed as Linux cooked v2 (SLL2)."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.to_linktype(tg.ethernet_mix(), 276), 276)
