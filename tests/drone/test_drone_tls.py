#!/usr/bin/env python3
"""Drone ↔ Hive over TLS: wss:// with the Hive's certificate verified, uploads over HTTPS.

A real tide-control with --tls-cert/--tls-key (a certificate made here with the openssl CLI,
naming hive.test, localhost and 127.0.0.1) and real `tide-dataplane --hive wss://...` drones, on loopback
only. Proves:
  - a remote drone given the certificate (--hive-ca) registers over wss://, runs a job on a
    pcap: link, and its files arrive over HTTPS, stored with the SHA-256 the drone declared;
    the local drone (which dials 127.0.0.1 and checks the name hive.test, --hive-name) too;
  - over HTTPS as over HTTP, a refusal comes before the body and is final: a shard over
    max_upload is refused 413 once, and the job fails with the Hive's reason;
  - the same drone without --hive-ca does not connect: its log names the cause (a self-signed
    certificate), and the Hive never sees it; a wrong --hive-name fails the name check; wss://
    to a plain listener says the handshake failed and why;
  - `--hive ws://` to an address that is not loopback is a usage error (exit 2) naming the fix,
    before any connection (strace shows no connect());
  - a Hive without TLS refuses to serve drones on an address that is not loopback.
Every wait is for an event, with a deadline (dronelib).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
import dronelib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import (DEMO, ONLINE_WAIT, dataplane_from_argv, drone, online,  # noqa: E402
                      puts_of, register, stop_when_written, wait_for, wait_job)

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)


def make_cert(d):
    cert, key = os.path.join(d, "hive.crt"), os.path.join(d, "hive.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=hive.test",
                    "-addext", "subjectAltName=DNS:hive.test,DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TlsHive:
    """A Hive with a fresh certificate; local_links as given ("" = no local drone)."""

    def __init__(self, local_links="", args=()):
        self.dir = tempfile.mkdtemp(prefix="tide-drone-tls-")
        self.cert, self.key = make_cert(self.dir)
        self.hive = Hive(BIN, tls=(self.cert, self.key),
                         args=["--local-links", local_links, "--dataplane-path", DATAPLANE,
                               "--drone-grace", "60s"] + list(args))

    def __enter__(self):
        self.hive.start()
        return self

    def __exit__(self, *exc):
        self.hive.stop()
        self.hive.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def drone(self, name, token, args=()):
        url = "wss://127.0.0.1:%d" % self.hive.drone_port
        return dronelib.Drone(self.hive, name, token, ["p1=pcap:" + DEMO], DATAPLANE, url=url,
                              args=args)


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_wss_drone_runs_a_job_and_uploads_over_https():
    with TlsHive(local_links="demo=demo") as t:
        h = t.hive
        assert "tide-control drones on wss port %d" % h.drone_port in h.stdout_lines, \
            h.stdout_lines
        c = admin(h)
        reg = register(c, "probe1")
        probe = t.drone("probe1", reg["token"], ["--hive-ca", t.cert]).start()
        try:
            wait_for("both drones online over wss",
                     lambda: online(c, "probe1") and online(c, "local"), ONLINE_WAIT)
            assert "connected to the Hive at wss://127.0.0.1:%d" % h.drone_port in \
                probe.log_text(), probe.log_text()[-2000:]
            job = expect(c.post("/api/v1/jobs", {
                "name": "over tls", "filter": "", "max_size": 64 << 20, "max_duration": 2,
                "links": ["probe1/p1", "local/demo"]}), 201).json
            job = wait_job(c, job["id"], ("done", "failed"))
            assert job["state"] == "done", job
            files = expect(c.get("/api/v1/jobs/%d/files" % job["id"]), 200).json["items"]
            paths = {f["path"] for f in files}
            for who in ("probe1/p1", "local/demo"):
                assert any(p.startswith("shards/%s/" % who) for p in paths), paths
            assert "manifests/probe1/p1.json" in paths, paths
            # what the Hive stored is what the drone sent (it declared each SHA-256, the Hive
            # recomputed it) and what the listing says
            root = os.path.join(h.data_dir, "jobs", str(job["id"]))
            for f in files:
                if f["sha256"]:
                    assert file_sha(os.path.join(root, f["path"])) == f["sha256"], f
            assert "cannot take it now" not in probe.log_text(), probe.log_text()[-2000:]
        finally:
            probe.stop()


def test_https_refusal_comes_early_and_is_final():
    with TlsHive(args=["--max-upload", "1M"]) as t:
        h = t.hive
        c = admin(h)
        probe = t.drone("probe1", register(c, "probe1")["token"], ["--hive-ca", t.cert]).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            j = expect(c.post("/api/v1/jobs", {"name": "big", "max_size": 64 << 20,
                                                "max_duration": 600,
                                                "links": ["probe1/p1"]}), 201).json
            stop_when_written(c, j["id"], 2 << 20)  # a shard larger than max_upload
            j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
            assert j["state"] == "failed", j
            assert j["reason"].startswith("probe1/p1: upload refused by the Hive (HTTP 413 "
                                          "body_too_large)"), j
            tried = puts_of(h, j["id"], "shards/probe1/p1/000000.pcapng")
            assert len(tried) == 1 and " 413 " in tried[0], tried
            assert "not retried" in probe.log_text()
        finally:
            probe.stop()


def test_unverified_hive_is_not_dialled():
    with TlsHive() as t:
        h = t.hive
        c = admin(h)
        reg = register(c, "probe1")
        # the system's CA store does not know this self-signed certificate
        bare = t.drone("probe1", reg["token"]).start()
        try:
            line = wait_for("the drone's refusal", lambda: [
                ln for ln in bare.log_text().splitlines() if "cannot reach the Hive" in ln],
                ONLINE_WAIT)[0]
            assert "certificate" in line and "self-signed" in line, line
            assert drone(c, "probe1")["state"] == "offline"
        finally:
            bare.stop()
        # trusted, but not the name the certificate carries
        wrong = t.drone("probe1", reg["token"], ["--hive-ca", t.cert,
                                                 "--hive-name", "other.test"]).start()
        try:
            line = wait_for("the name check's refusal", lambda: [
                ln for ln in wrong.log_text().splitlines() if "cannot reach the Hive" in ln],
                ONLINE_WAIT)[0]
            assert "certificate" in line and "mismatch" in line, line
            assert drone(c, "probe1")["state"] == "offline"
        finally:
            wrong.stop()
        # and the name it does carry, dialled by address: accepted
        named = t.drone("probe1", reg["token"], ["--hive-ca", t.cert,
                                                 "--hive-name", "hive.test"]).start()
        try:
            wait_for("probe1 online", lambda: online(c, "probe1"), ONLINE_WAIT)
        finally:
            named.stop()


def test_wss_to_a_plain_listener_says_so():
    h = Hive(BIN, args=["--local-links", ""]).start()
    try:
        c = admin(h)
        d = dronelib.Drone(h, "probe1", register(c, "probe1")["token"], ["p1=pcap:" + DEMO],
                           DATAPLANE, url="wss://127.0.0.1:%d" % h.drone_port).start()
        try:
            line = wait_for("the drone's refusal", lambda: [
                ln for ln in d.log_text().splitlines() if "cannot reach the Hive" in ln],
                ONLINE_WAIT)[0]
            assert "TLS handshake failed: wrong version number" in line, line
        finally:
            d.stop()
    finally:
        h.stop()
        h.cleanup()


def test_plain_ws_off_loopback_is_a_usage_error():
    env = dict(os.environ, TIDE_DRONE_TOKEN="tided_" + "A" * 43)
    spool = tempfile.mkdtemp(prefix="tide-drone-tls-")
    try:
        cmd = [DATAPLANE, "--hive", "ws://192.0.2.1:9", "--link", "p1=pcap:" + DEMO,
               "--spool", spool]
        if shutil.which("strace"):
            trace = os.path.join(spool, "strace.txt")
            cmd = ["strace", "-f", "-e", "trace=connect", "-o", trace] + cmd
            # LeakSanitizer cannot run under ptrace (an ASan build would fail at exit)
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                         "detect_leaks=0"]))
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 2, (out.returncode, out.stderr)
        assert "wss://192.0.2.1:9" in out.stderr and "--hive-ca" in out.stderr, out.stderr
        if shutil.which("strace"):
            with open(trace) as f:
                calls = [ln for ln in f if "connect(" in ln and "192.0.2.1" in ln]
            assert not calls, calls
        # loopback is fine, in any of its spellings (these fail later: nobody listens)
        for url in ("ws://127.0.0.2:9", "ws://[::1]:9", "ws://localhost:9"):
            out = subprocess.run([DATAPLANE, "--hive", url, "--link", "p1=pcap:" + DEMO,
                                  "--spool", spool, "--help"], capture_output=True, text=True,
                                 timeout=60, env=env)
            assert out.returncode == 0, (url, out.returncode, out.stderr)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def test_plain_drone_listener_off_loopback_is_refused():
    h = Hive(BIN, args=["--local-links", "", "--drone-listen", "0.0.0.0:0"])
    try:
        out = subprocess.run(h.command(), capture_output=True, text=True, timeout=60, env=h.env)
        assert out.returncode != 0, out.stdout
        assert "without TLS" in out.stderr and "--tls-cert" in out.stderr, out.stderr[-2000:]
        assert "drones on" not in out.stdout, out.stdout
    finally:
        h.cleanup()


if __name__ == "__main__":
    cplib.run_tests(globals())
