#!/usr/bin/env python3
"""test_select — jobs that keep sessions by application (tide-dataplane --apps, dp_select.h).

The input is the project's labelled real-client capture (tests/data/labelled/test.pcap, whose
truth file names every session's application): QUIC to UDP 443 and to 4433, TLS to TCP 443 and
9443, DNS on 53 and 5300, and a dozen more.

  quic_any_port     --apps QUIC: the shards hold exactly every packet of every QUIC session of
                    the truth, on 443 and on 4433 (so each kept session is complete from its
                    first packet), and nothing of TLS over TCP 443 or of DNS; the flow records
                    are those QUIC sessions only, and agree with the shards; the counters add
                    up (unselected packets are in filtered, not a loss)
  many_apps         a list of applications and one variant (FTP, DNS, TLS/HTTP2): the kept
                    sessions are exactly the truth's sessions of those, complete
  flows_only        --flows without --out: the flow records alone are selected
  undecided_drop    a bound before TLS can be recognised (--apps-packets 2): TLS sessions are
                    undecided, dropped by default and counted under "packets"
  undecided_keep    the same with --apps-undecided keep: they are kept, whole
  memory_cap        3000 unanswered SYNs with a 1023-mbuf pool: at most a quarter of the pool
                    waits, the rest are judged at the memory bound (counted), nothing is lost
                    or written twice, and the run ends
  live_two_workers  live (net_pcap replaying the capture once) with two workers, where held
                    packets cross the software distribution: the same packets as offline
  names_checked     --check-filter --apps validates names against the tables (what the Hive
                    runs before it accepts a job); usage errors exit 2 with the reason
Each run has its own EAL --file-prefix; every wait is bounded.

Usage: test_select.py --tide PATH [unittest options, e.g. -k quic]
"""

import collections
import csv
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcapio  # noqa: E402
import tiderun  # noqa: E402
import trafficgen as tg  # noqa: E402

TIDE = None
LABELLED = os.path.normpath(os.path.join(HERE, "..", "data", "labelled"))
PCAP = os.path.join(LABELLED, "test.pcap")
TRUTH = os.path.join(LABELLED, "test.truth.csv")


def five_tuple(frame):
    """(proto, a, pa, b, pb) with the two endpoints ordered, or None: a biflow's key from an
    Ethernet frame (VLAN tags skipped), IPv4 or IPv6 without extension headers."""
    et, off = tg.eth_payload(frame)
    if et == 0x0800:
        ihl = (frame[off] & 15) * 4
        proto = frame[off + 9]
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        l4 = off + ihl
    elif et == 0x86DD:
        proto = frame[off + 6]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        l4 = off + 40
    else:
        return None
    sp = dp = 0
    if proto in (6, 17):
        sp, dp = struct.unpack_from("!HH", frame, l4)
    ends = sorted([(src, sp), (dst, dp)])
    return (proto, ends[0][0], ends[0][1], ends[1][0], ends[1][1])


def truth_keys(apps):
    """The biflow keys of the truth's sessions whose app (or app/sub) is in apps."""
    import ipaddress
    keys = set()
    with open(TRUTH, newline="") as f:
        for r in csv.DictReader(f):
            name = r["app"] + ("/" + r["sub_app"] if r["sub_app"] else "")
            if r["app"] not in apps and name not in apps:
                continue
            proto = {"tcp": 6, "udp": 17}[r["proto"]]
            a = (ipaddress.ip_address(r["src_ip"]).packed, int(r["src_port"]))
            b = (ipaddress.ip_address(r["dst_ip"]).packed, int(r["dst_port"]))
            e = sorted([a, b])
            keys.add((proto, e[0][0], e[0][1], e[1][0], e[1][1]))
    return keys


