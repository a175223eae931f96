"""Drones dialling in, jobs across drones, tuning, quotas, and kill -9 of each process.

A real tide-control with its local drone, plus a second real `tide-dataplane --hive` drone
("probe1", a replayed pcap link) started by the test on loopback. Covers TCI's first scenario
across two drones (a "QUIC only" job with size and duration limits and a processing script,
downloaded as one archive whose files match the listing's SHA-256), drone registration and
refusal of a bad token, online/offline within seconds, tuning validated against the drone's host
and applied to the next capture, per-group disk quotas, and a kill -9 of a remote drone and of a
capture process mid-job (the job ends with a clear state; completed shards arrive intact).

Timing: every wait is for an event, with a deadline far above what it takes (dronelib), and no
assertion depends on how fast a capture runs. A job's wait is longer than the job's own bounds
(max_duration); jobs that must still be running when the test looks at them capture a filter
that matches little or nothing, so they cannot reach max_size first; orders of events are
checked from recorded times, not from when the test happened to look.
"""

import hashlib
import io
import os
import signal
import sys
import tarfile
import time
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
import dronelib  # noqa: E402
from cplib import Hive, admin, as_token, expect, make_token  # noqa: E402
from dronelib import (DEMO, JOB_WAIT, ONLINE_WAIT, alive, dataplane_from_argv, drone,  # noqa: E402
                      online, register, wait_for, wait_job)

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)


def Drone(hive, name, token, links):
    return dronelib.Drone(hive, name, token, links, DATAPLANE)


def put(c, path, body):
    return c.request("PUT", path, body)


def hive_args(grace="60s"):
    """A drone starved of CPU for 5 s is closed and reconnects; only a test of drone_grace
    itself may fail its links for that."""
    return ["--dataplane-path", DATAPLANE, "--drone-grace", grace]


def log_time(line):
    return datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


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
            wait_for("refusal in the log", lambda: "refused" in h.log_text(), ONLINE_WAIT)
            assert drone(c, "probe1")["state"] == "offline"
        finally:
            bad.stop()
        good = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            d = wait_for("probe1 online", lambda: online(c, "probe1"), ONLINE_WAIT)
            assert d["host"]["cores"] >= 1 and d["version"], d
            assert [l["name"] for l in d["links"]] == ["p1"], d
            assert d["links"][0]["driver"] == "net_pcap", d
            links = {(l["drone"], l["name"]) for l in
                     expect(c.get("/api/v1/links"), 200).json["items"]}
            assert {("local", "demo"), ("probe1", "p1")} <= links, links
            # a second process with the same token is refused while the first is online
            twin = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
            try:
                wait_for("twin refused", lambda: "already connected" in h.log_text(),
                         ONLINE_WAIT)
            finally:
                twin.stop()
            # offline within seconds of losing it: measured by the Hive's own log, so a test
            # process that is slow to look does not count
            t0 = time.time()
            good.kill9()
            wait_for("probe1 offline", lambda: drone(c, "probe1")["state"] == "offline")
            gone = [ln for ln in h.log_text().splitlines() if "drone probe1 offline" in ln]
            assert gone and log_time(gone[-1]) - t0 < 7, (gone, t0)
            # a rotated token: the old one no longer works
            new = expect(c.post("/api/v1/drones/%d/token" % reg["id"]), 200).json
            assert new["token"] != reg["token"]
            again = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
            wait_for("old token refused", lambda: h.log_text().count("unknown token") >= 2,
                     ONLINE_WAIT)
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
            wait_for("both drones", lambda: online(c, "local") and online(c, "probe1"),
                     ONLINE_WAIT)
            script = "#!/bin/sh\nls -R /job/shards > /job/processed/listing.txt\n" \
                     "echo processed\n"
            job = expect(c.post("/api/v1/jobs", {
                "name": "quic only", "filter": "udp port 443", "classify": True,
                "max_size": 64 << 20, "max_duration": 3, "anonymise": True,
                "links": ["local/demo", "probe1/p1"], "script": script}), 201).json
            assert [(l["drone"], l["link"]) for l in job["links"]] == \
                [("local", "demo"), ("probe1", "p1")], job
            # live counters move while it runs
            wait_job(c, job["id"], ("running",))
            wait_for("live counters", lambda: expect(c.get("/api/v1/jobs/%d" % job["id"]),
                                                     200).json["counters"]["packets"] > 0)
            job = wait_job(c, job["id"], ("done", "failed"))
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


