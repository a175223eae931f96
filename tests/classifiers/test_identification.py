#!/usr/bin/env python3
"""test_identification — tide's application identification on labelled captures of REAL programs.

Data: tests/data/labelled/{train,test}.pcap and their ground truth *.truth.csv, made by
scripts/make-labelled-traffic.sh (real servers and clients in two network namespaces; see the
README there). The truth is what the generator configured, never what a classifier said.

  flows_header_and_coverage  offline --flows with --truth: the header has every contract column,
                             every truth session is one flow record (5-tuple in either direction,
                             start inside the truth window) and tide's truth columns agree
  content_beats_ports        for every application tide has a dissector or a payload signature
                             for (config/signatures.txt + the tls/quic/dns/http dissectors), each
                             session's app is the truth's, on standard ports AND on non-standard
                             ports (HTTP on 8888/5432, SSH on 2222/3389, TLS on 9443, DNS on 5300,
                             Redis on 7000/11211, NTP on 1123, ...: there the port table is wrong
                             or silent);
                             TLS and QUIC sub-applications (ALPN) match, and TLS's label is the SNI
                             of the ClientHello in the capture (parsed here, independently)
  stat_train_and_classify    --train on train.pcap writes stat.model; the stat classifier ALONE
                             (--plugins with only `stat`) on test.pcap, a different capture, beats
                             chance: more correct than always answering the most frequent class
  shipped_model              config/stat.model is byte for byte what scripts/train-stat-model.sh
                             trains with this binary, and the default configuration loads it
  modes                      --mode realtime: one record per session, same labels as offline;
                             --mode cyclic --interval 1: UTC-second-named files, each with its
                             .summary.csv, whose union is the offline sessions with the same labels
  not_worse_than_ndpi        the default classifier set (with the nDPI plugin when it is built: then
                             it must have decided sessions) is, overall and for every application
                             of the truth, at least as accurate as ndpiReader alone on the same
                             capture (scoring of scripts/accuracy-report.py; skipped without
                             ndpiReader)
  mid_session_not_worse_than_ndpi
                             the test capture with the first 6 packets of every TCP session cut
                             (scripts/cut-session-starts.py): tide's accuracy and macro F1 still at
                             least ndpiReader's, and the stat classifier declines the joined sessions
  live_equals_offline        the same capture through a live DPDK port (net_pcap, --count N with N
                             its packet count) gives every 5-tuple the same app labels as offline
Data connections (FTP/data, TFTP transfers from the server's data port) carry no protocol
header to recognise: they are left out of content_beats_ports (tide has no control-session
tracking) and counted in scripts/accuracy-report.py instead.

Usage: test_identification.py --tide PATH [unittest options]   (root; every wait bounded)
"""

import collections
import csv
import glob
import ipaddress
import os
import re
import shutil
import struct
import subprocess
import sys
import importlib.util
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcapio  # noqa: E402
import tiderun  # noqa: E402

TIDE = None
DATA = os.path.join(ROOT, "tests", "data", "labelled")
TEST_PCAP = os.path.join(DATA, "test.pcap")
TEST_TRUTH = os.path.join(DATA, "test.truth.csv")
TRAIN_PCAP = os.path.join(DATA, "train.pcap")
TRAIN_TRUTH = os.path.join(DATA, "train.truth.csv")

FLOW_COLUMNS = ["flow_id", "proto", "src_ip", "src_port", "dst_ip", "dst_port", "first_ts", "last_ts",
                "pkts_fwd", "bytes_fwd", "pkts_bwd", "bytes_bwd", "app", "sub_app", "confidence",
                "classifier", "label", "reason", "end"]
