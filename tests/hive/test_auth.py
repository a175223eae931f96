#!/usr/bin/env python3
"""Sessions, CSRF, passwords and application tokens against a real tide-control.

Proves: login sets an HttpOnly SameSite=Strict cookie (not Secure over plain HTTP) and returns
a CSRF token; /auth/me works with the cookie; state-changing requests on a cookie session need
X-CSRF-Token; logout ends the session; passwords are stored as argon2id; a token is shown once,
stored only as its SHA-256, works as a bearer, stops working when revoked or expired, and a bad
bearer never falls back to the cookie; first start prints a random admin password exactly once.
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, as_token, expect, login, make_token, make_user  # noqa: E402

BIN = cplib.binary_from_argv()


def test_login_me_logout():
    with Hive(BIN) as h:
        anon = Client(h)
        expect(anon.get("/api/v1/auth/me"), 401, "unauthenticated")
        r = anon.post("/api/v1/auth/login", {"username": "admin", "password": h.admin_password})
        expect(r, 200)
        cookie = r.header("Set-Cookie")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            assert attr in cookie, cookie
        assert "Secure" not in cookie, "plain HTTP must not mark the cookie Secure"
        value = cookie.split(";")[0].split("=", 1)[1]
        assert len(value) == 43, value               # 256 random bits, base64url
        csrf = r.json["csrf_token"]
        assert len(csrf) == 43 and csrf != value
        assert r.json["user"]["username"] == "admin"
        assert "users.admin" in r.json["user"]["permissions"]

        # only the hash of the cookie is stored
        con = h.db()
        stored = [row[0] for row in con.execute("SELECT id_hash FROM sessions")]
        con.close()
        assert hashlib.sha256(value.encode()).digest() in stored
        assert value.encode() not in stored

        s = Client(h, cookie=cookie.split(";")[0], csrf=csrf)
        me = expect(s.get("/api/v1/auth/me"), 200).json
        assert me["auth"] == "session" and me["csrf_token"] == csrf
        assert me["user"]["username"] == "admin"

        # CSRF: missing and wrong tokens are refused on state-changing requests, not on reads
        expect(s.post("/api/v1/tokens", {"name": "x"}, csrf=False), 403, "csrf")
        expect(s.post("/api/v1/tokens", {"name": "x"}, headers={"X-CSRF-Token": "A" * 43}),
               403, "csrf")
        expect(s.post("/api/v1/auth/logout", csrf=False), 403, "csrf")
        expect(s.post("/api/v1/tokens", {"name": "x"}), 201)

        r = expect(s.post("/api/v1/auth/logout"), 204)
        assert "Max-Age=0" in r.header("Set-Cookie")
        expect(s.get("/api/v1/auth/me"), 401, "unauthenticated")


def test_bad_credentials():
    with Hive(BIN) as h:
        c = Client(h)
        expect(c.post("/api/v1/auth/login", {"username": "admin", "password": "wrong-password"}),
               401, "invalid_credentials")
        expect(c.post("/api/v1/auth/login", {"username": "nobody", "password": "whatever1"}),
               401, "invalid_credentials")
        expect(c.post("/api/v1/auth/login", {"username": "admin"}), 400, "missing_field")
        expect(c.post("/api/v1/auth/login", {"username": "admin", "password": 5}), 400,
               "invalid_field")
        # the messages do not tell which part was wrong
        a = c.post("/api/v1/auth/login", {"username": "admin", "password": "wrong-password"})
        b = c.post("/api/v1/auth/login", {"username": "nobody", "password": "wrong-password"})
        assert a.json == b.json


def test_argon2id_in_database():
    with Hive(BIN) as h:
        a = admin(h)
        make_user(a, "alice", "alice-password")
        con = h.db()
        rows = dict(con.execute("SELECT username, password_hash FROM users"))
        con.close()
        for name, hsh in rows.items():
            assert hsh.startswith("$argon2id$v=19$m="), (name, hsh)
            assert "alice-password" not in hsh and h.admin_password not in hsh
        login(h, "alice", "alice-password")


def test_password_change():
    with Hive(BIN) as h:
        a = admin(h)
        make_user(a, "bob", "bob-password-1")
        s1 = login(h, "bob", "bob-password-1")
        s2 = login(h, "bob", "bob-password-1")
        expect(s1.post("/api/v1/auth/password", {"current_password": "nope-nope",
                                                 "new_password": "bob-password-2"}),
               403, "invalid_credentials")
        expect(s1.post("/api/v1/auth/password", {"current_password": "bob-password-1",
                                                 "new_password": "short"}), 400, "weak_password")
        expect(s1.post("/api/v1/auth/password", {"current_password": "bob-password-1",
                                                 "new_password": "bob-password-2"}), 204)
        expect(s1.get("/api/v1/auth/me"), 200)      # the session that changed it stays
        expect(s2.get("/api/v1/auth/me"), 401)      # the others end
        expect(Client(h).post("/api/v1/auth/login", {"username": "bob",
                                                     "password": "bob-password-1"}), 401)
        login(h, "bob", "bob-password-2")


def test_tokens():
    with Hive(BIN) as h:
        a = admin(h)
        t = make_token(a, "script")
        token = t["token"]
        assert token.startswith("tide_") and len(token) == 48, token
        assert token.startswith(t["prefix"]) and len(t["prefix"]) < 20

        # shown once: the list and the database never hold it
        listed = expect(a.get("/api/v1/tokens"), 200).json["items"]
        assert [x["id"] for x in listed] == [t["id"]]
        assert token not in str(listed)
        con = h.db()
        (stored,) = con.execute("SELECT hash FROM tokens WHERE id = ?", (t["id"],)).fetchone()
        dump = "\n".join(con.iterdump())
        con.close()
        assert stored == hashlib.sha256(token.encode()).digest()
        assert token not in dump

        bearer = as_token(h, token)
        me = expect(bearer.get("/api/v1/auth/me"), 200).json
        assert me["auth"] == "token" and me["user"]["username"] == "admin"
        # a bearer needs no CSRF token
        expect(bearer.post("/api/v1/groups", {"name": "made-by-token"}), 201)

        # malformed and unknown tokens: 401, and never a fall-back to a valid cookie
        for bad in ("tide_" + "A" * 43, "nonsense", token[:-1], token + "x"):
            r = Client(h, token=bad, cookie=a.cookie, csrf=a.csrf).get("/api/v1/auth/me")
            expect(r, 401, "invalid_token")
            assert "Bearer" in r.header("WWW-Authenticate")
        r = Client(h).get("/api/v1/auth/me", headers={"Authorization": "Basic YWRtaW46eA=="})
        expect(r, 401)

        # revoke
        expect(a.delete("/api/v1/tokens/%d" % t["id"]), 204)
        expect(bearer.get("/api/v1/auth/me"), 401, "invalid_token")
        listed = expect(a.get("/api/v1/tokens"), 200).json["items"]
        assert listed[0]["revoked_at"] is not None
        expect(a.delete("/api/v1/tokens/%d" % t["id"]), 204)   # idempotent
        expect(a.delete("/api/v1/tokens/999999"), 404)


def test_token_expiry_and_ownership():
    with Hive(BIN) as h:
        a = admin(h)
        short = make_token(a, "short", expires_in=1)
        assert short["expires_at"] is not None
        expect(as_token(h, short["token"]).get("/api/v1/auth/me"), 200)
        time.sleep(1.5)
        expect(as_token(h, short["token"]).get("/api/v1/auth/me"), 401, "invalid_token")

        expect(a.post("/api/v1/tokens", {"name": "x", "expires_in": 0}), 400, "invalid_field")
        expect(a.post("/api/v1/tokens", {"name": ""}), 400, "invalid_field")
        expect(a.post("/api/v1/tokens", {"name": "bad\nname"}), 400, "invalid_field")

        # a user sees and revokes only their own tokens; admins (users.admin) may revoke any
        make_user(a, "carol", "carol-password")
        c = login(h, "carol", "carol-password")
        ct = make_token(c, "carol's")
        at = make_token(a, "admin's")
        mine = expect(c.get("/api/v1/tokens"), 200).json["items"]
        assert [x["name"] for x in mine] == ["carol's"], mine
        expect(c.delete("/api/v1/tokens/%d" % at["id"]), 404)
        expect(as_token(h, at["token"]).get("/api/v1/auth/me"), 200)
        expect(a.delete("/api/v1/tokens/%d" % ct["id"]), 204)
        expect(as_token(h, ct["token"]).get("/api/v1/auth/me"), 401)


def test_disabled_user_loses_access():
    with Hive(BIN) as h:
        a = admin(h)
        u = make_user(a, "dave", "dave-password")
        d = login(h, "dave", "dave-password")
        tok = make_token(d, "dave's")
        expect(a.patch("/api/v1/users/%d" % u["id"], {"disabled": True}), 200)
        expect(d.get("/api/v1/auth/me"), 401)
        expect(as_token(h, tok["token"]).get("/api/v1/auth/me"), 401)
        expect(Client(h).post("/api/v1/auth/login", {"username": "dave",
                                                     "password": "dave-password"}), 401)
        expect(a.patch("/api/v1/users/%d" % u["id"], {"disabled": False}), 200)
        expect(as_token(h, tok["token"]).get("/api/v1/auth/me"), 200)


def test_random_admin_password_printed_once():
    h = Hive(BIN, admin_password=None)
    try:
        h.env.pop("TIDE_ADMIN_PASSWORD", None)
        h.start()
        pw = h.admin_password
        assert pw and len(pw) >= 16, h.stdout_lines
        assert pw not in h.stderr_text() and pw not in h.log_text()
        login(h, "admin", pw)
        h.restart()
        assert not any("admin password" in line for line in h.stdout_lines), h.stdout_lines
        login(h, "admin", pw)
        h.stop()
    finally:
        h.cleanup()


if __name__ == "__main__":
    cplib.run_tests(globals())