def read_flows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class Select(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.input = pcapio.read(PCAP).records

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tide-select-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_tide(self, opts, tag, eal_extra=()):
        r = tiderun.run(TIDE, opts, tag=tag, eal_extra=eal_extra, timeout=180)
        self.assertEqual(r.rc, 0, r.describe())
        return r

    def dataset(self, out, r):
        m = tiderun.load_manifest(out)
        self.assertEqual(tiderun.invariant_errors(m, len(self.input)), [], r.describe())
        recs, problems = tiderun.check_dataset(out, m)
        self.assertEqual(problems, [], r.describe())
        return m, tiderun.all_records(recs)

    def expected(self, keys):
        return [p for p in self.input if five_tuple(p.data) in keys]

    def assert_same_packets(self, got, want, r):
        diff = tiderun.multiset_difference(got, want, key=lambda p: (p.data,))
        self.assertIsNone(diff, "%s\n%s" % (diff, r.describe()))

    def flows_of(self, out):
        files = [f for f in os.listdir(os.path.join(out, "flows")) if f.endswith(".csv")
                 and "." not in f[:-4]]
        self.assertEqual(len(files), 1, files)
        return read_flows(os.path.join(out, "flows", files[0]))

    # ------------------------------------------------------------------------------------
    def test_quic_any_port(self):
        out = os.path.join(self.tmp, "out")
        r = self.run_tide(["--pcap", PCAP, "--out", out, "--classify", "--apps", "QUIC",
                           "--quiet"], "quic")
        m, got = self.dataset(out, r)
        keys = truth_keys({"QUIC"})
        self.assertEqual(len(keys), 14)
        want = self.expected(keys)
        self.assert_same_packets(got, want, r)
        ports = collections.Counter(k[4] if k[4] in (443, 4433) else k[2] for k in
                                    (five_tuple(p.data) for p in got))
        self.assertGreater(ports[4433], 0, "QUIC on the non-standard port 4433 was not kept")
        self.assertGreater(ports[443], 0)
        for p in got:
            k = five_tuple(p.data)
            self.assertEqual(k[0], 17, "a TCP packet (TLS over TCP 443?) was kept")
            self.assertNotIn(53, (k[2], k[4]), "a DNS packet was kept")
        # the flow records are the kept sessions, and agree with the shards
        flows = self.flows_of(out)
        self.assertEqual(len(flows), 14)
        self.assertEqual({f["app"] for f in flows}, {"QUIC"})
        self.assertEqual(sum(int(f["dataset_pkts"]) for f in flows), len(got))
        for f in flows:
            self.assertEqual(int(f["dataset_pkts"]), int(f["pkts_fwd"]) + int(f["pkts_bwd"]), f)
        c, sel = m["counters"], m["selection"]
        self.assertEqual(c["written"], len(want))
        self.assertEqual(c["unselected"], len(self.input) - len(want))
        self.assertEqual(c["filtered"], c["unselected"])  # no filter: all of filtered is apps
        self.assertEqual(sel["apps"], ["QUIC"])
        self.assertEqual(sel["undecided"], "drop")
        self.assertEqual(sel["sessions"]["selected"], 14)
        self.assertEqual(sel["packets_unselected"], c["unselected"])
        n_sessions = m["flows"]["sessions"]["created"]
        s = sel["sessions"]
        self.assertEqual(s["selected"] + s["unselected"] + s["undecided_kept"] +
                         s["undecided_dropped"], n_sessions, sel)
        self.assertEqual(sum(sel["undecided_at"].values()),
                         s["undecided_kept"] + s["undecided_dropped"], sel)
        # the summary (the application mix) is the mix of the shards
        with open(os.path.join(out, "flows", os.path.basename(
                m["flows"]["file"]) + ".summary.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(x["app"], int(x["dataset_packets"])) for x in rows],
                         [("QUIC", len(got))])

    def test_many_apps(self):
        out = os.path.join(self.tmp, "out")
        apps = ["FTP", "DNS", "TLS/HTTP2"]
        r = self.run_tide(["--pcap", PCAP, "--out", out, "--classify", "--apps",
                           ",".join(apps), "--quiet"], "many")
        m, got = self.dataset(out, r)
        keys = truth_keys(set(apps))
        self.assertGreater(len(keys), 40)
        self.assert_same_packets(got, self.expected(keys), r)
        flows = self.flows_of(out)
        self.assertEqual({(f["app"], f["sub_app"]) for f in flows if f["app"] == "TLS"},
                         {("TLS", "HTTP2")})
        self.assertEqual(m["selection"]["sessions"]["selected"], len(keys), m["selection"])

    def test_flows_only(self):
        flows = os.path.join(self.tmp, "f.csv")
        self.run_tide(["--pcap", PCAP, "--flows", flows, "--apps", "QUIC", "--quiet"], "flows")
        rows = read_flows(flows)
        self.assertEqual(len(rows), 14)
        self.assertEqual({x["app"] for x in rows}, {"QUIC"})
        self.assertEqual({x["dst_port"] for x in rows}, {"443", "4433"})

    def undecided(self, policy):
        out = os.path.join(self.tmp, "out")
        opts = ["--pcap", PCAP, "--out", out, "--classify", "--apps", "TLS",
                "--apps-packets", "2", "--quiet"]
        if policy:
            opts += ["--apps-undecided", policy]
        r = self.run_tide(opts, "und")
        m, got = self.dataset(out, r)
        return r, m, got, self.flows_of(out)

    def test_undecided_drop(self):
        r, m, got, flows = self.undecided(None)
        sel = m["selection"]
        # a TLS session is known at its ClientHello, its fourth packet: none is at its second
        self.assertEqual(sel["sessions"]["selected"], 0, sel)
        tcp_sessions = len([k for k in truth_keys({"TLS"}) if k[0] == 6])
        self.assertGreaterEqual(sel["undecided_at"]["packets"], tcp_sessions, sel)
        self.assertEqual(sel["sessions"]["undecided_kept"], 0)
        self.assertEqual(m["counters"]["written"], 0)
        self.assertEqual(flows, [])
        self.assertEqual(m["counters"]["unselected"], len(self.input))

    def test_undecided_keep(self):
        r, m, got, flows = self.undecided("keep")
        sel = m["selection"]
        self.assertEqual(sel["undecided"], "keep")
        self.assertEqual(sel["sessions"]["undecided_dropped"], 0, sel)
        self.assertGreaterEqual(sel["sessions"]["undecided_kept"],
                                len(truth_keys({"TLS"})), sel)
        # every TLS session is there, whole, and every kept session is complete
        self.assertTrue(truth_keys({"TLS"}) <= {five_tuple(p.data) for p in got})
        kept = {five_tuple(p.data) for p in got}
        self.assert_same_packets(got, self.expected(kept), r)
        self.assertEqual(sum(int(f["dataset_pkts"]) for f in flows), len(got))
        for f in flows:
            self.assertEqual(int(f["dataset_pkts"]), int(f["pkts_fwd"]) + int(f["pkts_bwd"]), f)

    def test_memory_cap(self):
        path = os.path.join(self.tmp, "syns.pcap")
        pkts, t = [], 1_700_000_000 * 10**9
        a, b = tg.ip4("10.9.0.1"), tg.ip4("10.9.0.2")
        n = 3000
        for i in range(n):
            l4 = tg.tcp(10000 + i, 443, 1, 0, 0x02)
            pkts.append((t, tg.eth(tg.mac_for(b), tg.mac_for(a), 0x0800, tg.ipv4(a, b, 6, l4))))
            t += 100_000  # 0.3 s in all: no session meets the 5 s wait
        pcapio.write_pcap(path, pkts, tg.LINKTYPE_ETHERNET)
        for policy, written in (("drop", 0), ("keep", n)):
            out = os.path.join(self.tmp, "out-" + policy)
            r = self.run_tide(["--pcap", path, "--out", out, "--classify", "--apps", "QUIC",
                               "--apps-undecided", policy, "--mbufs", "1023", "--quiet"],
                              "mem")
            m = tiderun.load_manifest(out)
            self.assertEqual(tiderun.invariant_errors(m, n), [], r.describe())
            sel = m["selection"]
            held_max = 1023 // 4
            self.assertEqual(sel["undecided_at"]["memory"] + sel["undecided_at"]["end"], n, sel)
            self.assertGreaterEqual(sel["undecided_at"]["memory"], n - held_max, sel)
            self.assertLessEqual(sel["undecided_at"]["end"], held_max, sel)
            self.assertEqual(m["counters"]["written"], written, sel)
            self.assertEqual(m["counters"]["unselected"], n - written)
            if written:
                recs, problems = tiderun.check_dataset(out, m)
                self.assertEqual(problems, [])
                got = tiderun.all_records(recs)
                self.assert_same_packets(got, [pcapio.Record(0, len(d), len(d), d, 1)
                                               for _, d in pkts], r)

    def test_live_two_workers(self):
        out = os.path.join(self.tmp, "out")
        r = self.run_tide(["--out", out, "--classify", "--apps", "QUIC", "--workers", "2",
                           "--count", str(len(self.input)), "--max-duration", "60",
                           "--drone", "live", "--quiet"], "live",
                          eal_extra=["--lcores", "(0-2)@(0-1)", "--vdev",
                                     "net_pcap0,rx_pcap=" + PCAP])
        m = tiderun.load_manifest(out)
        self.assertEqual(m["counters"]["received"], len(self.input), r.describe())
        self.assertEqual(sum(m["counters"]["dropped"].values()), 0, r.describe())
        recs, problems = tiderun.check_dataset(out, m)
        self.assertEqual(problems, [])
        got = tiderun.all_records(recs)
        self.assert_same_packets(got, self.expected(truth_keys({"QUIC"})), r)
        self.assertEqual(m["selection"]["sessions"]["selected"], 14, m["selection"])

    def test_names_checked(self):
        def run(*opts):
            p = subprocess.run([TIDE] + list(opts), capture_output=True, text=True, timeout=60)
            return p.returncode, p.stdout + p.stderr

        rc, text = run("--check-filter", "--filter", "udp", "--apps", "QUIC,YouTube,TLS/HTTP2")
        self.assertEqual(rc, 0, text)
        rc, text = run("--check-filter", "--apps", "QUIC,QIUC")
        self.assertEqual(rc, 2, text)
        self.assertIn("--apps: 'QIUC' is neither an application (tide_apps.txt) nor a service",
                      text)
        rc, text = run("--check-filter", "--apps", "Q UIC")
        self.assertEqual(rc, 2, text)
        self.assertIn("'Q UIC' is not an application or service name", text)
        rc, text = run("--pcap", PCAP, "--out", os.path.join(self.tmp, "o"), "--apps", "QUIC")
        self.assertEqual(rc, 2, text)
        self.assertIn("give --classify", text)
        rc, text = run("--pcap", PCAP, "--flows", os.path.join(self.tmp, "f.csv"),
                       "--session-type", "host", "--apps", "QUIC")
        self.assertEqual(rc, 2, text)
        self.assertIn("flow or biflow", text)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--tide" in args:
        i = args.index("--tide")
        TIDE = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)
