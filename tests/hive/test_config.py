#!/usr/bin/env python3
"""Command line and configuration file.

Proves: the shipped example (config/tide-control.conf.example) is accepted as it is; settings
from a file take effect and the command line overrides them; unknown keys, bad values and
unknown options are refused with the line or option named (exit 2); --help and --version work;
with no arguments at all tide-control starts on its embedded default (127.0.0.1:8080,
./tide-data) when that port is free.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, expect  # noqa: E402

BIN = cplib.binary_from_argv()
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "config", "tide-control.conf.example")


def write(d, text):
    path = os.path.join(d, "tide-control-%d.conf" % len(os.listdir(d)))
    with open(path, "w") as f:
        f.write(text)
    return path


def test_example_config_accepted():
    with Hive(BIN, args=["--config", EXAMPLE]) as h:    # cplib's --listen/--data-dir override
        expect(Client(h).get("/api/v1/health"), 200)


def test_file_settings_and_override():
    d = tempfile.mkdtemp(prefix="tide-conf-")
    conf = write(d, "# test\n[authentication]\nsession_ttl = 2m\n; comment\n"
                    "login_user_failures = \"2\"\naccess_log = no\n")
    with Hive(BIN, args=["--config", conf]) as h:
        r = Client(h).post("/api/v1/auth/login", {"username": "admin",
                                                  "password": h.admin_password})
        assert "Max-Age=120" in r.header("Set-Cookie"), r.header("Set-Cookie")
        for _ in range(2):
            Client(h).post("/api/v1/auth/login", {"username": "x", "password": "wrong-pass"})
        expect(Client(h).post("/api/v1/auth/login", {"username": "x", "password": "y"}), 429)
        assert "GET /api/v1/health" not in h.log_text()
    with Hive(BIN, args=["--config", conf, "--session-ttl", "5m"]) as h:
        r = Client(h).post("/api/v1/auth/login", {"username": "admin",
                                                  "password": h.admin_password})
        assert "Max-Age=300" in r.header("Set-Cookie")
    shutil.rmtree(d, ignore_errors=True)


def test_refusals():
    d = tempfile.mkdtemp(prefix="tide-conf-")
    cases = [
        (["--config", write(d, "listen = 127.0.0.1:0\nsesion_ttl = 1h\n")],
         ".conf:2: unknown setting"),
        (["--config", write(d, "threads = many\n")], "threads"),
        (["--config", write(d, "threads = 100000\n")], "between"),
        (["--config", write(d, "just words\n")], "key = value"),
        (["--config", write(d, "list_routes = yes\n")], "unknown setting"),
        (["--config", os.path.join(d, "missing.conf")], "cannot open"),
        (["--no-such-option"], "unknown option"),
        (["--data-dir"], "needs a value"),
        (["--max-body", "1T"], "max_body"),
        (["--log-level", "loud"], "log_level"),
        (["stray"], "unexpected argument"),
    ]
    for args, words in cases:
        out = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert words in out.stderr, (args, out.stderr)
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--data-dir" in out.stdout and "--migrate-to" not in out.stdout
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("tide-control ")
    shutil.rmtree(d, ignore_errors=True)


def test_embedded_default():
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 8080))
    except OSError:
        print("  (8080 busy: embedded default not started)")
        return
    finally:
        probe.close()
    d = tempfile.mkdtemp(prefix="tide-default-")
    p = subprocess.Popen([BIN], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + cplib.START_TIMEOUT
        out = b""
        while b"listening" not in out and time.monotonic() < deadline:
            out += p.stdout.readline()
        assert b"admin password: " in out and b"http port 8080" in out, out
        assert os.path.exists(os.path.join(d, "tide-data", "tide.db"))
        assert os.stat(os.path.join(d, "tide-data")).st_mode & 0o077 == 0
        h = Hive(BIN)
        h.port = 8080
        expect(Client(h).get("/api/v1/health"), 200)
        h.cleanup()
    finally:
        p.terminate()
        p.wait(cplib.STOP_TIMEOUT)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    cplib.run_tests(globals())
