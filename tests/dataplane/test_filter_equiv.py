#!/usr/bin/env python3
"""test_filter_equiv — tide's --filter must keep exactly the packets tcpdump keeps.

libpcap is the reference semantics for filters (tcpdump reads them so): for every expression in EXPRESSIONS
over each generated capture (Ethernet mix, VLAN/QinQ mix, Linux SLL, raw IP, and the mix of
truncated/malformed frames, where bounds checks matter), `tide --pcap F --filter E --workers 1`
must write the same packets, same bytes, same timestamps, same order as
`tcpdump -r F -w - E`, and count the rest as filtered. An expression libpcap rejects for a link
type (e.g. `vlan` on raw IP) must be rejected by tide too, with exit 2 and libpcap's message.
Invalid expressions must exit 2 with libpcap's own message on stderr.

Usage: test_filter_equiv.py --tide PATH [-k SUBSTRING] [-v]
"""

import argparse
import collections
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcapio  # noqa: E402
import tiderun  # noqa: E402
import trafficgen as tg  # noqa: E402

# {h4} {h4b} {h6} {mac} are filled per capture with a busy IPv4 host, a second IPv4 host,
# a busy IPv6 host and a busy source MAC of that capture, so host filters match something.
EXPRESSIONS = [
    "host {h4}", "src host {h4}", "dst host {h4}", "host {h6}", "host {h4} or host {h6}",
    "host {h4} and host {h4b}",
    "net 10.1.0.0/16", "net 10.1.1.0/24", "src net 192.168.7.0/24",
    "dst net 198.51.100.0 mask 255.255.255.0", "net 203.0.113.0 mask 255.255.255.128",
    "net 2001:db8:1::/48", "src net 2001:db8:1:2::/64",
    "port 53", "src port 53", "dst port 443", "portrange 1-1023", "tcp portrange 30000-40000",
    "udp port 443", "tcp port 443", "udp and (port 53 or port 123)", "tcp and not port 22",
    "tcp", "udp", "icmp", "icmp6", "sctp", "arp", "ip", "ip6", "not ip", "ip proto 132",
    "ip6 proto 17", "ip6 protochain 17", "ether proto 0x88cc",
    "vlan", "vlan 10", "vlan and tcp", "vlan 1000 and vlan 10", "vlan and vlan and udp",
    "not vlan", "vlan 100 or arp",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[13] = 2", "tcp[tcpflags] & tcp-rst != 0",
    "tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0", "tcp[tcpflags] & tcp-urg != 0",
    "tcp[tcpflags] = tcp-syn|tcp-ack",
    "greater 500", "less 100", "len >= 1000 and udp",
    "ip[6:2] & 0x1fff != 0", "ip[6:2] & 0x3fff != 0", "ip[0] & 0xf != 5",
    "icmp[icmptype] = icmp-echo", "icmp6 and ip6[40] = 128",
    "udp and udp[8] & 0xc0 = 0xc0",
    "ether host {mac}", "ether broadcast", "ether multicast", "ether src {mac}",
    "(tcp or udp) and net 10.1.2.0/24 and not port 80",
    "not (tcp or udp or icmp or icmp6)",
]

INVALID = ["port 99999", "tcp and and", "host", "net 10.0.0.0/33", "tcp[tcpflags] &", "frobnicate 3"]


def build_captures(tmp):
    caps = {}
    specs = [
        ("ethernet", tg.ethernet_mix(), tg.LINKTYPE_ETHERNET),
        ("vlan", tg.vlan_mix(), tg.LINKTYPE_ETHERNET),
        ("sll", tg.to_linktype(tg.ethernet_mix(seed=11, conversations=60), tg.LINKTYPE_LINUX_SLL), tg.LINKTYPE_LINUX_SLL),
        ("raw", tg.to_linktype(tg.ethernet_mix(seed=12, conversations=60), tg.LINKTYPE_RAW), tg.LINKTYPE_RAW),
        ("malformed", tg.malformed_mix(), tg.LINKTYPE_ETHERNET),
    ]
    for name, pkts, lt in specs:
        path = os.path.join(tmp, name + ".pcap")
        tg.write(path, pkts, lt)
        caps[name] = (path, lt, placeholders(pkts, lt))
    return caps


def placeholders(pkts, lt):
    v4, v6, macs = collections.Counter(), collections.Counter(), collections.Counter()
    for p in pkts:
        d = tg.dissect(p.data, lt)
        if d.get("l3") == "4":
            v4[d["src"]] += 1
        elif d.get("l3") == "6" and d["src"][0] != 0xFE:
            v6[d["src"]] += 1
        if lt == tg.LINKTYPE_ETHERNET and len(p.data) >= 14:
            macs[p.data[6:12]] += 1
    (h4, _), (h4b, _) = v4.most_common(2)
    h6 = v6.most_common(1)[0][0]
    mac = macs.most_common(1)[0][0] if macs else b"\x02\x00\x00\x00\x00\x01"
    return {"h4": ".".join(map(str, h4)), "h4b": ".".join(map(str, h4b)),
            "h6": ":".join("%x" % int.from_bytes(h6[i:i + 2], "big") for i in range(0, 16, 2)),
            "mac": ":".join("%02x" % b for b in mac)}


