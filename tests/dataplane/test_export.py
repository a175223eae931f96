#!/usr/bin/env python3
"""test_export — real-time flow export (tide-dataplane --export) to real collectors on loopback.

  nfcapd          IPFIX over UDP to nfdump's collector (Debian's nfcapd, started here): every
                  record of flows.csv is in nfcapd's file with the same 5-tuple, packets and
                  bytes each way (RFC 5103 reverse counts) and start time, and nothing else is
  ipfix_udp       the same export read by an independent IPFIX decoder (tests/lib/ipfixio.py):
                  the application (applicationName), tide's enterprise elements (sub-label,
                  confidence, classifier, service) and the reverse counts equal flows.csv's
                  columns; IPv4 and IPv6 records each use their template; the TLS session to
                  www.youtube.com carries the service YouTube (config/services.txt) both in
                  flows.csv and in tideService
  ipfix_tcp       IPFIX over TCP: the same records through a stream collector
  json_tcp        json+tcp: the collector receives exactly the lines of --flows-format jsonl
  anonymised      with --anon-key the exported addresses are the anonymised ones of the flow
                  records, never the captured ones
  collector_down  nobody listens: the capture still completes (exit 0), flows.csv is whole, and
                  the log and the dataset's manifest count the lost records by their reason
  many_messages   3000 records over UDP: many messages, each a datagram of at most 1400 bytes
  manifest_counts_sent   with --out, the manifest's "export" says every record was sent
  silent_collector       a TCP collector that accepts and never reads: the capture still ends
                  in time, and sent + lost in the manifest add up to the records
Each run has its own EAL --file-prefix and loopback port; every wait is bounded.

Usage: test_export.py --tide PATH [unittest options, e.g. -k nfcapd]
"""

import csv
import glob
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import collectors  # noqa: E402
import ipfixio  # noqa: E402
import pcapio  # noqa: E402
import tiderun  # noqa: E402
import trafficgen as tg  # noqa: E402

TIDE = None
PEN = 32473
DEADLINE = 60.0


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mixed_capture(path):
    """TCP, UDP and ICMP conversations over IPv4 and IPv6: several flows of known shape, and
    one TLS session whose ClientHello names www.youtube.com."""
    pkts = []
    t = 1_700_000_000 * 10**9
    conv = [
        ("10.1.0.1", "10.1.0.2", 40001, 80, 6),
        ("10.1.0.3", "10.1.0.4", 40002, 53, 17),
        ("fd00::1", "fd00::2", 40003, 443, 6),
        ("fd00::3", "fd00::4", 40004, 5353, 17),
    ]
    for n, (a, b, sp, dp, proto) in enumerate(conv):
        v6 = ":" in a
        for i in range(3 + n):
            for fwd in (True, False):
                s, d = (a, b) if fwd else (b, a)
                ps, pd = (sp, dp) if fwd else (dp, sp)
                body = b"x" * (10 + i)
                l4 = tg.udp(ps, pd, body) if proto == 17 else tg.tcp(ps, pd, 1000 + i, 2000 + i,
                                                                      0x18, body)
                ip = tg.ipv6(tg.ip6(s), tg.ip6(d), proto, l4) if v6 else \
                    tg.ipv4(tg.ip4(s), tg.ip4(d), proto, l4)
                sa, da = (tg.ip6(s), tg.ip6(d)) if v6 else (tg.ip4(s), tg.ip4(d))
                frame = tg.eth(tg.mac_for(da), tg.mac_for(sa), 0x86DD if v6 else 0x0800, ip)
                pkts.append((t, frame))
                t += 1_000_000
    rng = random.Random(7)
    a, b, sp = tg.ip4("10.1.0.5"), tg.ip4("10.1.0.6"), 40005
    cseq, sseq = 1000, 5000
    for fwd, flags, body in [(True, 0x02, b""), (False, 0x12, b""), (True, 0x10, b""),
                             (True, 0x18, tg.tls_client_hello(rng, "www.youtube.com")),
                             (False, 0x18, tg.tls_server_hello(rng))]:
        s, d, ps, pd = (a, b, sp, 443) if fwd else (b, a, 443, sp)
        seq, ack = (cseq, sseq) if fwd else (sseq, cseq)
        l4 = tg.tcp(ps, pd, seq, ack, flags, body)
        pkts.append((t, tg.eth(tg.mac_for(d), tg.mac_for(s), 0x0800, tg.ipv4(s, d, 6, l4))))
        step = len(body) + (1 if flags & 0x02 else 0)
        if fwd:
            cseq += step
        else:
            sseq += step
        t += 1_000_000
    pcapio.write_pcap(path, pkts, tg.LINKTYPE_ETHERNET)


