#!/usr/bin/env python3
"""802.1Q, QinQ (0x88a8 outer) and 0x8100/0x8100 double-tagged frames, some untagged."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.vlan_mix())
