#!/usr/bin/env python3
"""test_live — tide-dataplane in live mode on DPDK vdevs, as a user runs it without NICs.

  replay_once     net_pcap replaying a generated pcap once: --count N stops it, and the written
                  packets are the file's packets in order (bytes, wire lengths), with wall-clock
                  timestamps taken during the run
  count_live      --count N on an endless port stops at N received packets (within a burst)
  kill9_recovery  kill -9 during an infinite_rx capture with small shards, then a second run on
                  the same --out: every *.pcapng opens with capinfos and pcapio.check_pcapng, no
                  *.part is left, and the manifest lists each recovered file
  disk_full       capture into a 2 MB tmpfs: tide stops by itself (exit 0 or 1), says "disk full"
                  (manifest, or stderr if the manifest did not fit), every final shard is sound
  demo            --demo --max-duration 2 gives a sound dataset of config/demo.pcap's packets
  telemetry       /tide/stats on the telemetry socket answers JSON whose counters grow between
                  two reads; SIGINT then stops the capture cleanly (stop_reason "signal")
  sigterm         SIGTERM stops a live capture cleanly too
Each run has its own EAL --file-prefix; every wait is bounded.

Usage: test_live.py --tide PATH [unittest options, e.g. -k demo]
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcapio  # noqa: E402
import tiderun  # noqa: E402
import trafficgen as tg  # noqa: E402

TIDE = None
DEMO_PCAP = os.path.normpath(os.path.join(HERE, "..", "..", "config", "demo.pcap"))


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Live:
    """A background tide run (Popen) with its own file prefix and output captured to files."""

    def __init__(self, tmp, opts, eal_extra=(), tag="live"):
        self.prefix = tiderun.file_prefix(tag)
        self.cmd = tiderun.command(TIDE, opts, self.prefix, eal_extra)
        self.errf = open(os.path.join(tmp, self.prefix + ".stderr"), "w+")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.errf)

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
            rc = None
        self.elapsed = time.monotonic() - self.t0
        tiderun.cleanup_runtime(self.prefix)
        return rc

    def stderr(self):
        self.errf.flush()
        self.errf.seek(0)
        return self.errf.read()

    def describe(self):
        return "command: %s\nstderr (tail):\n%s" % (" ".join(self.cmd), self.stderr()[-2000:])

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        tiderun.cleanup_runtime(self.prefix)
        self.errf.close()


def capinfos_ok(path):
    p = subprocess.run(["capinfos", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode == 0, p.stderr.decode().strip()


class LiveTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tide-live-")
        self.lives = []

    def tearDown(self):
        for lv in self.lives:
            lv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, opts, eal_extra=(), tag="live"):
        lv = Live(self.tmp, opts, eal_extra, tag)
        self.lives.append(lv)
        return lv

    def gen_pcap(self, name="in.pcap", seed=21, conversations=40):
        path = os.path.join(self.tmp, name)
        pkts = tg.ethernet_mix(seed=seed, conversations=conversations)
        tg.write(path, pkts)
        return path, pkts

    def assert_sound_dataset(self, out, lv, allow_unlisted=()):
        self.assertTrue(os.path.exists(os.path.join(out, "manifest.json")), "no manifest\n" + lv.describe())
        m = tiderun.load_manifest(out)
        errs = tiderun.schema_errors(m) + tiderun.invariant_errors(m)
        recs, problems = tiderun.check_dataset(out, m, allow_unlisted)
        self.assertEqual(errs + problems, [], lv.describe())
        return m, recs

    # ------------------------------------------------------------------ (1)
    def test_replay_once(self):
        path, pkts = self.gen_pcap()
        out = os.path.join(self.tmp, "out")
        wall0 = time.time_ns()
        lv = self.start(["--out", out, "--count", str(len(pkts)), "--max-duration", "30", "--workers", "1",
                         "--drone", "live"], ["--vdev", "net_pcap0,rx_pcap=" + path], tag="replay")
        rc = lv.wait(60)
        wall1 = time.time_ns()
        self.assertEqual(rc, 0, lv.describe())
        m, recs = self.assert_sound_dataset(out, lv)
        self.assertEqual(m["stop_reason"], "count reached", lv.describe())
        self.assertEqual([l["name"] for l in m["links"]], ["net_pcap0"])
        self.assertEqual(m["links"][0]["linktype"], 1)
        got = recs["net_pcap0"]
        inp = pcapio.read(path).records
        diff = tiderun.first_difference(got, inp, key=lambda r: (r.wirelen, r.data))
        self.assertIsNone(diff, "live replay wrote different packets: %s\n%s" % (diff, lv.describe()))
        ts = [r.ts_ns for r in got]
        self.assertEqual(ts, sorted(ts), "live timestamps go backwards")
        self.assertTrue(wall0 - 10**9 <= ts[0] and ts[-1] <= wall1 + 10**9,
                        "live timestamps %d..%d outside the run's wall-clock time %d..%d" % (ts[0], ts[-1], wall0, wall1))
        self.assertEqual(m["counters"]["received"], len(pkts))
        self.assertEqual(m["counters"]["written"], len(pkts))

    # ------------------------------------------------------------------ (2)
    def test_kill9_recovery(self):
        path, _ = self.gen_pcap()
        out = os.path.join(self.tmp, "out")
        vdev = ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % path]
        # The filter keeps only the LLDP frames (~1%) of the endless replay, so ~2 s write ~20 MB,
        # not hundreds. Shards are larger than the writer's 1 MiB buffer so a .part with data
        # exists on disk between flushes.
        opts = ["--out", out, "--drone", "d", "--shard-size", "2M", "--filter", "ether proto 0x88cc",
                "--max-size", "512M", "--max-duration", "60", "--workers", "1", "--quiet"]
        lv = self.start(opts, vdev, tag="kill9")
        shard_dir = os.path.join(out, "shards", "d", "net_pcap0")

        def listing():
            return sorted(os.listdir(shard_dir)) if os.path.isdir(shard_dir) else []
        # ~2 s in, at a moment when a partly written shard (.part with data) is on disk
        t0 = time.monotonic()

        def part_on_disk():
            for f in listing():
                try:
                    if f.endswith(".part") and os.path.getsize(os.path.join(shard_dir, f)) > 0:
                        return True
                except FileNotFoundError:  # renamed under us: the shard just completed
                    pass
            return False
        def complete():
            return len([f for f in listing() if f.endswith(".pcapng")])
        wait_for(lambda: lv.p.poll() is not None or
                 (time.monotonic() - t0 >= 2.0 and complete() >= 2 and part_on_disk()), 10.0, step=0.01)
        self.assertIsNone(lv.p.poll(), "tide exited before kill -9\n" + lv.describe())
        os.kill(lv.p.pid, signal.SIGKILL)
        lv.wait(10)
        print("\n  killed after %.1f s" % (time.monotonic() - t0), end=" ", file=sys.stderr)
        before = listing()
        parts = [f for f in before if f.endswith(".part")]
        done = [f for f in before if f.endswith(".pcapng")]
        self.assertGreaterEqual(len(done), 2, "fewer than 2 complete shards after ~2 s: %s\n%s" % (before, lv.describe()))
        self.assertTrue(parts, "no .part shard open at kill time, nothing to recover: %s" % before)

        lv2 = self.start(["--out", out, "--drone", "d", "--shard-size", "2M", "--count", "200", "--max-duration", "30",
                          "--workers", "1", "--quiet"], vdev, tag="kill9b")
        rc = lv2.wait(60)
        print("second run %.1f s, %d files" % (lv2.elapsed, len(listing())), end=" ", file=sys.stderr)
        self.assertEqual(rc, 0, lv2.describe())
        allow = {os.path.join("shards", "d", "net_pcap0", f) for f in done}
        allow |= {os.path.join("shards", "d", "net_pcap0", f[:-len(".part")]) for f in parts}
        m, _ = self.assert_sound_dataset(out, lv2, allow_unlisted=allow)
        after = listing()
        self.assertEqual([f for f in after if not f.endswith(".pcapng")], [], "non-shard files left: %s" % after)
        for f in after:
            p = os.path.join(shard_dir, f)
            ok, msg = capinfos_ok(p)
            self.assertTrue(ok, "capinfos rejects %s: %s" % (f, msg))
            try:
                pcapio.check_pcapng(p)
            except pcapio.PcapError as e:
                self.fail("after recovery: %s" % e)
        rec = m.get("recovered")
        self.assertIsInstance(rec, list, "manifest has no 'recovered' list")
        rec_nums = {}
        for r in rec:
            self.assertIn(r.get("action"), ("repaired", "discarded"), r)
            rec_nums[os.path.basename(r["file"]).split(".")[0]] = r
        for f in parts:
            num = f.split(".")[0]
            self.assertIn(num, rec_nums, "%s was left by the killed run but the manifest's recovered list is %s" % (f, rec))
            final = os.path.join(shard_dir, num + ".pcapng")
            if rec_nums[num]["action"] == "repaired":
                self.assertTrue(os.path.exists(final), "%s listed as repaired but %s is missing" % (f, final))
                self.assertGreater(len(pcapio.read(final).records), 0)
        for f in done:  # complete shards of the killed run must survive untouched
            self.assertIn(f, after, "complete shard %s of the killed run disappeared" % f)
        new = [os.path.basename(s["file"]) for l in m["links"] for s in l["shards"] if not s.get("earlier_run")]
        self.assertTrue(new, "second run wrote no shard")
        kept = done + [p[:-len(".part")] for p in parts if rec_nums[p.split(".")[0]]["action"] == "repaired"]
        self.assertTrue(min(new) > max(kept),
                        "second run's shards %s reuse numbers of the first run's %s (recovered %s)" % (new, kept, rec))

    # ------------------------------------------------------------------ (3)
    def test_disk_full(self):
        path, _ = self.gen_pcap()
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tidetest", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, "cannot mount a tmpfs (tests must run as root): %s" % r.stdout.decode())
        try:
            out = os.path.join(mnt, "ds")
            lv = self.start(["--out", out, "--drone", "d", "--shard-size", "256k", "--max-duration", "60",
                             "--workers", "1", "--quiet"],
                            ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % path], tag="full")
            rc = lv.wait(60)
            self.assertIn(rc, (0, 1), "tide did not stop by itself on a full disk (rc %s)\n%s" % (rc, lv.describe()))
            self.assertLess(lv.elapsed, 50, "took %.0f s to notice the disk was full" % lv.elapsed)
            mpath = os.path.join(out, "manifest.json")
            if os.path.exists(mpath) and os.path.getsize(mpath) > 0:
                with open(mpath) as f:
                    m = json.load(f)
                self.assertEqual(m["stop_reason"], "disk full", lv.describe())
                self.assertEqual(tiderun.invariant_errors(m), [], lv.describe())
                for l in m["links"]:
                    for s in l["shards"]:
                        self.assertTrue(os.path.exists(os.path.join(out, s["file"])), "%s listed but missing" % s["file"])
            else:
                self.assertIn("disk full", lv.stderr(), "no manifest and stderr does not say 'disk full'\n" + lv.describe())
            shards = []
            for root, _, files in os.walk(out):
                shards += [os.path.join(root, f) for f in files if f.endswith(".pcapng")]
            self.assertTrue(shards, "no final shard at all")
            for p in shards:
                ok, msg = capinfos_ok(p)
                self.assertTrue(ok, "capinfos rejects %s: %s" % (p, msg))
                try:
                    pcapio.check_pcapng(p)
                except pcapio.PcapError as e:
                    self.fail("final shard unsound after disk full: %s" % e)
        finally:
            for lv in self.lives:
                lv.stop()
            subprocess.run(["umount", mnt], timeout=30)

    # ------------------------------------------------------------------ (4)
    def test_demo(self):
        self.assertTrue(os.path.exists(DEMO_PCAP), "config/demo.pcap missing")
        out = os.path.join(self.tmp, "out")
        lv = self.start(["--demo", "--out", out, "--max-duration", "2", "--workers", "1", "--quiet",
                         "--snaplen", "256", "--shard-size", "8M", "--filter", "icmp or icmp6 or arp or udp port 123"],
                        tag="demo")
        rc = lv.wait(60)
        self.assertEqual(rc, 0, lv.describe())
        self.assertGreaterEqual(lv.elapsed, 1.9, "--max-duration 2 ended after %.1f s" % lv.elapsed)
        self.assertLess(lv.elapsed, 20, "--max-duration 2 ran %.1f s" % lv.elapsed)
        m, recs = self.assert_sound_dataset(out, lv)
        self.assertEqual(m["stop_reason"], "max duration reached")
        got = tiderun.all_records(recs)
        self.assertGreater(len(got), 0, "demo wrote no packet")
        demo = {r.data[:256]: r.wirelen for r in pcapio.read(DEMO_PCAP).records}
        strangers = [r for r in got if r.data not in demo]
        self.assertEqual(strangers, [], "demo dataset holds %d packets that are not in config/demo.pcap" % len(strangers))

    # ------------------------------------------------------------------ (5)
    def test_telemetry(self):
        path, _ = self.gen_pcap()
        out = os.path.join(self.tmp, "out")
        lv = self.start(["--out", out, "--drone", "d", "--snaplen", "64", "--filter", "udp port 123", "--shard-size", "4M", "--max-size", "256M",
                         "--max-duration", "30", "--workers", "1", "--quiet"],
                        ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % path], tag="telem")
        sock_path = os.path.join("/var/run/dpdk", lv.prefix, "dpdk_telemetry.v2")
        self.assertTrue(wait_for(lambda: os.path.exists(sock_path) or lv.p.poll() is not None, 15)
                        and lv.p.poll() is None, "no telemetry socket %s\n%s" % (sock_path, lv.describe()))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10)
        try:
            s.connect(sock_path)
            hello = json.loads(s.recv(65536).decode())
            self.assertIn("version", hello)

            def stats():
                s.send(b"/tide/stats")
                reply = json.loads(s.recv(1 << 20).decode())
                self.assertIn("/tide/stats", reply, "unexpected telemetry reply %r" % reply)
                self.assertIsInstance(reply["/tide/stats"], dict, "/tide/stats returned %r" % reply)
                return reply["/tide/stats"]
            # the socket exists from EAL init on; tide's command answers once the capture runs
            end = time.monotonic() + 15
            while True:
                s.send(b"/tide/stats")
                first = json.loads(s.recv(1 << 20).decode())
                if isinstance(first.get("/tide/stats"), dict) or time.monotonic() > end:
                    break
                time.sleep(0.2)
            a = stats()
            time.sleep(0.5)
            b = stats()
        finally:
            s.close()

        def find(d, key):
            if isinstance(d, dict):
                if isinstance(d.get(key), int):
                    return d[key]
                for v in d.values():
                    r = find(v, key)
                    if r is not None:
                        return r
            return None
        ra, rb = find(a, "received"), find(b, "received")
        self.assertIsNotNone(ra, "/tide/stats has no 'received' counter: %s" % json.dumps(a)[:500])
        self.assertGreater(rb, ra, "received did not grow between two reads 0.5 s apart: %s then %s" % (ra, rb))
        os.kill(lv.p.pid, signal.SIGINT)
        rc = lv.wait(30)
        self.assertEqual(rc, 0, "SIGINT: " + lv.describe())
        m, _ = self.assert_sound_dataset(out, lv)
        self.assertEqual(m["stop_reason"], "signal")
        self.assertGreaterEqual(m["counters"]["received"], rb, "manifest received < last telemetry reading")

    # ------------------------------------------------------------------ (1b)
    def test_count_live(self):
        """--count N on a port that never runs dry: stop at N received (within one RX burst)."""
        path, _ = self.gen_pcap()
        out = os.path.join(self.tmp, "out")
        n = 1000
        lv = self.start(["--out", out, "--drone", "d", "--count", str(n), "--max-duration", "30", "--workers", "1",
                         "--quiet"], ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % path], tag="count")
        rc = lv.wait(60)
        self.assertEqual(rc, 0, lv.describe())
        m, recs = self.assert_sound_dataset(out, lv)
        self.assertEqual(m["stop_reason"], "count reached")
        c = m["counters"]
        self.assertGreaterEqual(c["received"], n)
        self.assertLessEqual(c["received"], n + 64, "--count %d but %d packets received (%d written)" % (
            n, c["received"], c["written"]))
        self.assertLessEqual(c["written"], n)

    # ------------------------------------------------------------------ (6)
    def test_sigterm(self):
        path, _ = self.gen_pcap()
        out = os.path.join(self.tmp, "out")
        lv = self.start(["--out", out, "--drone", "d", "--snaplen", "64", "--filter", "udp port 123", "--shard-size", "1M", "--max-size", "256M",
                         "--max-duration", "30", "--workers", "1", "--quiet"],
                        ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % path], tag="term")
        # once packets reach a shard the workers run, so the signal handlers are in place
        # (an event, not a sleep: start-up takes seconds under ASan on busy cores)
        shard_dir = os.path.join(out, "shards", "d", "net_pcap0")

        def writing():
            try:
                return any(os.path.getsize(os.path.join(shard_dir, f)) > 512
                           for f in os.listdir(shard_dir))
            except OSError:
                return False
        wait_for(lambda: lv.p.poll() is not None or writing(), 120.0)
        self.assertIsNone(lv.p.poll(), "tide exited early\n" + lv.describe())
        os.kill(lv.p.pid, signal.SIGTERM)
        rc = lv.wait(30)
        self.assertEqual(rc, 0, "SIGTERM: " + lv.describe())
        self.assertLess(lv.elapsed, 15)
        m, _ = self.assert_sound_dataset(out, lv)
        self.assertEqual(m["stop_reason"], "signal")
        self.assertGreater(m["counters"]["written"], 0)


if __name__ == "__main__":
    TIDE = tiderun.tide_from_argv()
    if not os.access(TIDE, os.X_OK):
        print("tide-dataplane not found at %s" % TIDE)
        sys.exit(1)
    unittest.main(verbosity=2)
