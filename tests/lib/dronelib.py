"""dronelib — helpers for tests that run real drones against a real Hive (python3 stdlib only).

Shared by test_drones, test_uploads, test_scheduler and test_processing: the remote drone
(`tide-dataplane --hive ...` started by the test on loopback), event-driven waits and the
look-ups a test needs to find capture processes.

Every wait polls for the event it names and gives up only at a deadline. The deadlines are
generous on purpose: the suite runs ASan builds, in parallel, on two cores that other builds
share, and a DPDK capture's busy-polling worker competes with its own writer thread there, so
a capture that takes 3 s on a quiet machine may take a minute. A deadline is a bound for a
hung test, never an estimate of how long things take: tests never sleep to let something
happen, and a slow machine only makes them slower, never red.

  dataplane_from_argv()     take --dataplane PATH out of sys.argv (meson passes it)
  Drone(hive, name, token, links, dataplane, spool=None, url=None, args=())
                            start(), stop(), kill9(), log_text(); .spool, .proc (url: --hive,
                            ws://127.0.0.1:<drone port> by default; args: more options)
  wait_for(what, fn, timeout)   fn() until truthy; its value
  drone(c, name), online(c, name), register(c, name)
  wait_job(c, job_id, states, timeout)
  stop_when_written(c, job_id, nbytes)   stop a job once it wrote nbytes (or it ended)
  puts_of(hive, job_id, path)            the Hive's log lines of PUTs of one uploaded file
  processes(marker, *flags) [(pid, argv)] of tide-dataplane processes whose argv holds marker
  alive(pid)                not gone and not a zombie
  FakeDrone(hive, name, token, links)
                            a drone imitated over the protocol (wslib): says hello with links
                            (and their job_slots), reports its captures every second, records
                            what the Hive sends (wait_msg), ends captures as told (end)
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from cplib import expect  # noqa: E402
from wslib import TEXT, WS  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "config", "demo.pcap")

ONLINE_WAIT = 120.0   # a drone dialling in (it probes its links with a DPDK process first)
JOB_WAIT = 300.0      # a job through its states; always longer than the job's own bounds


def dataplane_from_argv(binary):
    if "--dataplane" in sys.argv:
        i = sys.argv.index("--dataplane")
        path = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(binary), "tide-dataplane")


class Drone:
    """A remote drone: tide-dataplane --hive with its own spool, killed at the end."""

    def __init__(self, hive, name, token, links, dataplane, spool=None, url=None, args=()):
        self.tmp = tempfile.mkdtemp(prefix="tide-drone-")
        self.spool = spool or os.path.join(self.tmp, "spool")
        self.log = os.path.join(self.tmp, "drone.log")
        self.hive, self.name, self.token, self.links = hive, name, token, links
        self.dataplane = dataplane
        self.url = url or "ws://127.0.0.1:%d" % hive.drone_port
        self.args = list(args)
        self.proc = None

    def start(self):
        args = [self.dataplane, "--hive", self.url, "--drone", self.name,
                "--spool", self.spool] + self.args
        for link in self.links:
            args += ["--link", link]
        env = dict(os.environ, TIDE_DRONE_TOKEN=self.token)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def wait_for(what, fn, timeout=JOB_WAIT, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(step)


def drone(c, name):
    for d in expect(c.get("/api/v1/drones"), 200).json["items"]:
        if d["name"] == name:
            return d
    return None


def online(c, name):
    d = drone(c, name)
    return d if d and d["state"] == "online" else None


def job(c, job_id):
    return expect(c.get("/api/v1/jobs/%d" % job_id), 200).json


def wait_job(c, job_id, states, timeout=JOB_WAIT):
    return wait_for("job %d in %s" % (job_id, states),
                    lambda: (lambda j: j if j["state"] in states else None)(job(c, job_id)),
                    timeout)


def stop_when_written(c, jid, nbytes):
    """Lets the job write at least nbytes of packets, then stops it, at whatever speed the
    capture runs: on a quiet machine the replay may reach the job's max_size (far above
    nbytes) and end by itself before the stop, which is just as good."""
    def written_or_ended():
        j = job(c, jid)
        return j["counters"]["bytes"] >= nbytes or j["state"] not in ("pending", "running")
    wait_for("%d bytes written" % nbytes, written_or_ended)
    r = c.post("/api/v1/jobs/%d/stop" % jid)
    assert r.status == 200 or r.error_code() == "invalid_state", r


def puts_of(h, jid, path):
    return [ln for ln in h.log_text().splitlines()
            if "PUT /api/v1/drones/upload/%d/%s " % (jid, path) in ln]


def register(c, name):
    r = expect(c.post("/api/v1/drones", {"name": name}), 201).json
    assert r["token"].startswith("tided_") and r["name"] == name, r
    return r


def processes(marker, *flags):
    """[(pid, argv)] of live processes whose argv has every flag and an element holding marker."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if all(fl in argv for fl in flags) and any(marker in a for a in argv) and alive(int(d)):
            out.append((int(d), argv))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


