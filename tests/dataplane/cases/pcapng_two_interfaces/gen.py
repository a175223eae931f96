#!/usr/bin/env python3
"""pcapng input: two Ethernet interfaces (ns and µs resolution), an NRB, a custom block and ISBs."""
import os
import struct
import sys

import pcapio
import trafficgen as tg

pkts = tg.ethernet_mix()
# interface 0 has ns resolution: give its packets sub-µs timestamps that must survive
pkts = [p._replace(ts_ns=p.ts_ns + (i % 997 if i % 2 == 0 else 0)) for i, p in enumerate(pkts)]
recs = [pcapio.Record(p.ts_ns, len(p.data), p.wirelen, p.data, 1, i % 2) for i, p in enumerate(pkts)]
ifaces = [pcapio.Interface(1, 262144, 9, "eth0"), pcapio.Interface(1, 262144, 6, "eth1")]
nrb_value = tg.ip4("10.1.1.53") + b"dns.example\0"  # IPv4 record: address, NUL-terminated name
nrb = pcapio.raw_block(pcapio.BT_NRB, struct.pack("<HH", 1, len(nrb_value)) + nrb_value + b"\0" * 4)
custom = pcapio.raw_block(0x00000BAD, b"\x00\x00\x7e\x7e" + b"private data")
last = pkts[-1].ts_ns
pcapio.write_pcapng(os.path.join(sys.argv[1], "input.pcapng"), recs, ifaces,
                    extra_blocks=[(0, nrb), (5, custom)],
                    isbs=[(0, last, {"isb_ifrecv": 1000, "isb_ifdrop": 3}), (1, last, {"isb_ifrecv": 900})])
tg.write_labels(sys.argv[1], "input.pcapng", pkts)
