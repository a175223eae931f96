#!/usr/bin/env python3
"""Deny by default, walked over the whole route table.

Proves, for every route `tide-control --list-routes` prints: without credentials a non-public
route answers 401 (and a public one does not); a user whose groups lack the route's
permission gets 403 — a user with no permissions at all, and a plain researcher in the
built-in `users` group; unknown paths are 404 and known paths with another method 405 with an
Allow header; every route declares a permission.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, as_token, concrete, expect, make_group, make_token, \
    make_user  # noqa: E402

BIN = cplib.binary_from_argv()
PSEUDO = {"public", "authenticated", "drone"}


def body_for(method):
    return {} if method in ("POST", "PUT", "PATCH") else None


def test_every_route_declares_a_permission():
    rs = cplib.routes(BIN)
    assert len(rs) >= 20, rs
    for method, pattern, perm in rs:
        assert method in ("GET", "POST", "PUT", "PATCH", "DELETE"), method
        assert pattern.startswith("/api/v1/"), pattern
        assert perm in PSEUDO or re.fullmatch(r"[a-z_]+\.[a-z_]+", perm), (method, pattern, perm)
    public = sorted(p for m, p, perm in rs if perm == "public")
    assert public == ["/api/v1/auth/login", "/api/v1/health"], public


def test_no_credentials_is_401():
    with Hive(BIN) as h:
        anon = Client(h)
        for method, pattern, perm in cplib.routes(BIN):
            r = anon.request(method, concrete(pattern), body=body_for(method))
            if perm == "public":
                assert r.status != 401, (method, pattern, r)
            else:
                expect(r, 401, "unauthenticated")
            # a stale or forged cookie is no better than none
            r = Client(h, cookie="tide_session=" + "A" * 43, csrf="x").request(
                method, concrete(pattern), body=body_for(method))
            if perm != "public":
                expect(r, 401)


def test_too_weak_role_is_403():
    with Hive(BIN) as h:
        a = admin(h)
        make_group(a, "nothing", [])
        make_user(a, "nobody", "nobody-password", groups=["nothing"])
        make_user(a, "researcher", "researcher-pass", groups=["users"])
        weak = {
            "nobody": (cplib.login(h, "nobody", "nobody-password"), set()),
            "researcher": (cplib.login(h, "researcher", "researcher-pass"),
                           {"jobs.read", "jobs.write"}),
        }
        # the same through tokens: a token carries its user's permissions, no more
        tok = make_token(weak["nobody"][0], "weak")
        weak["nobody-token"] = (as_token(h, tok["token"]), set())
        checked = 0
        for method, pattern, perm in cplib.routes(BIN):
            if perm in PSEUDO:
                continue
            for name, (client, held) in weak.items():
                if perm in held:
                    continue
                r = client.request(method, concrete(pattern), body=body_for(method))
                expect(r, 403, "forbidden")
                assert perm in r.json["error"]["message"], r
                checked += 1
        assert checked > 20, checked
        # and the permission really is what opens them: admin gets past the check
        for method, pattern, perm in cplib.routes(BIN):
            if method == "GET" and "{" not in pattern:
                r = a.request(method, pattern)
                assert r.status == 200, (pattern, r)


def test_404_405():
    with Hive(BIN) as h:
        a = admin(h)
        expect(a.get("/api/v1/nothing-here"), 404, "not_found")
        expect(a.get("/api/v2/users"), 404)
        expect(a.get("/api/v1/users/"), 404)
        expect(a.get("/api/v1/users/1/extra"), 404)
        expect(a.get("/api/v1/users/0"), 404)
        expect(a.get("/api/v1/users/abc"), 404)
        expect(a.get("/api/v1/users/99999999999999999999"), 404)
        r = expect(a.request("PUT", "/api/v1/users"), 405, "method_not_allowed")
        assert set(r.header("Allow").split(", ")) == {"GET", "POST"}, r.headers
        r = expect(Client(h).request("DELETE", "/api/v1/health"), 405)
        assert r.header("Allow") == "GET"
        # there is no route that changes the audit log
        for m in ("PUT", "PATCH", "DELETE", "POST"):
            expect(a.request(m, "/api/v1/audit"), 405)
            expect(a.request(m, "/api/v1/audit/1"), 404)


if __name__ == "__main__":
    cplib.run_tests(globals())
