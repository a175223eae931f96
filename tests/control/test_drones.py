"""Drones dialling in, jobs across drones, tuning, quotas, and kill -9 of each process.

A real tide-control with its local drone, plus a second real `tide-dataplane --hive` drone
("probe1", a replayed pcap link) started by the test on loopback. Covers TCI's first scenario
across two drones (a "QUIC only" job with size and duration limits and a processing script,
downloaded as one archive whose files match the listing's SHA-256), drone registration and
refusal of a bad token, online/offline within seconds, tuning validated against the drone's host
and applied to the next capture, per-group disk quotas, and a kill -9 of a remote drone and of a
capture process mid-job (the job ends with a clear state; completed shards arrive intact).
"""

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cplib  # noqa: E402
from cplib import Hive, admin, as_token, expect, make_token  # noqa: E402

BIN = cplib.binary_from_argv()
DATAPLANE = None
if "--dataplane" in sys.argv:
    i = sys.argv.index("--dataplane")
    DATAPLANE = os.path.abspath(sys.argv[i + 1])
    del sys.argv[i:i + 2]
else:
    DATAPLANE = os.path.join(os.path.dirname(BIN), "tide-dataplane")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "config", "demo.pcap")


class Drone:
    """A remote drone: tide-dataplane --hive with its own spool, killed at the end."""

    def __init__(self, hive, name, token, links):
        self.spool = tempfile.mkdtemp(prefix="tide-drone-")
        self.log = os.path.join(self.spool, "drone.log")
        self.hive, self.name, self.token, self.links = hive, name, token, links
        self.proc = None

    def start(self):
        args = [DATAPLANE, "--hive", "ws://127.0.0.1:%d" % self.hive.drone_port, "--drone", self.name,
                "--spool", os.path.join(self.spool, "spool")]
        for l in self.links:
            args += ["--link", l]
        env = dict(os.environ, TIDE_DRONE_TOKEN=self.token)
        self.proc = subprocess.Popen(args, env=env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def wait_for(what, fn, timeout=30.0, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def drone(c, name):
    for d in expect(c.get("/api/v1/drones"), 200).json["items"]:
        if d["name"] == name:
            return d
    return None


def online(c, name):
    d = drone(c, name)
    return d if d and d["state"] == "online" else None


def wait_job(c, job_id, states, timeout=60.0):
    return wait_for("job %d in %s" % (job_id, states),
                    lambda: (lambda j: j if j["state"] in states else None)(
                        expect(c.get("/api/v1/jobs/%d" % job_id), 200).json), timeout)


def register(c, name):
    r = expect(c.post("/api/v1/drones", {"name": name}), 201).json
    assert r["token"].startswith("tided_") and r["name"] == name, r
    return r


def capture_cmdlines(marker):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if "--out" in argv and any(marker in a for a in argv):
            out.append((int(d), argv))
    return out


def put(c, path, body):
    return c.request("PUT", path, body)


def hive_args():
    return ["--dataplane-path", DATAPLANE, "--drone-grace", "3s"]


def test_registration_and_refusal():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"))
        reg = register(c, "probe1")
        expect(c.post("/api/v1/drones", {"name": "probe1"}), 409, "exists")
        expect(c.post("/api/v1/drones", {"name": "../x"}), 400)
        # a drone with a wrong token is refused and stays offline
        bad = Drone(h, "probe1", "tided_" + "A" * 43, ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("refusal in the log", lambda: "refused" in h.log_text(), 20)
            assert drone(c, "probe1")["state"] == "offline"
        finally:
            bad.stop()
        good = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            d = wait_for("probe1 online", lambda: online(c, "probe1"), 30)
            assert d["host"]["cores"] >= 1 and d["version"], d
            assert [l["name"] for l in d["links"]] == ["p1"], d
            assert d["links"][0]["driver"] == "net_pcap", d
            links = {(l["drone"], l["name"]) for l in
                     expect(c.get("/api/v1/links"), 200).json["items"]}
            assert {("local", "demo"), ("probe1", "p1")} <= links, links
            # a second process with the same token is refused while the first is online
            twin = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
            try:
                wait_for("twin refused", lambda: "already connected" in h.log_text(), 20)
            finally:
                twin.stop()
            # offline within seconds of losing it
            t0 = time.monotonic()
            good.kill9()
            wait_for("probe1 offline", lambda: drone(c, "probe1")["state"] == "offline", 10)
            assert time.monotonic() - t0 < 7
            # a rotated token: the old one no longer works
            new = expect(c.post("/api/v1/drones/%d/token" % reg["id"]), 200).json
            assert new["token"] != reg["token"]
            again = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
            wait_for("old token refused", lambda: h.log_text().count("unknown token") >= 2, 20)
            again.stop()
        finally:
            good.stop()
        # uploads need a drone token: a user's token is not one
        tok = make_token(c)["token"]
        expect(as_token(h, tok).request("PUT", "/api/v1/drones/upload/1/shards/probe1/p1/x",
                                        raw=b"x"), 401)
        actions = [a["action"] for a in cplib.audit_rows(h)]
        assert "drone.create" in actions and "drone.token" in actions, actions


def test_quic_job_across_two_drones_with_script():
    """TCI scenario 1 on two drones: QUIC only, size and duration limits, a script."""
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("both drones", lambda: online(c, "local") and online(c, "probe1"), 30)
            script = "#!/bin/sh\nls -R /job/shards > /job/processed/listing.txt\n" \
                     "echo processed\n"
            job = expect(c.post("/api/v1/jobs", {
                "name": "quic only", "filter": "udp port 443", "classify": True,
                "max_size": 64 << 20, "max_duration": 3, "anonymise": True,
                "links": ["local/demo", "probe1/p1"], "script": script}), 201).json
            assert [(l["drone"], l["link"]) for l in job["links"]] == \
                [("local", "demo"), ("probe1", "p1")], job
            # live counters move while it runs
            running = wait_job(c, job["id"], ("running",), 30)
            wait_for("live counters", lambda: expect(c.get("/api/v1/jobs/%d" % job["id"]),
                                                     200).json["counters"]["packets"] > 0, 20)
            job = wait_job(c, job["id"], ("done", "failed"), 90)
            assert job["state"] == "done", job
            assert all(l["state"] == "done" for l in job["links"]), job
            assert job["counters"]["packets"] == sum(l["counters"]["packets"]
                                                     for l in job["links"]), job
            files = expect(c.get("/api/v1/jobs/%d/files" % job["id"]), 200).json["items"]
            paths = {f["path"] for f in files}
            assert any(p.startswith("shards/local/demo/") for p in paths), paths
            assert any(p.startswith("shards/probe1/p1/") for p in paths), paths
            assert "processed/listing.txt" in paths, paths
            log = c.get("/api/v1/jobs/%d/script-log" % job["id"])
            assert log.status == 200 and "processed" in (log.body or ""), log
            apps = expect(c.get("/api/v1/jobs/%d/apps" % job["id"]), 200).json["items"]
            assert apps and apps[0]["app"] == "QUIC", apps
            # one request, the whole dataset; every file matches the listing's SHA-256
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
            conn.request("GET", "/api/v1/jobs/%d/archive" % job["id"],
                         headers={"Cookie": c.cookie})
            r = conn.getresponse()
            data = r.read()
            conn.close()
            assert r.status == 200, r.status
            sums = {f["path"]: f["sha256"] for f in files if f["sha256"]}
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                names = [m.name for m in tar.getmembers() if m.isfile()]
                for m in tar.getmembers():
                    if not m.isfile():
                        continue
                    rel = m.name.split("/", 1)[1]
                    if rel in sums:
                        got = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
                        assert got == sums[rel], rel
            assert len(names) == len(files), (names, paths)
            assert sum(1 for p in sums if p.endswith(".pcapng")) >= 2, sums
        finally:
            probe.stop()


def test_limits_across_drones_and_queueing():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("both drones", lambda: online(c, "local") and online(c, "probe1"), 30)
            # max_size is for the whole job: two links together stop at it
            job = expect(c.post("/api/v1/jobs", {
                "name": "sized", "max_size": 4 << 20, "max_duration": 120,
                "links": ["local/demo", "probe1/p1"]}), 201).json
            # a second job on one of the same links waits for it (the queue per link)
            nxt = expect(c.post("/api/v1/jobs", {
                "name": "next", "max_size": 1 << 20, "max_duration": 60,
                "links": ["probe1/p1"]}), 201).json
            assert expect(c.get("/api/v1/jobs/%d" % nxt["id"]), 200).json["state"] == "pending"
            job = wait_job(c, job["id"], ("done", "failed"), 60)
            assert job["state"] == "done", job
            assert job["counters"]["bytes"] >= 4 << 20, job
            nxt = wait_job(c, nxt["id"], ("done", "failed"), 60)
            assert nxt["state"] == "done", nxt
            assert nxt["started_at"] >= job["ended_at"] or nxt["started_at"] >= job["started_at"]
        finally:
            probe.stop()


def test_tuning_is_validated_and_applied():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        d = wait_for("local drone", lambda: online(c, "local"))
        base = "/api/v1/drones/%d/tuning" % d["id"]
        t = expect(c.get(base), 200).json
        assert t["limits"]["cores"] == d["host"]["cores"] and t["limits"]["max_rx_queues"] >= 1, t
        r = expect(put(c, base, {"workers": 64}), 422, "invalid_tuning")
        assert "cores" in r.json["error"]["message"], r.json
        expect(put(c, base, {"rx_queues": 8}), 422, "invalid_tuning")
        expect(put(c, base, {"rx_desc": 1000}), 422, "invalid_tuning")
        expect(put(c, base, {"burst": 0}), 400)
        expect(put(c, base, {"bogus": 1}), 400)
        t = expect(put(c, base, {"burst": 16, "rx_desc": 512, "mempool_size": 32767,
                                 "hugepages": False}), 200).json
        assert t["tuning"] == {"burst": 16, "rx_desc": 512, "mempool_size": 32767,
                               "hugepages": False}, t
        wait_for("drone acknowledges", lambda: expect(c.get(base), 200).json["applied"] ==
                 t["tuning"], 15)
        # the next capture runs with it
        job = expect(c.post("/api/v1/jobs", {"name": "tuned", "max_size": 64 << 20,
                                              "max_duration": 5, "filter": "tcp port 9"}),
                     201).json
        wait_job(c, job["id"], ("running",), 30)
        procs = wait_for("capture process", lambda: capture_cmdlines(h.data_dir), 15)
        argv = procs[0][1]
        for flag, value in (("--burst", "16"), ("--rx-desc", "512"), ("--mbufs", "32767")):
            assert flag in argv and argv[argv.index(flag) + 1] == value, argv
        assert "--no-huge" in argv, argv
        expect(c.post("/api/v1/jobs/%d/stop" % job["id"]), 200)
        wait_job(c, job["id"], ("done", "failed"), 30)
        # a user without drones.admin sees drones but cannot tune them
        cplib.make_user(c, "dave")
        dave = cplib.login(h, "dave", "password-123")
        expect(dave.get("/api/v1/drones"), 200)
        expect(dave.request("PUT", base, {"burst": 8}), 403, "forbidden")
        assert any(a["action"] == "drone.tune" for a in cplib.audit_rows(h))


def test_group_quota():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"))
        groups = expect(c.get("/api/v1/groups"), 200).json["items"]
        users = [g for g in groups if g["name"] == "users"][0]
        expect(c.patch("/api/v1/groups/%d" % users["id"], {"quota_bytes": 10 << 20}), 200)
        cplib.make_user(c, "erin")
        erin = cplib.login(h, "erin", "password-123")
        one = expect(erin.post("/api/v1/jobs", {"name": "a", "max_size": 6 << 20,
                                                 "max_duration": 2}), 201).json
        r = expect(erin.post("/api/v1/jobs", {"name": "b", "max_size": 6 << 20,
                                               "max_duration": 2}), 409, "quota_exceeded")
        assert "users" in r.json["error"]["message"], r.json
        g = expect(c.get("/api/v1/groups/%d" % users["id"]), 200).json
        assert g["quota_bytes"] == 10 << 20 and g["used_bytes"] == 6 << 20, g
        wait_job(erin, one["id"], ("done", "failed"), 30)
        # once the job ended only its real dataset counts
        g = expect(c.get("/api/v1/groups/%d" % users["id"]), 200).json
        assert 0 < g["used_bytes"] <= 6 << 20 + 65536, g


def test_kill9_remote_drone_and_capture():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), 30)
            # kill -9 of a capture process: the job fails with the reason; what it completed
            # (shards rotated every 1 MiB... here the first shard is still open) is kept
            job = expect(c.post("/api/v1/jobs", {"name": "victim", "max_size": 512 << 20,
                                                  "max_duration": 600,
                                                  "links": ["probe1/p1"]}), 201).json
            wait_job(c, job["id"], ("running",), 30)
            procs = wait_for("capture", lambda: capture_cmdlines(probe.spool), 15)
            os.kill(procs[0][0], signal.SIGKILL)
            job = wait_job(c, job["id"], ("failed",), 30)
            assert "signal 9" in job["reason"] and job["reason"].startswith("probe1/p1"), job

            # kill -9 of the drone itself mid-job: offline at once, the job fails after
            # drone_grace with "drone lost"; a restarted drone sends what was completed
            job = expect(c.post("/api/v1/jobs", {"name": "orphan", "max_size": 512 << 20,
                                                  "max_duration": 600,
                                                  "links": ["probe1/p1"]}), 201).json
            wait_job(c, job["id"], ("running",), 30)
            wait_for("packets", lambda: expect(c.get("/api/v1/jobs/%d" % job["id"]),
                                               200).json["counters"]["packets"] > 0, 20)
            probe.kill9()
            job = wait_job(c, job["id"], ("failed",), 30)
            assert "lost" in job["reason"], job
            probe.start()
            wait_for("probe1 back", lambda: online(c, "probe1"), 30)
            wait_for("leftover reported", lambda: "earlier drone process" in probe.log_text(),
                     30)
        finally:
            probe.stop()


try:
    cplib.run_tests(globals())
except SystemExit:
    raise