class FakeDrone:
    """A drone imitated over the protocol, for the Hive's scheduling without DPDK.

    links: [{"name": "p1", "job_slots": 2}, ...] (job_slots left out: what today's drone says).
    It reports every capture the Hive started and it has not ended as running, once a second,
    with counters (set_counters), so the Hive neither fails them as unreported nor takes the
    drone for silent. Everything the Hive sends is kept in .messages, in order."""

    def __init__(self, hive, name, token, links):
        self.hive, self.name, self.token, self.links = hive, name, token, links
        self.messages = []
        self.running = {}            # (job, link) -> counters
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()   # frames from two threads must not interleave
        self.ws = None
        self.stopping = False
        self.threads = []

    def start(self):
        self.ws = WS.open(self.hive.drone_port)
        assert self.ws.status == 101, self.ws.status
        self.ws.send(json.dumps({"type": "hello", "name": self.name, "token": self.token,
                                 "version": "fake", "hostname": "fake", "host": {},
                                 "links": self.links, "captures": []}))
        f = self.ws.recv(30)
        assert f and f[0] == TEXT and json.loads(f[1])["type"] == "welcome", f
        self.stopping = False
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._status, daemon=True)]
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(30)
        if self.ws:
            self.ws.close()

    def _read(self):
        while not self.stopping:
            f = self.ws.recv(0.5)
            if f is None or f[0] != TEXT:
                continue
            m = json.loads(f[1])
            with self.lock:
                self.messages.append(m)
                if m.get("type") == "start":
                    self.running[(m["job"], m["link"])] = {"packets": 0, "bytes": 0}

    def _status(self):
        while not self.stopping:
            with self.lock:
                caps = [{"job": j, "link": ln, "state": "running", "counters": c}
                        for (j, ln), c in self.running.items()]
            self._send({"type": "status", "captures": caps})
            time.sleep(1.0)

    def set_counters(self, job, link, counters):
        with self.lock:
            self.running[(job, link)] = counters

    def sent(self, type_, job=None, link=None):
        """The messages of a type the Hive sent, for a job (and link) if given."""
        with self.lock:
            return [m for m in self.messages if m.get("type") == type_ and
                    (job is None or m.get("job") == job) and (link is None or m.get("link") == link)]

    def wait_msg(self, type_, job=None, link=None, timeout=JOB_WAIT):
        return wait_for("%s %s for job %s %s" % (self.name, type_, job, link or ""),
                        lambda: (self.sent(type_, job, link) or [None])[0], timeout)

    def end(self, job, link, state="done", reason="", counters=None, files=()):
        """The capture ended (its files, if any, already uploaded): ended, and no more status."""
        with self.lock:
            last = self.running.pop((job, link), {})
        self._send({"type": "ended", "job": job, "link": link, "state": state,
                    "reason": reason, "counters": counters or last, "files": list(files)})

    def _send(self, msg):
        with self.send_lock:
            self.ws.send(json.dumps(msg))
