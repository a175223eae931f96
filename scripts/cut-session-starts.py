#!/usr/bin/env python3
"""cut-session-starts.py — a labelled capture as if it had started in the middle of every
conversation: the first N packets of each TCP session of the ground truth are removed (the
handshake, the TLS ClientHello, MQTT's CONNECT, SSH's banners…), and its truth is rewritten to
match (first_ts moves to the first packet kept; a session with nothing left is dropped).

Why: a capture rarely starts at a session's first packet — a drone started by an anomaly
detector joins conversations already under way. This measures what identification is left
when the openings every dissector likes best are missing. UDP sessions are kept whole (a
datagram protocol has no opening to miss, only earlier datagrams).

Usage: scripts/cut-session-starts.py --cut N IN.pcap IN.truth.csv OUT.pcap OUT.truth.csv
python3 stdlib only (plus scripts/labelled_traffic.py's packet keys and tests/lib/pcapio.py).
"""

import argparse
import csv
import ipaddress
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import labelled_traffic as lt  # noqa: E402
import pcapio  # noqa: E402

PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def key(proto, a, pa, b, pb):
    x = (ipaddress.ip_address(a).packed, int(pa))
    y = (ipaddress.ip_address(b).packed, int(pb))
    return (proto,) + (x + y if x <= y else y + x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cut", type=int, default=4, help="TCP packets removed per session")
    ap.add_argument("pcap")
    ap.add_argument("truth")
    ap.add_argument("out_pcap")
    ap.add_argument("out_truth")
    a = ap.parse_args()
    with open(a.truth, newline="") as f:
        rows = list(csv.DictReader(f))
    sessions = {}
    for i, t in enumerate(rows):
        k = key(PROTO[t["proto"]], t["src_ip"], t["src_port"], t["dst_ip"], t["dst_port"])
        sessions.setdefault(k, []).append(i)
    cap = pcapio.read(a.pcap)
    seen = [0] * len(rows)
    first = [None] * len(rows)
    out = []
    for r in cap.records:
        ts = r.ts_ns / 1e9
        p = lt.parse_pkt(r.linktype, r.data)
        idx = None
        if p:
            fam, proto, src, sp, dst, dp = p[:6]
            for i in sessions.get(key(proto, src, sp, dst, dp), []):
                t = rows[i]
                if float(t["first_ts"]) - 1e-6 <= ts <= float(t["last_ts"]) + 1e-6:
                    idx = i
                    break
        if idx is not None and rows[idx]["proto"] == "tcp":
            seen[idx] += 1
            if seen[idx] <= a.cut:
                continue
        if idx is not None and first[idx] is None:
            first[idx] = ts
        out.append((r.ts_ns, r.data, r.wirelen))
    pcapio.write_pcap(a.out_pcap, out, cap.records[0].linktype if cap.records else 1, nano=True)
    kept = 0
    with open(a.out_truth, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        for i, t in enumerate(rows):
            if first[i] is None:
                continue
            t = dict(t)
            t["first_ts"] = "%.6f" % first[i]
            w.writerow(t)
            kept += 1
    print("cut-session-starts.py: %d of %d packets kept; %d of %d sessions left (%d TCP sessions "
          "lost their first %d packets)" % (len(out), len(cap.records), kept, len(rows),
                                           sum(1 for t in rows if t["proto"] == "tcp"), a.cut),
          file=sys.stderr)


if __name__ == "__main__":
    main()