def many_flows(path, n):
    """n one-datagram UDP flows: enough records to fill a collector's socket."""
    pkts = []
    t = 1_700_000_000 * 10**9
    a, b = tg.ip4("10.2.0.1"), tg.ip4("10.2.0.2")
    for i in range(n):
        l4 = tg.udp(1024 + i % 60000, 9000 + i // 60000, b"y" * 20)
        pkts.append((t, tg.eth(tg.mac_for(b), tg.mac_for(a), 0x0800, tg.ipv4(a, b, 17, l4))))
        t += 1000
    pcapio.write_pcap(path, pkts, tg.LINKTYPE_ETHERNET)


def read_flows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def five_tuple(src, sport, dst, dport, proto):
    return (src, int(sport), dst, int(dport), int(proto))


PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def flow_key(r):
    return five_tuple(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"],
                      PROTO.get(r["proto"], r["proto"] or 0))


def wait_records(messages, want):
    """Decode what a collector has received (messages() gives its IPFIX messages so far) until
    it holds `want` records or DEADLINE passes; returns (reader, records)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        reader, recs = ipfixio.Reader(), []
        for m in messages():
            recs.extend(reader.feed(m))
        if len(recs) >= want or time.monotonic() >= deadline:
            return reader, recs
        time.sleep(0.1)


def ipfix_messages(stream):
    out, off = [], 0
    while off + 4 <= len(stream):
        length = struct.unpack("!H", stream[off + 2:off + 4])[0]
        if length < 16 or off + length > len(stream):
            break
        out.append(stream[off:off + length])
        off += length
    return out, off


class Export(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tide-export-")
        self.pcap = os.path.join(self.tmp, "in.pcap")
        mixed_capture(self.pcap)
        self.flows = os.path.join(self.tmp, "flows.csv")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_tide(self, url, extra=()):
        r = tiderun.run(TIDE, ["--pcap", self.pcap, "--flows", self.flows, "--quiet",
                               "--export", url] + list(extra), tag="export", timeout=120)
        self.assertEqual(r.rc, 0, r.describe())
        return r

    def check_ipfix_records(self, recs, flows):
        by_key = {}
        for rec in recs:
            k = five_tuple(rec.get((0, 8)) or rec.get((0, 27)), rec[(0, 7)],
                           rec.get((0, 12)) or rec.get((0, 28)), rec[(0, 11)], rec[(0, 4)])
            self.assertNotIn(k, by_key, "record exported twice: %r" % (k,))
            by_key[k] = rec
        self.assertEqual(set(by_key), {flow_key(f) for f in flows})
        for f in flows:
            rec = by_key[flow_key(f)]
            self.assertEqual(rec[(0, 2)], int(f["pkts_fwd"]))
            self.assertEqual(rec[(0, 1)], int(f["bytes_fwd"]))
            self.assertEqual(rec[(29305, 2)], int(f["pkts_bwd"]))
            self.assertEqual(rec[(29305, 1)], int(f["bytes_bwd"]))
            self.assertEqual(rec[(0, 96)], f["app"])
            self.assertEqual(rec[(PEN, 1)], f["sub_app"])
            self.assertEqual(rec[(PEN, 2)], f["label"])
            self.assertEqual(rec[(PEN, 3)], int(f["confidence"]))
            self.assertEqual(rec[(PEN, 4)], f["classifier"])
            self.assertEqual(rec[(PEN, 5)], f["service"])
            self.assertEqual(rec[(0, 60)], 6 if ":" in f["src_ip"] else 4)

    def test_ipfix_udp(self):
        col = collectors.UdpCollector()
        col.start()
        try:
            self.run_tide("ipfix://127.0.0.1:%d" % col.port)
            flows = read_flows(self.flows)
            reader, recs = wait_records(lambda: list(col.datagrams), len(flows))
        finally:
            col.stop.set()
            col.join(5)
        self.assertGreaterEqual(len(flows), 5)
        self.check_ipfix_records(recs, flows)
        tls = [f for f in flows if f["dst_port"] == "443" and f["proto"] == "tcp" and
               f["src_ip"] == "10.1.0.5"]
        self.assertEqual(len(tls), 1, flows)
        self.assertEqual((tls[0]["app"], tls[0]["label"], tls[0]["service"]),
                         ("TLS", "www.youtube.com", "YouTube"), tls[0])
        self.assertEqual(list(flows[0])[-1], "service")  # the last column
        with open(self.flows + ".services.csv", newline="") as f:
            mix = {r["service"]: int(r["sessions"]) for r in csv.DictReader(f)}
        self.assertEqual(mix, {"YouTube": 1, "unknown": len(flows) - 1})
        self.assertEqual(len({t for (_d, t) in reader.templates}), 2, reader.templates)

    def test_ipfix_tcp(self):
        col = collectors.TcpCollector()
        col.start()
        try:
            self.run_tide("ipfix+tcp://127.0.0.1:%d" % col.port)
            flows = read_flows(self.flows)
            _, recs = wait_records(lambda: ipfix_messages(col.data)[0], len(flows))
        finally:
            col.stop.set()
            col.join(5)
        self.check_ipfix_records(recs, flows)

    def test_json_tcp(self):
        col = collectors.TcpCollector()
        col.start()
        jsonl = os.path.join(self.tmp, "flows.jsonl")
        try:
            r = tiderun.run(TIDE, ["--pcap", self.pcap, "--flows", jsonl, "--flows-format",
                                   "jsonl", "--quiet", "--export",
                                   "json+tcp://127.0.0.1:%d" % col.port],
                            tag="export", timeout=120)
            self.assertEqual(r.rc, 0, r.describe())
            with open(jsonl) as f:
                want = [json.loads(line) for line in f if line.strip()]
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline and col.data.count(b"\n") < len(want):
                time.sleep(0.1)
        finally:
            col.stop.set()
            col.join(5)
        got = [json.loads(line) for line in col.data.decode().splitlines() if line.strip()]
        key = lambda d: d["flow_id"]  # noqa: E731
        self.assertEqual(sorted(got, key=key), sorted(want, key=key))

    def test_anonymised(self):
        col = collectors.UdpCollector()
        col.start()
        key = "ab" * 32
        try:
            self.run_tide("ipfix://127.0.0.1:%d" % col.port, ["--anon-key", key])
            flows = read_flows(self.flows)
            _, recs = wait_records(lambda: list(col.datagrams), len(flows))
        finally:
            col.stop.set()
            col.join(5)
        captured = {"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "fd00::1", "fd00::2",
                    "fd00::3", "fd00::4"}
        exported = {rec.get((0, 8)) or rec.get((0, 27)) for rec in recs} | \
                   {rec.get((0, 12)) or rec.get((0, 28)) for rec in recs}
        self.assertFalse(exported & captured, "captured addresses left the drone")
        self.check_ipfix_records(recs, flows)

    def test_collector_down(self):
        port = free_port(socket.SOCK_STREAM)   # nobody listens there
        out = os.path.join(self.tmp, "ds")
        url = "ipfix+tcp://127.0.0.1:%d" % port
        r = self.run_tide(url, ["--out", out])
        flows = read_flows(self.flows)
        self.assertGreaterEqual(len(flows), 4)
        self.assertRegex(r.stderr, r"flow export to ipfix\+tcp 127\.0\.0\.1:%d: .*refused" % port)
        self.assertRegex(r.stderr, r"0 records sent, 0 lost \(queue full\), %d lost "
                                   r"\(collector\)" % len(flows))
        # and the dataset says so where a user looks
        m = tiderun.load_manifest(out)
        self.assertEqual(m["export"], {"destination": url, "sent": 0, "lost_queue_full": 0,
                                       "lost_collector": len(flows)})

    def test_manifest_counts_sent(self):
        col = collectors.TcpCollector()
        col.start()
        out = os.path.join(self.tmp, "ds")
        url = "ipfix+tcp://127.0.0.1:%d" % col.port
        try:
            self.run_tide(url, ["--out", out])
        finally:
            col.stop.set()
            col.join(5)
        flows = read_flows(self.flows)
        m = tiderun.load_manifest(out)
        self.assertEqual(m["export"], {"destination": url, "sent": len(flows),
                                       "lost_queue_full": 0, "lost_collector": 0})

    def test_many_messages(self):
        """3000 records: over UDP they span many IPFIX messages, each one datagram of at most
        1400 bytes (no IP fragments), and none is lost on loopback."""
        pcap = os.path.join(self.tmp, "many.pcap")
        many_flows(pcap, 3000)
        col = collectors.UdpCollector()
        col.start()
        try:
            r = tiderun.run(TIDE, ["--pcap", pcap, "--flows", self.flows, "--quiet",
                                   "--export", "ipfix://127.0.0.1:%d" % col.port],
                            tag="export", timeout=120)
            self.assertEqual(r.rc, 0, r.describe())
            _, recs = wait_records(lambda: list(col.datagrams), 3000)
        finally:
            col.stop.set()
            col.join(5)
        self.assertEqual(len(recs), 3000)
        self.assertGreater(len(col.datagrams), 3000 * 60 // 1400)
        self.assertLessEqual(max(len(d) for d in col.datagrams), 1400)

    def test_silent_collector(self):
        """A collector that accepts and never reads: the send times out, the capture still
        ends (a job's end never waits on a collector), and every record is counted."""
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        pcap = os.path.join(self.tmp, "many.pcap")
        many_flows(pcap, 20000)
        out = os.path.join(self.tmp, "ds")
        url = "json+tcp://127.0.0.1:%d" % port
        t0 = time.monotonic()
        try:
            r = tiderun.run(TIDE, ["--pcap", pcap, "--flows", self.flows, "--quiet", "--out", out,
                                   "--export", url], tag="export", timeout=120)
        finally:
            srv.close()
        self.assertEqual(r.rc, 0, r.describe())
        self.assertLess(time.monotonic() - t0, 110)
        n = len(read_flows(self.flows))
        self.assertEqual(n, 20000)
        e = tiderun.load_manifest(out)["export"]
        self.assertEqual(e["sent"] + e["lost_queue_full"] + e["lost_collector"], n, e)
        self.assertGreater(e["lost_collector"], 0, e)
        self.assertRegex(r.stderr, r"stopped reading|timed out")

    def test_nfcapd(self):
        nfcapd = shutil.which("nfcapd")
        nfdump = shutil.which("nfdump")
        self.assertTrue(nfcapd and nfdump, "nfdump is not installed (scripts/setup.sh)")
        port = free_port()
        store = os.path.join(self.tmp, "nfcapd")
        os.mkdir(store)
        p = subprocess.Popen([nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", store],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            # nfcapd says nothing when it is listening: wait until the port is bound
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    break
                finally:
                    probe.close()
                time.sleep(0.05)
            self.run_tide("ipfix://127.0.0.1:%d" % port)
            flows = read_flows(self.flows)
            got = []
            while time.monotonic() < deadline:
                # nfcapd writes its file when it stops: stop it only once the datagrams were
                # read off the socket (its receive queue is empty)
                if self.udp_queue_empty(port):
                    break
                time.sleep(0.1)
        finally:
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=DEADLINE)
        files = glob.glob(os.path.join(store, "nfcapd.*"))
        self.assertTrue(files, "nfcapd wrote no file: %s" % out.decode(errors="replace"))
        q = subprocess.run([nfdump, "-R", store, "-q", "-N", "-o",
                            "fmt:%sa|%sp|%da|%dp|%pr|%ipkt|%ibyt|%opkt|%obyt|%tsr"],
                           capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(q.returncode, 0, q.stderr)
        for line in q.stdout.splitlines():
            parts = [x.strip() for x in line.split("|")]
            if len(parts) == 10:
                got.append(parts)
        want = {}
        for f in flows:
            want[flow_key(f)] = (int(f["pkts_fwd"]), int(f["bytes_fwd"]), int(f["pkts_bwd"]),
                                 int(f["bytes_bwd"]), int(float(f["first_ts"]) * 1000))
        seen = {}
        for sa, sp, da, dp, pr, pk, by, opk, oby, tsr in got:
            proto = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}.get(pr.upper(), pr)
            # %tsr: the start as seconds.milliseconds since the epoch
            seen[five_tuple(sa, sp, da, dp, proto)] = (int(pk), int(by), int(opk), int(oby),
                                                       round(float(tsr) * 1000))
        self.assertEqual(seen, want, "nfdump:\n%s" % q.stdout)

    @staticmethod
    def udp_queue_empty(port):
        hexport = "%04X" % port
        for path in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                with open(path) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        if cols[1].endswith(":" + hexport):
                            rx = int(cols[4].split(":")[1], 16)
                            return rx == 0
            except OSError:
                pass
        return True


if __name__ == "__main__":
    TIDE = tiderun.tide_from_argv()
    unittest.main(verbosity=2)
