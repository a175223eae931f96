#!/usr/bin/env python3
"""Good packets interleaved with truncated and malformed frames."""
import sys

import trafficgen as tg

tg.write_case(sys.argv[1], tg.malformed_mix())