TRUTH_COLUMNS = ["truth_app", "truth_sub_app"]
DISSECTOR_APPS = {"TLS", "QUIC", "DNS", "HTTP", "NTP"}
PROTO_NUM = {"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58, "sctp": 132}


def key_of(proto, a, pa, b, pb):
    """Direction-independent 5-tuple (tide keys ICMP on type and partner type or code as ports, and so does the truth)."""
    p = PROTO_NUM.get(proto.lower(), proto) if isinstance(proto, str) else proto
    x = (ipaddress.ip_address(a).packed, int(pa or 0))
    y = (ipaddress.ip_address(b).packed, int(pb or 0))
    return (int(p),) + (x + y if x <= y else y + x)


def sub_name(s):
    s = (s or "").strip()
    return s.split("/", 1)[1] if "/" in s else s


def load_truth(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["key"] = key_of(r["proto"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
        r["first"], r["last"] = float(r["first_ts"]), float(r["last_ts"])
        r["sub"] = sub_name(r.get("sub_app"))
    return rows


def load_flows(paths):
    rows, header = [], None
    for p in paths:
        with open(p, newline="") as f:
            rd = csv.DictReader(f)
            header = header or rd.fieldnames
            for r in rd:
                r["key"] = key_of(r["proto"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
                r["first"] = float(r["first_ts"])
                r["_file"] = p
                rows.append(r)
    return header, rows


def match(truth, flows, slack=1.0):
    """truth row -> the flow with its key starting inside its window (closest start), or None."""
    by_key = collections.defaultdict(list)
    for f in flows:
        by_key[f["key"]].append(f)
    out = []
    for t in truth:
        cands = [f for f in by_key.get(t["key"], []) if t["first"] - slack <= f["first"] <= t["last"] + slack]
        out.append(min(cands, key=lambda f: abs(f["first"] - t["first"])) if cands else None)
    return out


SHAPE_ALONE_MIN = 90  # classifiers/engine/cls_engine.h CLS_SHAPE_ALONE_MIN


def signature_apps():
    """Apps tide has content evidence for that may decide alone: a dissector's, or a signature
    not marked evidence=shape below SHAPE_ALONE_MIN (a lone shape needs another classifier to
    agree, so on a port the table does not know it is rightly unknown)."""
    apps = set(DISSECTOR_APPS) | {"ICMP"}  # ICMP: the IP protocol number is the protocol
    with open(os.path.join(ROOT, "config", "signatures.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                w = line.split()
                shape = len(w) > 4 and w[4] == "evidence=shape"
                if not shape or (w[3].isdigit() and int(w[3]) >= SHAPE_ALONE_MIN):
                    apps.add(w[0].split("/")[0])
    return apps


def is_data_connection(t):
    """FTP/data, and TFTP transfers (the server answers from a data port, neither side is 69)."""
    if t["sub"].lower() == "data":
        return True
    return t["app"] == "TFTP" and "69" not in (t["src_port"], t["dst_port"])


def client_hello_snis(pcap):
    """key -> SNI of the first TLS ClientHello of each TCP session (Ethernet, IPv4/IPv6)."""
    out = {}
    for r in pcapio.read(pcap).records:
        d = r.data
        if len(d) < 14:
            continue
        et, off = struct.unpack("!H", d[12:14])[0], 14
        if et == 0x0800:
            if d[off + 9] != 6:
                continue
            src, dst = str(ipaddress.ip_address(d[off + 12:off + 16])), str(ipaddress.ip_address(d[off + 16:off + 20]))
            end = off + struct.unpack("!H", d[off + 2:off + 4])[0]
            l4 = off + (d[off] & 15) * 4
        elif et == 0x86DD:
            if d[off + 6] != 6:
                continue
            src, dst = str(ipaddress.ip_address(d[off + 8:off + 24])), str(ipaddress.ip_address(d[off + 24:off + 40]))
            end = off + 40 + struct.unpack("!H", d[off + 4:off + 6])[0]
            l4 = off + 40
        else:
            continue
        sp, dp = struct.unpack("!HH", d[l4:l4 + 4])
        pl = d[l4 + (d[l4 + 12] >> 4) * 4:end]
        k = key_of(6, src, sp, dst, dp)
        if k in out or len(pl) < 9 or pl[0] != 0x16 or pl[5] != 0x01:
            continue
        sni = parse_sni(pl[5:])
        if sni is not None:
            out[k] = sni
    return out


def parse_sni(hs):
    """SNI host name in a ClientHello handshake message (None if absent or cut)."""
    try:
        p = 4 + 2 + 32  # type, length, version, random
        p += 1 + hs[p]  # session id
        p += 2 + struct.unpack("!H", hs[p:p + 2])[0]  # cipher suites
        p += 1 + hs[p]  # compression methods
        ext_end = p + 2 + struct.unpack("!H", hs[p:p + 2])[0]
        p += 2
        while p + 4 <= ext_end:
            et, el = struct.unpack("!HH", hs[p:p + 4])
            if et == 0:
                body = hs[p + 4:p + 4 + el]
                n = struct.unpack("!H", body[3:5])[0]
                return body[5:5 + n].decode("ascii")
            p += 4 + el
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


def pcap_packet_count(path):
    return len(pcapio.read(path).records)


class IdentificationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for p in (TEST_PCAP, TEST_TRUTH, TRAIN_PCAP, TRAIN_TRUTH):
            if not os.path.exists(p):
                raise unittest.SkipTest("%s missing: run scripts/make-labelled-traffic.sh" % p)
        cls.tmp = tempfile.mkdtemp(prefix="tide-ident-")
        cls.truth = load_truth(TEST_TRUTH)
        cls.offline_csv = os.path.join(cls.tmp, "offline.csv")
        cls.offline_run = tiderun.run(TIDE, ["--pcap", TEST_PCAP, "--flows", cls.offline_csv, "--truth", TEST_TRUTH],
                                      tag="ident-off", timeout=60)
        cls.header, cls.flows = (None, [])
        if cls.offline_run.rc == 0 and os.path.exists(cls.offline_csv):
            cls.header, cls.flows = load_flows([cls.offline_csv])
        cls.matched = match(cls.truth, cls.flows)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def offline_ok(self):
        self.assertEqual(self.offline_run.rc, 0, self.offline_run.describe())
        self.assertTrue(self.flows, "no flow records\n" + self.offline_run.describe())

    # ------------------------------------------------------------------------------------------
    def test_flows_header_and_coverage(self):
        self.offline_ok()
        missing_cols = [c for c in FLOW_COLUMNS + TRUTH_COLUMNS if c not in self.header]
        self.assertEqual(missing_cols, [], "flows.csv header %s" % self.header)
        self.assertEqual(self.header[:len(FLOW_COLUMNS)], FLOW_COLUMNS, "contract column order")
        self.assertEqual(self.header[-1], "service", "service is the last column")
        self.assertGreater(len(self.truth), 100, "the labelled capture is too small to mean anything")
        missing = [t for t, f in zip(self.truth, self.matched) if f is None]
        self.assertEqual(missing, [], "truth sessions with no flow record: %s" % [
            (t["proto"], t["src_ip"], t["src_port"], t["dst_ip"], t["dst_port"], t["app"]) for t in missing[:10]])
        used = [id(f) for f in self.matched]
        self.assertEqual(len(used), len(set(used)), "two truth sessions matched one flow record")
        wrong = [(t["app"], t["sub"], f["truth_app"], sub_name(f["truth_sub_app"]), t["src_port"], t["dst_port"])
                 for t, f in zip(self.truth, self.matched)
                 if (f["truth_app"], sub_name(f["truth_sub_app"])) != (t["app"], t["sub"])]
        self.assertEqual(wrong, [], "tide's truth columns disagree with the truth file")
        unlabelled = [f for f in self.flows if not f["truth_app"]]
        self.assertLessEqual(len(unlabelled), 10, "flows without truth: %s" % [
            (f["proto"], f["src_ip"], f["src_port"], f["dst_ip"], f["dst_port"]) for f in unlabelled[:10]])

    # ------------------------------------------------------------------------------------------
    def test_content_beats_ports(self):
        self.offline_ok()
        apps = signature_apps()
        snis = client_hello_snis(TEST_PCAP)
        checked = collections.Counter()
        bad = []
        std_ports = {"DNS": {53}, "HTTP": {80}, "TLS": {443}, "QUIC": {443}, "SSH": {22}, "SMTP": {25},
                     "NTP": {123}, "FTP": {21}, "MQTT": {1883}, "Redis": {6379}, "SNMP": {161},
                     "Telnet": {23}, "TFTP": {69}}
        for t, f in zip(self.truth, self.matched):
            if f is None or t["app"] not in apps or is_data_connection(t):
                continue
            ports = {int(t["src_port"]), int(t["dst_port"])}
            where = "standard" if t["proto"].startswith("icmp") or ports & std_ports.get(t["app"], set()) else "non-standard"
            checked[(t["app"], where)] += 1
            desc = "%s %s:%s -> %s:%s (%s port)" % (t["proto"], t["src_ip"], t["src_port"], t["dst_ip"], t["dst_port"], where)
            if f["app"] != t["app"]:
                bad.append("%s: truth %s, tide %s (classifier %s, %s)" % (desc, t["app"], f["app"], f["classifier"], f["reason"]))
                continue
            if t["app"] in ("TLS", "QUIC") and sub_name(f["sub_app"]) != t["sub"]:
                bad.append("%s: truth %s/%s, tide %s/%s" % (desc, t["app"], t["sub"], f["app"], f["sub_app"]))
            if t["app"] == "TLS":
                want = snis.get(t["key"])
                if want is None:
                    bad.append("%s: no ClientHello SNI found in the capture (test data?)" % desc)
                elif f["label"] != want:
                    bad.append("%s: label %r, ClientHello SNI %r" % (desc, f["label"], want))
            if t["app"] == "QUIC" and not re.match(r"^[a-z0-9.-]+\.example$", f["label"] or ""):
                bad.append("%s: QUIC label %r is not the SNI the client sent" % (desc, f["label"]))
        print("\n  checked: %s" % ", ".join("%s/%s %d" % (a, w, n) for (a, w), n in sorted(checked.items())),
              file=sys.stderr, end=" ")
        for app in ("DNS", "HTTP", "TLS", "SSH", "SMTP"):
            for where in ("standard", "non-standard"):
                self.assertGreater(checked[(app, where)], 0, "test data has no %s session on a %s port" % (app, where))
        self.assertEqual(bad, [], "%d of %d sessions misidentified:\n  %s" % (
            len(bad), sum(checked.values()), "\n  ".join(bad)))

    # ------------------------------------------------------------------------------------------
    def not_worse_than_ndpi(self, pcap, truth_path, flows):
        """tide's flows on pcap score at least ndpiReader's, overall, by macro F1 and for every
        application's recall (scoring of scripts/accuracy-report.py)."""
        ndpi = shutil.which("ndpiReader")
        if not ndpi:
            self.skipTest("ndpiReader not installed (Debian: libndpi-bin)")
        spec = importlib.util.spec_from_file_location("accuracy_report",
                                                      os.path.join(ROOT, "scripts", "accuracy-report.py"))
        ar = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ar)
        truth = ar.load_truth(truth_path)
        tide = []
        for r in flows:
            if r["src_ip"]:
                p = ar.proto_num(r["proto"]) if r["proto"] else 0
                tide.append({"key": ar.canon(p, r["src_ip"], r["src_port"] or 0, r["dst_ip"], r["dst_port"] or 0),
                             "first": float(r["first_ts"]), "app": r["app"] or "unknown", "sub": r["sub_app"]})
        nd = ar.ndpi_flows(ndpi, pcap, os.path.join(self.tmp, "ndpi.csv"), timeout=120)
        st = ar.score(truth, ar.join(truth, tide)[0])
        sn = ar.score(truth, ar.join(truth, nd)[0])
        print("\n  %s: accuracy tide %.1f%%, ndpiReader %.1f%%; macro F1 %.1f / %.1f" % (
            os.path.basename(pcap), 100 * st["accuracy"], 100 * sn["accuracy"],
            100 * st["macro_f1"], 100 * sn["macro_f1"]), file=sys.stderr, end=" ")
        self.assertGreaterEqual(st["accuracy"], sn["accuracy"])
        self.assertGreaterEqual(st["macro_f1"], sn["macro_f1"])
        return st, sn

    def test_not_worse_than_ndpi(self):
        self.offline_ok()
        plugin = os.path.join(os.path.dirname(os.path.abspath(TIDE)), "..", "classifiers", "plugins", "ndpi.so")
        if os.path.exists(plugin):
            self.assertTrue(any(f["classifier"] == "ndpi" for f in self.flows),
                            "ndpi.so is built but decided no session: not loaded by default?")
        st, sn = self.not_worse_than_ndpi(TEST_PCAP, TEST_TRUTH, self.flows)
        worse = ["%s: tide %.2f < nDPI %.2f" % (c, st["classes"][c]["recall"], r["recall"])
                 for c, r in sn["classes"].items() if st["classes"][c]["recall"] < r["recall"]]
        self.assertEqual(worse, [], "applications ndpiReader recognises better")

    def test_mid_session_not_worse_than_ndpi(self):
        """The capture joins every TCP conversation after its 6th packet (handshakes, hellos,
        banners gone: scripts/cut-session-starts.py): tide still scores at least ndpiReader —
        the statistical classifier, trained on openings, must not guess from a middle."""
        pcap, truth = os.path.join(self.tmp, "mid.pcap"), os.path.join(self.tmp, "mid.truth.csv")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "cut-session-starts.py"), "--cut", "6",
                            TEST_PCAP, TEST_TRUTH, pcap, truth], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(self.tmp, "mid.csv")
        r = tiderun.run(TIDE, ["--pcap", pcap, "--flows", out], tag="ident-mid", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stderr, r"joined mid-session [1-9]")
        _, flows = load_flows([out])
        self.not_worse_than_ndpi(pcap, truth, flows)

    # ------------------------------------------------------------------------------------------
    def test_stat_train_and_classify(self):
        mdir = os.path.join(self.tmp, "model")
        os.makedirs(mdir, exist_ok=True)
        r = tiderun.run(TIDE, ["--pcap", TRAIN_PCAP, "--truth", TRAIN_TRUTH, "--train", "--model-dir", mdir,
                               "--flows", os.path.join(self.tmp, "train-flows.csv")], tag="ident-train", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        model = os.path.join(mdir, "stat.model")
        self.assertTrue(os.path.isfile(model) and os.path.getsize(model) > 0, "no stat.model written\n" + r.describe())
        plugins = os.path.join(self.tmp, "stat-only.plugins")
        with open(plugins, "w") as f:
            f.write("stat\n")
        out = os.path.join(self.tmp, "stat.csv")
        r = tiderun.run(TIDE, ["--pcap", TEST_PCAP, "--flows", out, "--truth", TEST_TRUTH, "--plugins", plugins,
                               "--model-dir", mdir], tag="ident-stat", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        _, flows = load_flows([out])
        got = match(self.truth, flows)
        self.assertNotIn(None, got, "stat run lost sessions")
        used = collections.Counter(f["classifier"] for f in got)
        self.assertTrue(set(used) <= {"stat", "none", ""}, "classifiers other than stat answered: %s" % used)
        correct = sum(1 for t, f in zip(self.truth, got) if f["app"] == t["app"])
        n = len(self.truth)
        classes = collections.Counter(t["app"] for t in self.truth)
        majority = classes.most_common(1)[0][1]
        print("\n  stat alone: %d/%d correct (%.1f%%); chance: majority class %.1f%%, by frequency %.1f%%" % (
            correct, n, 100.0 * correct / n, 100.0 * majority / n,
            100.0 * sum((c / n) ** 2 for c in classes.values())), file=sys.stderr, end=" ")
        self.assertGreater(correct, majority, "stat alone (%d/%d) is no better than always answering %s (%d)" % (
            correct, n, classes.most_common(1)[0][0], majority))

    # ------------------------------------------------------------------------------------------
    def test_shipped_model(self):
        """config/stat.model is what scripts/train-stat-model.sh makes with this binary, and the
        default configuration loads it."""
        out = os.path.join(self.tmp, "shipped")
        os.makedirs(out, exist_ok=True)
        p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "train-stat-model.sh"), "--tide", TIDE,
                            "--out", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        with open(os.path.join(out, "stat.model")) as f:
            fresh = f.read()
        with open(os.path.join(ROOT, "config", "stat.model")) as f:
            shipped = f.read()
        self.assertEqual(shipped, fresh, "config/stat.model is stale: run scripts/train-stat-model.sh "
                         "(features or training data changed)")
        r = tiderun.run(TIDE, ["--pcap", TEST_PCAP, "--flows", os.path.join(self.tmp, "m.csv")],
                        tag="ident-model", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertRegex(r.stderr, r"# stat: model loaded \(14 applications\)")

    # ------------------------------------------------------------------------------------------
    def labels_by_key(self, flows):
        d = collections.defaultdict(list)
        for f in flows:
            d[f["key"]].append((f["app"], sub_name(f["sub_app"])))
        return {k: sorted(v) for k, v in d.items()}

    def test_modes(self):
        self.offline_ok()
        want = self.labels_by_key(self.flows)
        # realtime
        rt = os.path.join(self.tmp, "rt.csv")
        r = tiderun.run(TIDE, ["--pcap", TEST_PCAP, "--flows", rt, "--mode", "realtime"], tag="ident-rt", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        header, flows = load_flows([rt])
        self.assertEqual(header[:len(FLOW_COLUMNS)], FLOW_COLUMNS)
        self.assertEqual(len(flows), len(self.flows), "realtime: %d records, offline %d sessions" % (len(flows), len(self.flows)))
        self.assertEqual(self.labels_by_key(flows), want, "realtime labels differ from offline")
        # cyclic
        cdir = os.path.join(self.tmp, "cyclic")
        os.makedirs(cdir)
        base = os.path.join(cdir, "flows.csv")
        r = tiderun.run(TIDE, ["--pcap", TEST_PCAP, "--flows", base, "--mode", "cyclic", "--interval", "1"],
                        tag="ident-cy", timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        files = sorted(glob.glob(os.path.join(cdir, "flows-*.csv")))
        files = [p for p in files if not p.endswith((".summary.csv", ".services.csv"))]
        self.assertGreater(len(files), 1, "cyclic wrote %s" % os.listdir(cdir))
        recs = pcapio.read(TEST_PCAP).records
        t_lo, t_hi = recs[0].ts_ns // 10**9, recs[-1].ts_ns // 10**9
        import calendar
        import time as _t
        stamps = []
        for p in files:
            m = re.match(r"^flows-(\d{8}T\d{6}Z)\.csv$", os.path.basename(p))
            self.assertTrue(m, "cyclic file name %s" % os.path.basename(p))
            start = calendar.timegm(_t.strptime(m.group(1), "%Y%m%dT%H%M%SZ"))
            stamps.append(start)
            self.assertTrue(t_lo <= start <= t_hi + 1, "%s outside the capture's time %d..%d" % (p, t_lo, t_hi))
            h, fl = load_flows([p])
            self.assertEqual(h[:len(FLOW_COLUMNS)], FLOW_COLUMNS, p)
            for f in fl:
                self.assertLess(float(f["first_ts"]), start + 1 + 1e-6, "%s holds a session that starts after its interval" % p)
            summ = p + ".summary.csv"
            self.assertTrue(os.path.isfile(summ), "no %s" % summ)
            with open(summ, newline="") as sf:
                total = sum(int(row["sessions"]) for row in csv.DictReader(sf))
            self.assertEqual(total, len(fl), "%s: summary says %d sessions, file has %d" % (summ, total, len(fl)))
            with open(p + ".services.csv", newline="") as sf:
                mix = {row["service"]: int(row["sessions"]) for row in csv.DictReader(sf)}
            want_mix = collections.Counter(f["service"] or "unknown" for f in fl)
            self.assertEqual(mix, dict(want_mix), "%s.services.csv disagrees with its records" % p)
        self.assertEqual(stamps, sorted(set(stamps)), "cyclic intervals repeat or go backwards")
        _, cflows = load_flows(files)
        self.assertEqual(len(cflows), len(self.flows), "cyclic files hold %d records, offline %d" % (len(cflows), len(self.flows)))
        self.assertEqual(self.labels_by_key(cflows), want, "cyclic labels differ from offline")

    # ------------------------------------------------------------------------------------------
    def test_live_equals_offline(self):
        self.offline_ok()
        n = pcap_packet_count(TEST_PCAP)
        out = os.path.join(self.tmp, "live.csv")
        r = tiderun.run(TIDE, ["--flows", out, "--count", str(n), "--max-duration", "40", "--workers", "1"],
                        tag="ident-live", eal_extra=["--vdev", "net_pcap0,rx_pcap=" + TEST_PCAP], timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("count reached", r.stdout + r.stderr, "live run did not stop on --count %d\n%s" % (n, r.describe()))
        _, flows = load_flows([out])
        got, want = self.labels_by_key(flows), self.labels_by_key(self.flows)
        diff = [(k, want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)]
        self.assertEqual(diff, [], "live vs offline labels differ for %d 5-tuples, e.g. %s" % (len(diff), diff[:5]))


if __name__ == "__main__":
    TIDE = tiderun.tide_from_argv()
    unittest.main(verbosity=2)
