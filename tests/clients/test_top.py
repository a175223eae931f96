#!/usr/bin/env python3
"""`tidectl top` in a real terminal: tmux runs it, capture-pane reads the screen.

Proves: against a standalone tide-dataplane (no control plane), through its DPDK telemetry
socket, the screen shows the link, worker and job tables and its counters move between two
reads (received packets and written packets grow, a packet rate is shown); '+' doubles the
refresh interval; 'q' quits and the program ends. Against the Hive, a running job appears and
the screen follows it to done when it is stopped (and, with the drone API, the link's live
counters). Batch mode (-b -n 2) prints two frames. A private tmux server (-L) is used and
killed; exit 77 without tmux.
"""
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from clilib import DATAPLANE, TIDECTL, env, finish

if not shutil.which("tmux"):
    print("tmux not installed: skipped")
    sys.exit(77)

SOCK = "tidectl-test-%d" % os.getpid()
UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", SOCK] + list(args), capture_output=True, text=True,
                          timeout=30, check=check)


def screen(name):
    return tmux("capture-pane", "-p", "-t", name).stdout


def alive(name):
    return tmux("has-session", "-t", name, check=False).returncode == 0


def value(text):
    m = re.fullmatch(r"([\d.]+)([kMGT]?)", text)
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def wait_screen(name, pattern, timeout=30):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(name)
        m = re.search(pattern, text, re.M)
        if m:
            return m, text
        time.sleep(0.25)
    raise AssertionError("%r not on the screen after %ss:\n%s" % (pattern, timeout, text))


def start_top(name, args, envv):
    cmd = "env -i %s %s top %s" % (" ".join("%s=%s" % (k, shlex.quote(v))
                                             for k, v in envv.items()),
                                   shlex.quote(TIDECTL), " ".join(map(shlex.quote, args)))
    tmux("new-session", "-d", "-s", name, "-x", "170", "-y", "50", cmd)


def quit_top(name):
    tmux("send-keys", "-t", name, "q")
    deadline = time.monotonic() + 10
    while alive(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(name), "tidectl top did not quit on 'q'"


def test_top_standalone_dataplane_telemetry():
    prefix = "tide-clitest-%d" % os.getpid()
    out = tempfile.mkdtemp(prefix="tidectl-top-")
    dp = subprocess.Popen([DATAPLANE, "--file-prefix", prefix, "--", "--demo", "--out", out,
                           "--max-duration", "60", "--classify", "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sock = None
        deadline = time.monotonic() + 120  # an ASan DPDK start on busy cores
        while time.monotonic() < deadline and not sock:
            found = glob.glob("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix) + glob.glob(
                os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent"), "dpdk", prefix,
                             "dpdk_telemetry.v2"))
            sock = found[0] if found else None
            assert dp.poll() is None, dp.stderr.read()
            time.sleep(0.2)
        assert sock, "no telemetry socket"
        # batch mode first: two frames, plain text
        b = subprocess.run([TIDECTL, "top", "--telemetry", sock, "-b", "-n", "2", "-d", "0.5"],
                           capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert b.returncode == 0, b
        assert b.stdout.count("tidectl top - tide-dataplane pid %d" % dp.pid) == 2, b.stdout
        r = subprocess.run([TIDECTL, "top", "--telemetry", "/nonexistent/sock", "-b"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 6 and "cannot connect" in r.stderr, r

        name = "standalone"
        start_top(name, ["--telemetry", sock, "-d", "0.5"], {"PATH": "/usr/bin:/bin",
                                                             "TERM": "xterm"})
        m, text = wait_screen(name, r"^Total .* received ([\d.]+[kMGT]?)\s*$")
        first = value(m.group(1))
        assert "net_pcap_demo0" in text and "WORKER" in text and "capture" in text, text
        assert "refresh 0.5s" in text, text
        job1 = value(re.search(r"^capture\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.M).group(1))
        time.sleep(2)
        m, text = wait_screen(name, r"^Total   rx ([\d.]+[kMGT]?) pkt/s.* received ([\d.]+[kMGT]?)")
        assert value(m.group(2)) > first, (first, m.group(0))
        assert value(m.group(1)) > 0, m.group(0)           # a live packet rate
        job2 = value(re.search(r"^capture\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.M).group(1))
        assert job2 > job1, (job1, job2)                    # written packets moved
        assert re.search(r"Sessions active", text), text
        tmux("send-keys", "-t", name, "+")
        wait_screen(name, r"refresh 1\.0s")
        quit_top(name)
    finally:
        if dp.poll() is None:
            dp.send_signal(signal.SIGINT)
            try:
                dp.wait(30)
            except subprocess.TimeoutExpired:
                dp.kill()
                dp.wait(10)
        shutil.rmtree(out, ignore_errors=True)


def test_top_hive():
    e = env()
    c = e.client()
    drone_api = e.has_drone_api()
    job = c.post("/api/v1/jobs", {"name": "top-watch", "filter": "udp port 53",
                                  "max_size": 400 << 20, "max_duration": 120}).json
    e.wait_state(job["id"], ("running",))
    name = "hive"
    start_top(name, ["--hive", "-d", "0.5"], {"PATH": "/usr/bin:/bin", "TERM": "xterm",
                                              "TIDE_SERVER": e.server, "TIDE_TOKEN": e.token,
                                              "HOME": e.home})
    pat = r"^%d\s+top-watch\s+running" % job["id"]
    _, text = wait_screen(name, pat)
    assert "local/demo" in text and "tide-control %s" % e.server in text, text
    if drone_api:
        # the link's live rate, from the drone's running capture
        wait_screen(name, r"^local/demo\s+online\s+%d\s+[1-9]" % job["id"])
    e.wait_capturing(job["id"])
    c.post("/api/v1/jobs/%d/stop" % job["id"])
    wait_screen(name, r"^%d\s+top-watch\s+done" % job["id"])
    quit_top(name)


if __name__ == "__main__":
    try:
        finish(globals())
    finally:
        tmux("kill-server", check=False)
