#!/usr/bin/env python3
"""tidectl download when things go wrong: interrupted, cut off, corrupted.

Proves: a download killed midway (kill -9, against the real Hive) leaves OUT.part, and the same
command resumes it with Range from exactly where it stopped and ends with the listing's sha256;
within one run, a connection cut in the middle of a file is resumed with Range (--retries) and
verified; a server that ignores Range (200) does not corrupt the file; a file whose bytes do not
match the listing's sha256 exits 8 and leaves neither the file nor its .part; an archive stream
cut before its last chunk exits 8 and keeps nothing; a listing with a path escaping the output
directory is refused. The faults come from a small stdlib HTTP server standing in for the Hive.
"""
import hashlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from clilib import TIDECTL, env, finish


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_killed_download_resumes_with_range():
    e = env()
    jid = e.ok("jobs", "create", "big", "-s", "16M", "-t", "20s", "-q").out.strip()
    e.ok("jobs", "wait", jid, "--for", "90s")
    listing = json.loads(e.ok("files", "list", jid, "--json").out)["items"]
    shard = max((f for f in listing if f["path"].startswith("shards/")), key=lambda f: f["size"])
    assert shard["size"] > 8 << 20, shard
    out = os.path.join(e.home, "shard.pcapng")
    part = out + ".part"
    p = subprocess.Popen([TIDECTL, "download", jid, shard["path"], "-o", out, "--limit-rate",
                          "2M"], env=e.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(part) and os.path.getsize(part) > 2 << 20:
            break
        assert p.poll() is None, ("download ended early", p.communicate())
        time.sleep(0.1)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    have = os.path.getsize(part)
    assert 0 < have < shard["size"], (have, shard["size"])
    assert not os.path.exists(out)
    r = e.ok("download", jid, shard["path"], "-o", out)
    assert "resuming at byte %d of %d" % (have, shard["size"]) in r.err, r
    assert "sha256 ok" in r.out, r
    assert not os.path.exists(part)
    with open(out, "rb") as f:
        assert sha(f.read()) == shard["sha256"]
    # and the server saw a Range request (its access log shows the 206)
    assert " 206 " in e.hive.log_text(), "no ranged request in the Hive's log"


# ---- a Hive stand-in with faults ---------------------------------------------------------

DATA = os.urandom(3 << 20)
FILES = {
    "cut.bin": DATA,          # first answer cut in the middle
    "norange.bin": DATA[:1 << 20],   # Range ignored: always 200
    "bad.bin": DATA[:4096],   # listed with a wrong sha256
}
LISTING = {"items": [
    {"path": "cut.bin", "size": len(FILES["cut.bin"]), "sha256": sha(FILES["cut.bin"])},
    {"path": "norange.bin", "size": len(FILES["norange.bin"]), "sha256": sha(FILES["norange.bin"])},
    {"path": "bad.bin", "size": 4096, "sha256": "0" * 64},
]}


class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []        # (path, Range) of every request
    escape = False   # list a path that escapes the output directory

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Fake.seen.append((self.path, self.headers.get("Range")))
        if self.headers.get("Authorization") != "Bearer tide_fake":
            return self.send(401, b'{"error":{"code":"invalid_token","message":"no"}}')
        if self.path == "/api/v1/jobs/1/files":
            listing = dict(LISTING)
            if Fake.escape:
                listing = {"items": [{"path": "../escape.bin", "size": 1, "sha256": None}]}
            return self.send(200, json.dumps(listing).encode())
        if self.path == "/api/v1/jobs/1/archive":
            # chunked, and cut before the terminal chunk
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (1000, b"x" * 1000))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return None
        name = self.path.rsplit("/", 1)[-1]
        if name not in FILES:
            return self.send(404, b'{"error":{"code":"not_found","message":"no such file"}}')
        body = FILES[name]
        rng = self.headers.get("Range")
        if name == "cut.bin" and not rng:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return None
        if rng and name != "norange.bin":
            start = int(rng.split("=")[1].rstrip("-"))
            return self.send(206, body[start:], "application/octet-stream",
                             [("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1,
                                                                    len(body)))])
        return self.send(200, body, "application/octet-stream")


_fake = None


def fake():
    global _fake
    if _fake is None:
        _fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        threading.Thread(target=_fake.serve_forever, daemon=True).start()
    return _fake


def run_fake(*args, cwd):
    srv = fake()
    envv = {"PATH": os.environ.get("PATH", "/bin"), "HOME": cwd, "TIDE_TOKEN": "tide_fake",
            "TIDE_SERVER": "http://127.0.0.1:%d" % srv.server_address[1]}
    return subprocess.run([TIDECTL] + list(args), capture_output=True, text=True, env=envv,
                          cwd=cwd, timeout=60)


def test_cut_connection_resumed_within_one_run():
    d = env().home
    Fake.seen.clear()
    r = run_fake("download", "1", "cut.bin", "-o", "cut.bin", "--retries", "2", cwd=d)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "retrying" in r.stderr and "resuming at byte %d" % (len(DATA) // 3) in r.stderr, r.stderr
    assert ("/api/v1/jobs/1/files/cut.bin", "bytes=%d-" % (len(DATA) // 3)) in Fake.seen, Fake.seen
    with open(os.path.join(d, "cut.bin"), "rb") as f:
        assert f.read() == DATA
    # without retries the .part stays, and the next run finishes it
    os.unlink(os.path.join(d, "cut.bin"))
    r = run_fake("download", "1", "cut.bin", "-o", "cut.bin", "--retries", "0", cwd=d)
    assert r.returncode == 8, (r.returncode, r.stderr)
    assert os.path.getsize(os.path.join(d, "cut.bin.part")) == len(DATA) // 3
    r = run_fake("download", "1", "cut.bin", "-o", "cut.bin", cwd=d)
    assert r.returncode == 0 and "sha256 ok" in r.stdout, (r.returncode, r.stderr)


def test_server_ignoring_range():
    d = env().home
    with open(os.path.join(d, "nr.bin.part"), "wb") as f:
        f.write(b"junk" * 100)      # not a prefix of the file: must not survive
    r = run_fake("download", "1", "norange.bin", "-o", "nr.bin", cwd=d)
    assert r.returncode == 0, (r.returncode, r.stderr)
    with open(os.path.join(d, "nr.bin"), "rb") as f:
        assert f.read() == FILES["norange.bin"]


def test_sha256_mismatch_and_cut_archive():
    d = env().home
    r = run_fake("download", "1", "bad.bin", "-o", "bad.bin", cwd=d)
    assert r.returncode == 8 and "does not match" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(d, "bad.bin"))
    assert not os.path.exists(os.path.join(d, "bad.bin.part"))
    r = run_fake("download", "1", "-o", "cut.tar", cwd=d)
    assert r.returncode == 8 and "broke off" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(d, "cut.tar"))
    assert not os.path.exists(os.path.join(d, "cut.tar.part"))
    r = run_fake("--token", "tide_other", "download", "1", cwd=d)
    assert r.returncode == 3, (r.returncode, r.stderr)
    r = run_fake("download", "2", cwd=d)
    assert r.returncode == 4, (r.returncode, r.stderr)


def test_unsafe_listing_path_refused():
    d = env().home
    Fake.escape = True
    try:
        r = run_fake("download", "1", "--files", "-o", "sub", cwd=d)
    finally:
        Fake.escape = False
    assert r.returncode == 1 and "unsafe path" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(d, "escape.bin"))


if __name__ == "__main__":
    finish(globals())
