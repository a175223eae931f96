"""cplib — run a real tide-control for a test and talk to it the way a client does.

Shared by the tests in this folder (python3 stdlib only). Each Hive gets its own temporary
data directory and `--listen 127.0.0.1:0`: the kernel picks free ports and tide-control prints
them ("tide-control drones on ws port N", then "tide-control listening on http port N"), so
tests never race for ports and may run in parallel. Every wait is bounded; every Hive is killed when its test ends.

  binary_from_argv()        take --binary PATH out of sys.argv (meson passes it)
  Hive(binary, ...)         start(), stop(), kill9(), restart(); .port, .drone_port, .admin_password,
                            .data_dir, .db_path, .log_text(), .stderr_text()
  Client(hive)              request(method, path, body, headers) -> Response(status, headers, json)
  Session / token helpers   login(), make_token(), as_token(), as_session()
  run_tests(globals())      runs every test_* function, prints one line each, exits non-zero
                            on any failure
"""

import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

ADMIN_PASSWORD = "admin-pass-0123"
START_TIMEOUT = 30.0   # seconds; ASan builds start slowly
STOP_TIMEOUT = 15.0


def binary_from_argv(argv=None):
    argv = sys.argv if argv is None else argv
    path = os.environ.get("TIDE_CONTROL")
    if "--binary" in argv:
        i = argv.index("--binary")
        path = argv[i + 1]
        del argv[i:i + 2]
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "control", "hive", "tide-control")
    return os.path.abspath(path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value), names as sent
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def error_code(self):
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Hive:
    """One tide-control process with its own data directory."""

    def __init__(self, binary, args=(), env=None, data_dir=None, tls=None,
                 admin_password=ADMIN_PASSWORD):
        self.binary = binary
        self.args = list(args)
        self.tmp = tempfile.mkdtemp(prefix="tide-control-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.db_path = os.path.join(self.data_dir, "tide.db")
        self.tls = tls                  # (cert, key) or None
        self.env = dict(os.environ)
        if admin_password:
            self.env["TIDE_ADMIN_PASSWORD"] = admin_password
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.drone_port = None          # the drone listener's (drones dial ws://...:drone_port)
        self.stdout_lines = []
        self.admin_password = admin_password
        self._stderr = None
        self._starts = 0

    # -- process -----------------------------------------------------------------------
    def command(self):
        cmd = [self.binary, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
               "--webui", os.path.join(self.tmp, "no-webui")] + self.args
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        return cmd

    def start(self):
        self._starts += 1
        err_path = os.path.join(self.tmp, "stderr.%d.txt" % self._starts)
        self._stderr = open(err_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=self.env)
        deadline = time.monotonic() + START_TIMEOUT
        os.set_blocking(self.proc.stdout.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            chunk = self.proc.stdout.read()
            if chunk:
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    m = re.match(r"admin password: (\S+)$", line)
                    if m:
                        self.admin_password = m.group(1)
                    m = re.match(r"tide-control drones on wss? port (\d+)$", line)
                    if m:
                        self.drone_port = int(m.group(1))
                    m = re.match(r"tide-control listening on (https?) port (\d+)$", line)
                    if m:
                        self.port = int(m.group(2))
                        self.stdout_lines = buf.decode(errors="replace").splitlines()
                        return self
            if self.proc.poll() is not None:
                raise AssertionError("tide-control exited with %s before listening:\n%s" % (
                    self.proc.returncode, self.stderr_text()[-3000:]))
            time.sleep(0.02)
        self.kill9()
        raise AssertionError("tide-control did not start within %ds:\n%s" % (
            START_TIMEOUT, self.stderr_text()[-3000:]))

    def stop(self):
        """SIGTERM and wait; returns the exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
            raise AssertionError("tide-control ignored SIGTERM for %ds" % STOP_TIMEOUT)
        self._check_sanitizers()
        return self.proc.returncode

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.kill9()
        if self._stderr:
            self._stderr.close()
        if os.environ.get("TIDE_KEEP_TEST_DIRS"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _check_sanitizers(self):
        text = self.stderr_text()
        if any(s in text for s in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                   "runtime error:")):
            raise AssertionError("sanitizer report in tide-control's stderr:\n" + text[-4000:])

    def stderr_text(self):
        if self._stderr:
            self._stderr.flush()
        try:
            with open(os.path.join(self.tmp, "stderr.%d.txt" % self._starts), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_text(self):
        with open(os.path.join(self.data_dir, "tide-control.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def db(self):
        """A read-write sqlite3 connection to the live database (WAL allows it)."""
        con = sqlite3.connect(self.db_path, timeout=10)
        return con

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.stop()
        finally:
            self.cleanup()
        return False


class Client:
    """A client of one Hive; credentials are either a bearer token or a cookie session."""

    def __init__(self, hive, token=None, cookie=None, csrf=None):
        self.hive = hive
        self.token = token
        self.cookie = cookie
        self.csrf = csrf
        self.last_set_cookie = None

    def connection(self):
        if self.hive.tls:
            ctx = ssl.create_default_context(cafile=self.hive.tls[0])
            return http.client.HTTPSConnection("localhost", self.hive.port, context=ctx, timeout=30)
        return http.client.HTTPConnection("127.0.0.1", self.hive.port, timeout=30)

    def request(self, method, path, body=None, headers=None, raw=None, csrf=True):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookie:
            h["Cookie"] = self.cookie
            if self.csrf and csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.connection()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            resp = Response(r.status, r.getheaders(), r.read().decode(errors="replace"))
        finally:
            c.close()
        sc = resp.header("Set-Cookie")
        if sc:
            self.last_set_cookie = sc
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def login(hive, username, password):
    """A cookie-session Client, or raises with the response."""
    c = Client(hive)
    r = c.post("/api/v1/auth/login", {"username": username, "password": password})
    expect(r, 200)
    cookie = r.header("Set-Cookie").split(";")[0]
    return Client(hive, cookie=cookie, csrf=r.json["csrf_token"])


def admin(hive):
    return login(hive, "admin", hive.admin_password)


def make_token(client, name="test", expires_in=None):
    body = {"name": name}
    if expires_in is not None:
        body["expires_in"] = expires_in
    r = client.post("/api/v1/tokens", body)
    expect(r, 201)
    return r.json


def as_token(hive, token):
    return Client(hive, token=token)


def make_user(admin_client, username, password="password-123", groups=None):
    body = {"username": username, "password": password}
    if groups is not None:
        body["groups"] = groups
    r = admin_client.post("/api/v1/users", body)
    expect(r, 201)
    return r.json


def make_group(admin_client, name, permissions):
    r = admin_client.post("/api/v1/groups", {"name": name, "permissions": permissions})
    expect(r, 201)
    return r.json


def expect(resp, status, code=None):
    if resp.status != status or (code and resp.error_code() != code):
        raise AssertionError("expected %s%s, got %r" % (status, " " + code if code else "", resp))
    return resp


def audit_rows(hive, action=None):
    con = hive.db()
    try:
        q = "SELECT id, actor, address, action, target, detail FROM audit"
        args = ()
        if action:
            q += " WHERE action = ?"
            args = (action,)
        return [dict(zip(("id", "actor", "address", "action", "target", "detail"), row))
                for row in con.execute(q + " ORDER BY id", args)]
    finally:
        con.close()


def routes(binary):
    """[(method, pattern, permission)] from --list-routes."""
    out = subprocess.run([binary, "--list-routes"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


def concrete(pattern, value="1"):
    return re.sub(r"\{[^}]+\}", value, pattern)


def run_tests(namespace):
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
            print("ok   %-40s %.1fs" % (name, time.monotonic() - t0), flush=True)
        except Exception:  # noqa: BLE001 — report every failure, keep going
            failed += 1
            print("FAIL %-40s %.1fs" % (name, time.monotonic() - t0), flush=True)
            traceback.print_exc()
    sys.exit(1 if failed else 0)
