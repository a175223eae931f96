#!/usr/bin/env python3
"""The Ethernet mix re-framed as Linux cooked v1 (SLL)."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.to_linktype(tg.ethernet_mix(), 113), 113)
