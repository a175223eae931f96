"""The scheduler when the database refuses its updates, and job counters across a kill -9.

A real tide-control with its local drone (the demo replay). Proves: when a job's row cannot be
updated — here a trigger refuses every state change out of running, as a full disk or a broken
row would — the failure is logged once per statement with SQLite's own message (not once per
200 ms tick), the job is retried with back-off, and it ends normally once updates work again;
a job whose capture ended while the Hive was killed with -9 (taking the local drone along)
shows the capture's true counters after the restart, not zeros; and a link that ended without
counters takes them from the manifest its capture uploaded (with a selection by application's
report and unselected packets); the max_duration backstop waits for a capture that is slow to
start.
"""

import hashlib
import json
import os
import re
import signal
import sys
import time
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, as_token, expect  # noqa: E402
from dronelib import (ONLINE_WAIT, alive, dataplane_from_argv, job, online,  # noqa: E402
                      processes, register, wait_for, wait_job)

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)
REFUSED = "tide test: this state change is refused"
WINDOW = 3.0  # seconds the log is watched for a repeated failure (longer only proves more)


def log_time(line):
    return datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_failed_updates_are_logged_once_and_backed_off():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE]) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"), ONLINE_WAIT)
        # the job may start (pending -> running) but its row may not leave running
        con = h.db()
        con.execute("CREATE TRIGGER test_refuse BEFORE UPDATE OF state ON jobs"
                    " WHEN OLD.state IN ('running', 'finishing')"
                    " BEGIN SELECT RAISE(ABORT, '%s'); END" % REFUSED)
        con.commit()
        j = expect(c.post("/api/v1/jobs", {"name": "stuck", "max_size": 1 << 20,
                                            "max_duration": 600}), 201).json
        # the capture stops by itself at max_size and its link ends; the job's row cannot follow
        wait_for("the link to end", lambda: job(c, j["id"])["links"][0]["state"] == "done")
        wait_for("the refusal in the log", lambda: REFUSED in h.log_text())
        time.sleep(WINDOW)  # the failure must not be logged again, however long we look
        lines = h.log_text().splitlines()
        refused = [ln for ln in lines if REFUSED in ln]
        # one line per statement that failed (at most: marking it finishing, recording its end)
        assert 1 <= len(refused) <= 2, refused
        assert len({ln.split(": ", 2)[-1] for ln in refused}) == len(refused), refused
        assert "job %d:" % j["id"] in refused[0] and "failed" in refused[0], refused
        assert sum("job %d finishing" % j["id"] in ln for ln in lines) <= 1, lines[-20:]
        assert job(c, j["id"])["state"] == "running"
        con.execute("DROP TRIGGER test_refuse")
        con.commit()
        con.close()
        done = wait_job(c, j["id"], ("done", "failed"))
        assert done["state"] == "done" and done["reason"] == "max size reached", done
        back = wait_for("the recovery in the log", lambda: [
            ln for ln in h.log_text().splitlines()
            if "job %d: its rows can be updated again" % j["id"] in ln])
        attempts = int(re.search(r"after (\d+) failed attempt", back[0]).group(1))
        elapsed = log_time(back[0]) - log_time(refused[0])
        # polled every 200 ms that would be 5 attempts a second; backing off from 0.4 s doubling
        # to 10 s it is about log2(elapsed / 0.4) + elapsed / 10
        assert 1 <= attempts <= 3 + elapsed / 2, (attempts, elapsed)


def test_counters_survive_a_hive_kill9():
    """The capture ends while its drone cannot upload (the Hive is frozen); then the Hive dies
    with -9 (and the local drone with it). The restarted drone sends the capture's files: the
    job must show what the capture counted, as its manifest says — not zeros."""
    # drone_grace: the drone goes silent while the Hive is frozen; its link must not fail for it
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--drone-grace", "1d"]) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"), ONLINE_WAIT)
        j = expect(c.post("/api/v1/jobs", {"name": "survivor", "filter": "udp port 53",
                                            "max_size": 512 << 20, "max_duration": 4}),
                   201).json
        wait_for("packets", lambda: job(c, j["id"])["counters"]["packets"] > 0)
        agent = wait_for("the local drone", lambda: processes(h.data_dir, "--hive"))[0][0]
        spool = os.path.join(h.data_dir, "spool", "%d-demo" % j["id"])
        os.kill(h.proc.pid, signal.SIGSTOP)  # the drone can report and upload nothing now
        try:
            # the drone ends the capture itself at max_duration and writes its manifest
            wait_for("the capture's manifest",
                     lambda: os.path.exists(os.path.join(spool, "manifest.json")))
            h.kill9()  # the drone is killed with it (PR_SET_PDEATHSIG)
            wait_for("the drone to die", lambda: not alive(agent))
        finally:
            try:
                os.kill(h.proc.pid, signal.SIGCONT)
            except (ProcessLookupError, AttributeError):
                pass
        with open(os.path.join(spool, "manifest.json")) as f:
            counted = json.load(f)["counters"]
        assert counted["written"] > 0, counted
        h.start()
        c = admin(h)
        j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
        assert j["state"] == "failed" and "restarted" in j["reason"], j
        assert j["counters"]["packets"] == counted["written"], (j["counters"], counted)
        assert j["counters"]["bytes"] == counted["bytes_written"], (j["counters"], counted)
        assert j["links"][0]["counters"]["packets"] == counted["written"], j["links"]
        # and the dataset is intact: the completed shard arrived
        files = expect(c.get("/api/v1/jobs/%d/files" % j["id"]), 200).json["items"]
        assert any(f["path"].startswith("shards/local/demo/") for f in files), files