def test_limits_across_drones_and_concurrency():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("both drones", lambda: online(c, "local") and online(c, "probe1"),
                     ONLINE_WAIT)
            # a job that keeps probe1/p1 busy for a while (its filter matches nothing)...
            idle = expect(c.post("/api/v1/jobs", {
                "name": "beside", "max_size": 1 << 20, "max_duration": 10,
                "filter": "tcp port 9", "links": ["probe1/p1"]}), 201).json
            wait_job(c, idle["id"], ("running",), JOB_WAIT)
            # ...and one beside it on the same link (job slots; the queue beyond them is
            # test_job_slots.py). max_size is for the whole job: two links together stop at
            # it. It ends by size on any machine that writes 4 MiB in max_duration.
            job = expect(c.post("/api/v1/jobs", {
                "name": "sized", "max_size": 4 << 20, "max_duration": 240,
                "links": ["local/demo", "probe1/p1"]}), 201).json
            job = wait_job(c, job["id"], ("done", "failed"), JOB_WAIT)
            assert job["state"] == "done", job
            assert job["counters"]["bytes"] >= 4 << 20, job
            idle = wait_job(c, idle["id"], ("done", "failed"), JOB_WAIT)
            assert idle["state"] == "done" and idle["counters"]["stop_reason"] == "max duration reached", idle
            # from the recorded times: the second ran while the first held probe1/p1
            con = h.db()
            ended = con.execute("SELECT ended_at FROM job_links WHERE job_id = ? AND"
                                " drone = 'probe1'", (idle["id"],)).fetchone()[0]
            started = con.execute("SELECT started_at FROM jobs WHERE id = ?",
                                  (job["id"],)).fetchone()[0]
            con.close()
            assert ended and started and started < ended, (ended, started)
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
                 t["tuning"], ONLINE_WAIT)
        # the next capture runs with it (and until the test has looked: it is stopped below)
        job = expect(c.post("/api/v1/jobs", {"name": "tuned", "max_size": 64 << 20,
                                              "max_duration": 3600, "filter": "tcp port 9"}),
                     201).json
        wait_job(c, job["id"], ("running",))
        # the drone restarted its dataplane with it (it was idle) and says what it runs with
        dp = online(c, "local")["host"]["dataplane"]
        for key, value in (("burst", 16), ("rx_desc", 512), ("mempool_size", 32767),
                           ("hugepages", False)):
            assert dp[key] == value, dp
        expect(c.post("/api/v1/jobs/%d/stop" % job["id"]), 200)
        wait_job(c, job["id"], ("done", "failed"))
        # a user without drones.admin sees drones but cannot tune them
        cplib.make_user(c, "dave")
        dave = cplib.login(h, "dave", "password-123")
        expect(dave.get("/api/v1/drones"), 200)
        expect(dave.request("PUT", base, {"burst": 8}), 403, "forbidden")
        assert any(a["action"] == "drone.tune" for a in cplib.audit_rows(h))


def test_group_quota():
    with Hive(BIN, args=hive_args()) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"), ONLINE_WAIT)
        groups = expect(c.get("/api/v1/groups"), 200).json["items"]
        users = [g for g in groups if g["name"] == "users"][0]
        expect(c.patch("/api/v1/groups/%d" % users["id"], {"quota_bytes": 10 << 20}), 200)
        cplib.make_user(c, "erin")
        erin = cplib.login(h, "erin", "password-123")
        # "tcp port 9" matches nothing in the replay: the job holds its reservation until the
        # test stops it, however fast or slow the machine
        one = expect(erin.post("/api/v1/jobs", {"name": "a", "max_size": 6 << 20,
                                                 "max_duration": 3600, "filter": "tcp port 9"}),
                     201).json
        r = expect(erin.post("/api/v1/jobs", {"name": "b", "max_size": 6 << 20,
                                               "max_duration": 2}), 409, "quota_exceeded")
        assert "users" in r.json["error"]["message"], r.json
        g = expect(c.get("/api/v1/groups/%d" % users["id"]), 200).json
        assert g["quota_bytes"] == 10 << 20 and g["used_bytes"] == 6 << 20, g
        # stopped once its capture is really up (it receives the replay), so it has a dataset
        wait_for("the capture", lambda: expect(erin.get("/api/v1/jobs/%d" % one["id"]),
                                               200).json["counters"]["received"] > 0)
        expect(erin.post("/api/v1/jobs/%d/stop" % one["id"]), 200)
        wait_job(erin, one["id"], ("done", "failed"))
        # once the job ended only its real dataset counts
        g = expect(c.get("/api/v1/groups/%d" % users["id"]), 200).json
        assert 0 < g["used_bytes"] <= 6 << 20 + 65536, g


def test_kill9_remote_drone_and_capture():
    with Hive(BIN, args=hive_args("10s")) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:" + DEMO]).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            # kill -9 of the drone itself mid-job: offline at once, the job fails after
            # drone_grace with "drone lost"; a restarted drone sends what was completed
            job = expect(c.post("/api/v1/jobs", {"name": "orphan", "max_size": 512 << 20,
                                                  "max_duration": 3600, "filter": "udp port 53",
                                                  "links": ["probe1/p1"]}), 201).json
            wait_job(c, job["id"], ("running",))
            wait_for("packets", lambda: expect(c.get("/api/v1/jobs/%d" % job["id"]),
                                               200).json["counters"]["packets"] > 0)
            probe.kill9()
            job = wait_job(c, job["id"], ("failed",))
            assert "lost" in job["reason"], job
            probe.start()
            wait_for("probe1 back", lambda: online(c, "probe1"), ONLINE_WAIT)
            wait_for("leftover reported", lambda: "earlier drone process" in probe.log_text())
        finally:
            probe.stop()


try:
    cplib.run_tests(globals())
except SystemExit:
    raise
