#!/usr/bin/env python3
"""Concurrent jobs on a link, partial jobs and the dataset's manifest at the job's true end.

A real tide-control with no local drone and drones imitated over the protocol
(dronelib.FakeDrone), so no DPDK runs and every capture ends when the test says. Proves: a
drone announcing "job_slots": 2 on a link gets two concurrent starts there, and a third job
pends saying why ("all 2 job slots busy") and starts when a slot frees; a drone that announces
no job_slots (today's) runs one job per link; a job on an offline drone pends saying so; a job
cancelled while it runs, and one cancelled while pending, have a manifest.json that says
cancelled.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import FakeDrone, drone, job, register, wait_for, wait_job  # noqa: E402

BIN = cplib.binary_from_argv()
ARGS = ["--local-links", ""]


def fake(h, c, links, name="probe1"):
    token = register(c, name)["token"]
    return FakeDrone(h, name, token, list(links)).start()


def create(c, link, name="j", **kw):
    body = {"name": name, "links": [link], "max_size": 1 << 20, "max_duration": 600}
    body.update(kw)
    return expect(c.post("/api/v1/jobs", body), 201).json


def pending_with(c, job_id, words):
    return wait_for("job %d pending with %r" % (job_id, words), lambda: (
        lambda j: j if j["state"] == "pending" and words in j.get("pending_reason", "")
        else None)(job(c, job_id)), 60)


def test_two_slots_run_two_jobs_and_a_third_waits():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c, [{"name": "p1", "job_slots": 2}])
        try:
            a = create(c, "probe1/p1", "a", filter="udp")
            b = create(c, "probe1/p1", "b", filter="tcp")
            d.wait_msg("start", a["id"], "p1")
            d.wait_msg("start", b["id"], "p1")
            wait_job(c, a["id"], ("running",))
            wait_job(c, b["id"], ("running",))
            third = create(c, "probe1/p1", "c")
            w = pending_with(c, third["id"], "link p1 on drone probe1: all 2 job slots busy")
            assert not d.sent("start", third["id"]), d.sent("start", third["id"])
            assert "pending_reason" not in job(c, a["id"]), job(c, a["id"])
            # tidectl and the console read the same member; a slot frees: the third starts
            d.end(a["id"], "p1", "done", "max size reached", {"packets": 1, "bytes": 100})
            wait_job(c, a["id"], ("done",))
            d.wait_msg("start", third["id"], "p1")
            running = wait_job(c, third["id"], ("running",))
            assert "pending_reason" not in running, running
            assert w["links"][0]["state"] == "pending", w
        finally:
            d.stop()


def test_a_drone_without_job_slots_runs_one_job_per_link():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c, [{"name": "p1"}, {"name": "p2"}])
        try:
            a = create(c, "probe1/p1", "a")
            other = create(c, "probe1/p2", "other link")
            d.wait_msg("start", a["id"], "p1")
            d.wait_msg("start", other["id"], "p2")
            b = create(c, "probe1/p1", "b")
            pending_with(c, b["id"], "link p1 on drone probe1: all 1 job slot busy")
            # a job behind b on the same link: when the slot frees, b (older) takes it, and b2
            # says it waits for older jobs
            b2 = create(c, "probe1/p1", "b2")
            pending_with(c, b2["id"], "all 1 job slot busy")
            d.end(a["id"], "p1")
            d.wait_msg("start", b["id"], "p1")
            pending_with(c, b2["id"], "all 1 job slot busy")
            assert not d.sent("start", b2["id"])
        finally:
            d.stop()


def test_offline_drone_is_the_reason():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c, [{"name": "p1", "job_slots": 8}])
        d.stop()
        wait_for("probe1 offline", lambda: drone(c, "probe1")["state"] == "offline", 60)
        j = create(c, "probe1/p1")
        pending_with(c, j["id"], "drone probe1 is offline")


def manifest(h, job_id):
    with open(os.path.join(h.data_dir, "jobs", str(job_id), "manifest.json")) as f:
        return json.load(f)


def test_cancelled_jobs_have_a_manifest():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c, [{"name": "p1"}])
        try:
            run = create(c, "probe1/p1", "running one", lookback_s=5)
            d.wait_msg("start", run["id"], "p1")
            queued = create(c, "probe1/p1", "queued one")
            pending_with(c, queued["id"], "busy")
            expect(c.post("/api/v1/jobs/%d/cancel" % queued["id"]), 200)
            wait_for("the pending job's manifest", lambda: os.path.exists(os.path.join(
                h.data_dir, "jobs", str(queued["id"]), "manifest.json")), 60)
            m = manifest(h, queued["id"])
            assert m["state"] == "cancelled" and m["links"][0]["state"] == "cancelled", m
            expect(c.post("/api/v1/jobs/%d/cancel" % run["id"]), 200)
            d.wait_msg("cancel", run["id"], "p1")
            d.end(run["id"], "p1", "cancelled", "signal", {"packets": 3, "bytes": 300})
            wait_job(c, run["id"], ("cancelled",))
            m = wait_for("its manifest", lambda: os.path.exists(os.path.join(
                h.data_dir, "jobs", str(run["id"]), "manifest.json")) and manifest(h, run["id"]))
            assert m["state"] == "cancelled" and m["reason"].startswith("cancelled by"), m
            assert m["job"]["lookback_s"] == 5 and m["counters"]["packets"] == 3, m
            assert m["format"] == "tide-dataset/1", m
        finally:
            d.stop()


cplib.run_tests(globals())
