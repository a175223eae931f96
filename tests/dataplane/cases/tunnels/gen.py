#!/usr/bin/env python3
"""IP-in-IP, GRE, Ethernet over GRE, ERSPAN II/III, VXLAN, GTP-U, MPLS and PPPoE, each carrying
a TCP conversation and a DNS exchange; ARP inside VXLAN; a VXLAN frame cut in its inner header."""
import sys

import trafficgen as tg

pkts, flows = tg.tunnel_mix()
tg.write_case(sys.argv[1], pkts, flows=flows)
