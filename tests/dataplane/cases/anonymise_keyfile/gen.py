#!/usr/bin/env python3
"""The VLAN mix, anonymised with a key read from a file (--anon-key @FILE)."""
import os
import sys

import trafficgen as tg

with open(os.path.join(sys.argv[1], "anon.key"), "w") as f:
    f.write("f1e1d1c1b1a191817161514131211101f0e0d0c0b0a090807060504030201000\n")
tg.write_case(sys.argv[1], tg.vlan_mix())
