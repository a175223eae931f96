#!/usr/bin/env python3
"""The HTTP surface: body limits, JSON errors, traversal, static files, health and logs.

Proves: a body over the cap is 413 whether it declares its length or is chunked (and the
connection is closed); malformed JSON, duplicate keys, a non-object body, oversized fields and
a wrong media type are 400/415 with the error format; no encoding of "..", no absolute or hidden
path and no symlink reaches a file outside the console directory; the placeholder page stands
in for a missing console; health needs no credentials; the log download needs logs.read,
holds the access lines in the documented format and no secret; the server survives all of it.
"""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, as_token, expect, login, make_group, make_token, \
    make_user  # noqa: E402

BIN = cplib.binary_from_argv()


def raw(h, data, read_all=True):
    """Sends bytes as they are (no client-side path normalisation); returns (status, text)."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
    try:
        try:
            s.sendall(data)
            if read_all:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass                        # the server may refuse before reading everything
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        text = b"".join(chunks).decode(errors="replace")
    finally:
        s.close()
    m = re.match(r"HTTP/1\.[01] (\d{3})", text)
    return (int(m.group(1)) if m else 0), text


def get_raw(h, path, extra=""):
    return raw(h, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % (path, extra))
               .encode("latin-1"))


def test_body_limits():
    with Hive(BIN, args=["--max-body", "4K"]) as h:
        tok = make_token(admin(h), "t")["token"]
        b = as_token(h, tok)
        expect(b.post("/api/v1/groups", {"name": "fits", "description": "d" * 1000}), 201)
        r = expect(b.post("/api/v1/groups", {"name": "big", "description": "d" * 5000}), 413,
                   "body_too_large")
        assert r.header("Connection") == "close"
        # chunked: no length announced, the cap still holds
        body = b'{"name":"chunky","description":"' + b"d" * 8000 + b'"}'
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                           for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
        status, text = raw(h, b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + tok.encode() + b"\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        assert status == 413 and "body_too_large" in text, text[:300]
        # a small chunked body is fine
        small = b'{"name":"chunked-ok"}'
        status, text = raw(h, b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + tok.encode() + b"\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           + b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small))
        assert status == 201, text[:300]
        # 1 MiB default, and a huge declared length is refused unread
        status, text = raw(h, b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n",
                           read_all=False)
        assert status == 413, text[:300]
        expect(b.get("/api/v1/health"), 200)


def test_default_cap_is_1mib():
    with Hive(BIN) as h:
        tok = make_token(admin(h), "t")["token"]
        b = as_token(h, tok)
        # one byte over: refused from the headers alone, before any body is read
        status, text = raw(h, b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + tok.encode() + b"\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % ((1 << 20) + 1), read_all=False)
        assert status == 413 and "body_too_large" in text, text[:300]
        body = b'{"name":"x"' + b" " * ((1 << 20) - 12) + b"}"
        assert len(body) == 1 << 20
        expect(b.post("/api/v1/groups", raw=body, headers={"Content-Type": "application/json"}),
               201)


def test_bad_json():
    with Hive(BIN) as h:
        b = as_token(h, make_token(admin(h), "t")["token"])
        jh = {"Content-Type": "application/json"}
        cases = [b'{"name": ', b'{"name":"a"} trailing', b'{"name":"a","name":"b"}',
                 b"\xff\xfe{}", b'{"name":"\xc3\x28"}', b"[" * 100000 + b"]" * 100000, b"nul\x00"]
        for body in cases:
            r = expect(b.post("/api/v1/groups", raw=body, headers=jh), 400)
            assert r.error_code() == "bad_json", (body[:20], r)
            assert set(r.json) == {"error"} and set(r.json["error"]) == {"code", "message"}
        expect(b.post("/api/v1/groups", raw=b"[]", headers=jh), 400, "invalid_body")
        expect(b.post("/api/v1/groups", raw=b'"x"', headers=jh), 400)
        expect(b.post("/api/v1/groups", raw=b"", headers=jh), 400, "invalid_body")
        expect(b.post("/api/v1/groups", raw=b'{"name":"x"}',
                      headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
        expect(b.post("/api/v1/groups", raw=b'{"name":"x"}',
                      headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
        expect(b.post("/api/v1/groups", raw=b'{"name":"x"}',
                      headers={"Content-Type": "application/json; charset=utf-8"}), 201)
        expect(b.post("/api/v1/users", {"username": "u" * 10000, "password": "p" * 20}), 400,
               "invalid_field")
        expect(b.post("/api/v1/users", {"username": "nul\u0000byte", "password": "p" * 20}), 400)
        expect(b.post("/api/v1/auth/login", {"username": "admin", "password": "p" * 5000}), 400)
        # headers beyond civetweb's cap, a garbage request line: refused, server fine
        status, _ = get_raw(h, "/api/v1/health", "X-Big: " + "a" * 20000 + "\r\n")
        assert status in (0, 400, 413, 431), status
        status, _ = raw(h, b"\x16\x03\x01garbage\r\n\r\n")
        assert status in (0, 400), status
        expect(Client(h).get("/api/v1/health"), 200)


def test_traversal_impossible():
    with Hive(BIN) as h:
        root = os.path.join(h.tmp, "console")
        os.makedirs(os.path.join(root, "sub"))
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<html>console</html>")
        with open(os.path.join(root, "sub", "app.js"), "w") as f:
            f.write("console.log(1)")
        with open(os.path.join(root, ".secret"), "w") as f:
            f.write("SECRET-HIDDEN")
        os.makedirs(os.path.join(h.tmp, "console2"))
        with open(os.path.join(h.tmp, "console2", "leak.txt"), "w") as f:
            f.write("SECRET-SIBLING")
        os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
        os.symlink(os.path.join(h.tmp, "console2"), os.path.join(root, "sibling"))
        h.stop()
        h.args += ["--webui", root]
        h.start()

        expect(Client(h).get("/"), 200)
        assert "console" in Client(h).get("/").body
        assert "console.log" in Client(h).get("/sub/app.js").body
        attempts = [
            "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",
            "/..%2f..%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/sub/../../etc/passwd",
            "/sub/%2e%2e/%2e%2e/etc/passwd", "/..\\..\\etc\\passwd", "/%5c..%5c..%5cetc/passwd",
            "//etc/passwd", "/etc/passwd", "/passwd-link", "/sibling/leak.txt",
            "/../console2/leak.txt", "/%2e%2e/console2/leak.txt", "/.secret", "/%2esecret",
            "/sub/.././.secret", "/index.html%00.js", "/api/v1/../../../etc/passwd",
            "/api/v1/users/..%2f..%2f..%2fetc%2fpasswd", "/api/v1/%2e%2e/%2e%2e/etc/passwd",
            "/..", "/%2e%2e", "/.%2e/.%2e/etc/passwd", "/%252e%252e/%252e%252e/etc/passwd",
        ]
        for path in attempts:
            status, text = get_raw(h, path)
            assert status in (400, 403, 404), (path, status, text[:200])
            for secret in ("root:", "SECRET-HIDDEN", "SECRET-SIBLING"):
                assert secret not in text, (path, text[:300])
        expect(Client(h).get("/api/v1/health"), 200)


def test_placeholder_and_health():
    with Hive(BIN) as h:                     # cplib points --webui at a missing directory
        r = Client(h).get("/")
        assert r.status == 200 and "text/html" in r.header("Content-Type")
        assert "/api/v1" in r.body
        expect(Client(h).get("/index.html"), 200)
        expect(Client(h).get("/app.js"), 404)
        expect(Client(h).request("POST", "/"), 405)
        r = expect(Client(h).get("/api/v1/health"), 200)
        assert r.json["status"] == "ok" and r.json["version"]
        assert r.header("Cache-Control") == "no-store"
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("Access-Control-Allow-Origin") is None


def test_log_download():
    with Hive(BIN) as h:
        a = admin(h)
        tok = make_token(a, "t")["token"]
        make_user(a, "logger", "logger-password", groups=[])
        expect(Client(h).post("/api/v1/auth/login", {"username": "admin",
                                                     "password": "wrong-secret-xyz"}), 401)
        expect(as_token(h, tok).get("/api/v1/groups?limit=5"), 200)
        expect(login(h, "logger", "logger-password").get("/api/v1/logs"), 403)
        make_group(a, "logreaders", ["logs.read"])
        expect(a.patch("/api/v1/users/2", {"groups": ["logreaders"]}), 200)
        r = expect(login(h, "logger", "logger-password").get("/api/v1/logs"), 200)
        assert r.header("Content-Type").startswith("text/plain")
        assert "attachment" in r.header("Content-Disposition")
        assert int(r.header("Content-Length")) == len(r.body.encode())
        line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) "
                          r"[a-z]+: .+$")
        lines = r.body.splitlines()
        bad = [x for x in lines if not line.match(x)]
        assert lines and not bad, bad[:3]
        assert any("GET /api/v1/groups 200" in x and "user=admin" in x for x in lines)
        for secret in (h.admin_password, tok, "wrong-secret-xyz", "logger-password", a.csrf,
                       a.cookie.split("=", 1)[1]):
            assert secret not in r.body, secret
    with Hive(BIN, args=["--log-file", "-"]) as h:
        expect(admin(h).get("/api/v1/logs"), 404, "no_log_file")


if __name__ == "__main__":
    cplib.run_tests(globals())
