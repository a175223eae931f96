"""Post-processing scripts run side by side, up to max_scripts at once.

A real tide-control with its local drone (the demo replay) and the real sandbox. Three jobs
have a script that waits until the test releases it (the test creates a file in the job's
dataset, which the script sees at /job). With the default max_scripts of 2, two scripts run at
once while the third waits for a free slot; cancelling one job stops its script and no other,
and the waiting script starts in the freed slot only after that; released, the others end done.

Needs root, bubblewrap and unprivileged user namespaces (scripts run as nobody in their own
user namespace): exits 77 (meson: skipped) without them, as test_sandbox does. Every wait is
for an event, with a generous deadline; no script runs longer than the test lets it.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import ONLINE_WAIT, dataplane_from_argv, job, online, wait_for, wait_job  # noqa: E402

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)
# waits (ten minutes at most) for the test to create /job/release
SCRIPT = """i=0
while [ ! -e /job/release ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /job/release ] || exit 3
echo released
"""


def sandbox_usable():
    """None, or why scripts cannot run here."""
    if os.geteuid() != 0 or not shutil.which("bwrap"):
        return "needs root and bubblewrap"
    if shutil.which("setpriv"):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "bwrap", "--unshare-user", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "no unprivileged user namespaces: " + r.stderr.strip()
    return None


def line_of(h, pattern):
    """Index of the Hive's first log line matching pattern, or None."""
    lines = h.log_text().splitlines()
    return next((i for i, ln in enumerate(lines) if re.search(pattern, ln)), None)


def started(h, jid):
    return line_of(h, r"sched: job %d processing: " % jid) is not None


def script_ended(h, jid):
    """The line of the script's end ("job N ended: done (...)"), not of the capture's
    ("job N ended: processing ...")."""
    return line_of(h, r"sched: job %d ended: (done|failed|cancelled) \(" % jid)


def release(h, jid):
    open(os.path.join(h.data_dir, "jobs", str(jid), "release"), "w").close()


def test_scripts_run_side_by_side_up_to_max_scripts():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE]) as h:  # max_scripts: its default, 2
        c = admin(h)
        wait_for("local drone", lambda: online(c, "local"), ONLINE_WAIT)
        a, b, w = [expect(c.post("/api/v1/jobs", {
            "name": name, "filter": "tcp port 9", "max_size": 1 << 20, "max_duration": 1,
            "script": SCRIPT, "script_timeout": 900}), 201).json["id"]
            for name in ("first", "second", "third")]
        # the captures run one after the other on local/demo; each then waits for its script
        for jid in (a, b, w):
            wait_job(c, jid, ("processing",))
        wait_for("two scripts running", lambda: started(h, a) and started(h, b))
        assert [job(c, j)["state"] for j in (a, b)] == ["processing", "processing"]
        assert not started(h, w), "a third script started beside two"
        # cancelling the second stops its script, not the first; the third takes its slot
        expect(c.post("/api/v1/jobs/%d/cancel" % b), 200)
        wait_for("the second script to stop", lambda: script_ended(h, b) is not None)
        wait_for("the third script", lambda: started(h, w))
        assert script_ended(h, b) < line_of(h, r"sched: job %d processing: " % w)
        assert job(c, a)["state"] == "processing" and script_ended(h, a) is None
        for jid in (a, w):
            release(h, jid)
        for jid in (a, w):
            j = wait_job(c, jid, ("done", "failed", "cancelled"))
            assert j["state"] == "done", j
            log = c.get("/api/v1/jobs/%d/script-log" % jid)
            assert log.status == 200 and "released" in log.body, log
        j = job(c, b)
        assert j["state"] == "cancelled", j


if __name__ == "__main__":
    why = sandbox_usable()
    if why:
        print("skipped: " + why)
        sys.exit(77)
    cplib.run_tests(globals())
