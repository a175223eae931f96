#!/usr/bin/env python3
"""The Ethernet mix with --max-size 48k and --shard-size 16k."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.ethernet_mix())