def test_link_without_counters_takes_its_manifests():
    """A link reported ended without counters (a drone older than this Hive, or one that lost
    them): at finalize the job takes them from the manifest the capture uploaded, with what a
    selection by application did (its "selection" and the unselected packets)."""
    with Hive(BIN, args=["--local-links", "", "--drone-grace", "1d"]) as h:
        c = admin(h)
        tok = register(c, "probe1")["token"]
        con = h.db()
        con.execute("UPDATE drones SET links = '[{\"name\": \"p1\"}]' WHERE name = 'probe1'")
        con.commit()
        j = expect(c.post("/api/v1/jobs", {"name": "old drone", "max_size": 1 << 20,
                                            "max_duration": 3600, "links": ["probe1/p1"]}),
                   201).json
        con.execute("UPDATE jobs SET state = 'running', started_at = 1 WHERE id = ?", (j["id"],))
        con.execute("UPDATE job_links SET state = 'running', started_at = 1")
        con.commit()
        selection = {"apps": ["DNS"], "undecided": "drop",
                     "sessions": {"selected": 2, "unselected": 5, "undecided_kept": 0,
                                  "undecided_dropped": 1},
                     "undecided_at": {"packets": 1, "wait": 0, "memory": 0, "end": 0},
                     "packets_unselected": 30}
        manifest = json.dumps({"counters": {"received": 200, "matched": 150, "filtered": 50,
                                            "unselected": 30, "written": 123,
                                            "bytes_written": 4567,
                                            "dropped": {"ring_full": 27, "max_size": 0}},
                               "selection": selection})
        r = as_token(h, tok).request("PUT", "/api/v1/drones/upload/%d/manifests/probe1/p1.json"
                                     % j["id"], raw=manifest.encode(), headers={
                                         "X-Tide-Sha256": hashlib.sha256(
                                             manifest.encode()).hexdigest()})
        expect(r, 201)
        # what the drone's "ended" writes when it has no counters to give
        con.execute("UPDATE job_links SET state = 'done', counters = '{\"files\": 1}',"
                    " ended_at = 1")
        con.commit()
        con.close()
        j = wait_job(c, j["id"], ("done", "failed"))
        assert j["state"] == "done", j
        got = {k: j["counters"][k] for k in ("packets", "bytes", "received", "drops", "files",
                                             "unselected")}
        assert got == {"packets": 123, "bytes": 4567, "received": 200, "drops": 27,
                       "files": 1, "unselected": 30}, j["counters"]
        assert j["links"][0]["counters"]["packets"] == 123, j["links"]
        assert j["links"][0]["counters"]["selection"] == selection, j["links"]


def test_backstop_waits_for_a_slow_capture():
    """max_duration is the capture's own: the Hive's backstop (10 s past it) counts from the
    capture's reported uptime, not from the job's start. A drone frozen right after the start
    (as a loaded host may leave it) ends the capture itself when it runs again; the Hive does
    not stop it for the time it heard nothing."""
    with Hive(BIN, args=["--dataplane-path", DATAPLANE]) as h:
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"), ONLINE_WAIT)
        drone = wait_for("the local drone", lambda: processes(h.data_dir, "--hive"))[0][0]
        j = expect(c.post("/api/v1/jobs", {"name": "slow start", "filter": "udp port 53",
                                            "max_size": 512 << 20, "max_duration": 2}),
                   201).json
        wait_job(c, j["id"], ("running",))
        os.kill(drone, signal.SIGSTOP)  # it reports nothing while frozen
        try:
            time.sleep(2 + 10 + 3)  # max_duration + the backstop's 10 s + a margin: the window
                                    # in which a backstop counting from the job's start fires
        finally:
            os.kill(drone, signal.SIGCONT)
        j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
        assert j["state"] == "done" and j["reason"] == "max duration reached", j
        assert "job %d finishing: max_duration" % j["id"] not in h.log_text()


cplib.run_tests(globals())