def tcpdump(path, expr):
    """(records, None) or (None, libpcap error message)."""
    p = subprocess.run(["tcpdump", "--time-stamp-precision=nano", "-r", path, "-w", "-", expr],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        msg = p.stderr.decode().strip().splitlines()[-1]
        return None, msg.split("tcpdump: ", 1)[-1]
    fd, tmp = tempfile.mkstemp(suffix=".pcap", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(p.stdout)
    try:
        return pcapio.read(tmp).records, None
    finally:
        os.unlink(tmp)


def check_one(tide, tmp, cap_name, cap, expr, n_input):
    path, lt, ph = cap
    want, err = tcpdump(path, expr)
    out = tempfile.mkdtemp(dir=tmp)
    try:
        res = tiderun.run(tide, ["--pcap", path, "--out", out, "--drone", "f", "--workers", "1",
                                 "--quiet", "--filter", expr], tag="filt", timeout=60)
        where = "[%s] %r" % (cap_name, expr)
        if err is not None:
            if res.rc != 2:
                return "%s: libpcap rejects it (%s) but tide exited %s\n%s" % (where, err, res.rc, res.describe())
            if err not in res.stderr:
                return "%s: tide exit 2 but stderr lacks libpcap's message %r\n%s" % (where, err, res.describe())
            return None
        if res.rc != 0:
            return "%s: tide exited %s\n%s" % (where, res.rc, res.describe())
        m = tiderun.load_manifest(out)
        recs, problems = tiderun.check_dataset(out, m)
        got = tiderun.all_records(recs)
        diff = tiderun.first_difference(got, want)
        if diff:
            return "%s: tide wrote %d packets, tcpdump keeps %d; %s" % (where, len(got), len(want), diff)
        c = m["counters"]
        errs = problems + tiderun.invariant_errors(m, input_count=n_input)
        if c["filtered"] != n_input - len(want) or c["matched"] != len(want):
            errs.append("counters matched %d filtered %d, want %d and %d" % (
                c["matched"], c["filtered"], len(want), n_input - len(want)))
        if m["parameters"]["filter"] != expr:
            errs.append("manifest parameters.filter %r != %r" % (m["parameters"]["filter"], expr))
        return "%s: %s" % (where, "; ".join(errs)) if errs else None
    finally:
        shutil.rmtree(out, ignore_errors=True)


def check_invalid(tide, tmp, path, expr):
    want, err = tcpdump(path, expr)
    if err is None:
        return "%r: tcpdump accepts it; the test's table is wrong" % expr
    out = os.path.join(tmp, "invalid")
    res = tiderun.run(tide, ["--pcap", path, "--out", out, "--quiet", "--filter", expr], tag="finv", timeout=60)
    if res.rc != 2:
        return "invalid %r: tide exited %s, want 2\n%s" % (expr, res.rc, res.describe())
    if err not in res.stderr:
        return "invalid %r: stderr lacks libpcap's message %r\n%s" % (expr, err, res.describe())
    return None


def main():
    tide = tiderun.tide_from_argv()
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="only expressions containing this")
    ap.add_argument("-j", type=int, default=2, help="parallel tide runs")
    ap.add_argument("--capture", action="append", help="only these captures (default: all); the "
                    "invalid-expression checks run with 'ethernet'")
    a = ap.parse_args()
    if not os.access(tide, os.X_OK):
        print("tide-dataplane not found at %s" % tide)
        return 1
    tmp = tempfile.mkdtemp(prefix="tide-filter-")
    try:
        caps = build_captures(tmp)
        counts = {n: len(pcapio.read(c[0]).records) for n, c in caps.items()}
        jobs = []
        for name, cap in caps.items():
            if a.capture and name not in a.capture:
                continue
            for e in EXPRESSIONS:
                expr = e.format(**cap[2])
                if a.k and a.k not in expr:
                    continue
                jobs.append((name, cap, expr))
        failures = []
        matched_any = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
            futs = {ex.submit(check_one, tide, tmp, n, c, e, counts[n]): (n, e) for n, c, e in jobs}
            for f in concurrent.futures.as_completed(futs):
                r = f.result()
                if r:
                    failures.append(r)
        invalid = INVALID if not a.capture or "ethernet" in a.capture else []
        for e in invalid:
            r = check_invalid(tide, tmp, caps["ethernet"][0], e)
            if r:
                failures.append(r)
        # the table must exercise both outcomes on the reference, or it proves little
        for name, cap in caps.items():
            for e in EXPRESSIONS:
                want, err = tcpdump(cap[0], e.format(**cap[2]))
                if want:
                    matched_any[e] += 1
        never = [e for e in EXPRESSIONS if not matched_any[e]]
        if never:
            failures.append("table problem: these expressions match no packet in any capture: %s" % never)
        n = len(jobs) + len(invalid)
        for f in sorted(failures):
            print("FAIL " + f.replace("\n", "\n     "))
        print("%d/%d filter checks passed (%d expressions x %d captures, %d invalid expressions)" % (
            n - len(failures), n, len(EXPRESSIONS), len(a.capture or caps), len(invalid)))
        return 1 if failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
