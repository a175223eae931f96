#!/usr/bin/env python3
"""A pcapng whose first IDB has a trailing length that disagrees with its leading length."""
import os
import struct
import sys

import trafficgen as tg

path = os.path.join(sys.argv[1], "input.pcapng")
pkts = tg.ethernet_mix()[:20]
tg.write(path, pkts, fmt="pcapng")
buf = bytearray(open(path, "rb").read())
shb_len = struct.unpack_from("<I", buf, 4)[0]
idb_len = struct.unpack_from("<I", buf, shb_len + 4)[0]
struct.pack_into("<I", buf, shb_len + idb_len - 4, idb_len + 4)
open(path, "wb").write(bytes(buf))
tg.write_labels(sys.argv[1], "input.pcapng", pkts, idb_offset=shb_len)
