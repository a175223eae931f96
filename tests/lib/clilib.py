"""clilib — what the tidectl and Python-client tests share (python3, stdlib only).

Starts a real tide-control with its local drone (through cplib.py beside it, not a copy of
it), makes an admin token, and runs the real tidectl with a clean environment: HOME points into
the test's temporary directory so no operator's config file is ever read. Paths of the binaries
come from meson (--tidectl, --binary, --dataplane). Every wait is bounded.
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
import cplib  # noqa: E402,F401  (re-exported for the tests)
from cplib import Hive, admin, make_token, run_tests  # noqa: E402,F401


def _take(flag, default):
    if flag in sys.argv:
        i = sys.argv.index(flag)
        val = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        return os.path.abspath(val)
    return os.path.abspath(os.path.join(ROOT, "build", default))


TIDECTL = _take("--tidectl", os.path.join("control", "tidectl", "tidectl"))
CONTROL = _take("--binary", os.path.join("control", "hive", "tide-control"))
DATAPLANE = _take("--dataplane", os.path.join("dataplane", "tide-dataplane"))
SCRIPTS = os.path.join(ROOT, "scripts")
JOB_WAIT = 60.0


class Run:
    """A finished tidectl: rc, out, err."""

    def __init__(self, args, p):
        self.args, self.rc, self.out, self.err = args, p.returncode, p.stdout, p.stderr

    def __repr__(self):
        return "<tidectl %s rc=%d\nstdout: %s\nstderr: %s>" % (
            " ".join(self.args), self.rc, self.out[-1500:], self.err[-1500:])


class Env:
    """One Hive with its local drone, an admin token, and a private HOME for tidectl."""

    def __init__(self):
        self.hive = Hive(CONTROL, args=["--dataplane-path", DATAPLANE]).start()
        self.admin = admin(self.hive)
        self.token = make_token(self.admin, "cli-tests")["token"]
        self.home = tempfile.mkdtemp(prefix="tidectl-home-", dir=self.hive.tmp)
        self.server = "http://127.0.0.1:%d" % self.hive.port
        self.wait_links()

    def env(self, token=True, **extra):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
             "LANG": "C.UTF-8", "TIDE_SERVER": self.server}
        if token:
            e["TIDE_TOKEN"] = self.token if token is True else token
        e.update(extra)
        return e

    def run(self, *args, token=True, input=None, timeout=120, cwd=None, env=None, raw=False):
        e = env if env is not None else self.env(token)
        p = subprocess.run([TIDECTL] + list(args), capture_output=True, text=not raw, env=e,
                           input=input, timeout=timeout, cwd=cwd or self.home)
        return Run(args, p)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.rc == 0, r
        return r

    def fails(self, rc, *args, **kw):
        r = self.run(*args, **kw)
        assert r.rc == rc, ("expected exit %d" % rc, r)
        if isinstance(r.out, str):
            assert self.token not in r.out + r.err, "the token was echoed"
        return r

    def client(self):
        return cplib.as_token(self.hive, self.token)

    def wait_state(self, job_id, states, timeout=JOB_WAIT):
        c = self.client()
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            job = c.get("/api/v1/jobs/%d" % job_id).json
            if job["state"] in states:
                return job
            time.sleep(0.2)
        raise AssertionError("job %d not in %s after %ss: %r" % (job_id, states, timeout, job))

    def wait_capturing(self, job_id, timeout=JOB_WAIT):
        """Until the job has really captured packets: live counters (drone contract) or, on a
        Hive without them, a first shard on disk. tide-control says "running" as soon as the
        capture is spawned; a stop before the dataplane has finished starting (its signal
        handling) has ended jobs "failed: killed by signal 2" — so tests that stop a capture
        wait for packets first."""
        shards = os.path.join(self.hive.data_dir, "jobs", str(job_id), "shards")
        c = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = c.get("/api/v1/jobs/%d" % job_id).json
            if (job.get("counters") or {}).get("packets"):
                return
            for _root, _dirs, names in os.walk(shards):
                if names:
                    return
            time.sleep(0.1)
        raise AssertionError("job %d captured nothing in %ss" % (job_id, timeout))

    def wait_links(self, timeout=30.0):
        """Until the local drone's link is online (a drone dials in after the Hive starts)."""
        c = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = c.get("/api/v1/links").json["items"]
            if any(l["name"] == "demo" and l["state"] == "online" for l in items):
                return
            time.sleep(0.1)
        raise AssertionError("link local/demo not online after %ss" % timeout)

    def has_drone_api(self):
        return self.client().get("/api/v1/drones").status == 200

    def close(self):
        self.hive.stop()
        self.hive.cleanup()


_env = None


def env():
    """The test module's shared Env (started on first use)."""
    global _env
    if _env is None:
        _env = Env()
    return _env


def finish(namespace):
    try:
        run_tests(namespace)
    finally:
        if _env is not None:
            _env.close()
