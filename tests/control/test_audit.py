#!/usr/bin/env python3
"""The audit log: every security action leaves a row; nothing can change a row.

Proves: logins (success and failure), logouts, password changes, token create/revoke and user
and group changes each append one row with actor, client address, action and target; the API
pages through them newest first and filters by action and actor; no route writes the log; and
SQLite itself refuses UPDATE and DELETE on the table (triggers), even for a direct connection.
"""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, audit_rows, expect, login, make_group, make_token, \
    make_user  # noqa: E402

BIN = cplib.binary_from_argv()


def test_actions_are_audited():
    with Hive(BIN) as h:
        anon = Client(h)
        expect(anon.post("/api/v1/auth/login", {"username": "admin", "password": "bad-password"}),
               401)
        a = admin(h)
        t = make_token(a, "ci")
        expect(a.delete("/api/v1/tokens/%d" % t["id"]), 204)
        u = make_user(a, "gina", "gina-password")
        expect(a.patch("/api/v1/users/%d" % u["id"], {"disabled": True}), 200)
        expect(a.delete("/api/v1/users/%d" % u["id"]), 204)
        g = make_group(a, "team", ["jobs.read"])
        expect(a.patch("/api/v1/groups/%d" % g["id"], {"description": "the team"}), 200)
        expect(a.delete("/api/v1/groups/%d" % g["id"]), 204)
        expect(a.post("/api/v1/auth/password", {"current_password": h.admin_password,
                                                "new_password": "admin-pass-new"}), 204)
        expect(a.post("/api/v1/auth/logout"), 204)

        rows = audit_rows(h)
        got = [(r["actor"], r["action"], r["target"]) for r in rows]
        want = [
            ("system", "user.create", "user:admin"),
            ("admin", "auth.login", "user:admin"),
            ("admin", "auth.login", "user:admin"),
            ("admin", "token.create", "token:%d" % t["id"]),
            ("admin", "token.revoke", "token:%d" % t["id"]),
            ("admin", "user.create", "user:gina"),
            ("admin", "user.update", "user:gina"),
            ("admin", "user.delete", "user:gina"),
            ("admin", "group.create", "group:team"),
            ("admin", "group.update", "group:team"),
            ("admin", "group.delete", "group:team"),
            ("admin", "auth.password", ""),
            ("admin", "auth.logout", ""),
        ]
        assert got == want, "\n".join(map(str, got))
        outcomes = [json.loads(r["detail"]).get("outcome") for r in rows
                    if r["action"] == "auth.login"]
        assert outcomes == ["failure", "success"], outcomes
        assert all(r["address"] == "127.0.0.1" for r in rows[1:]), rows
        secrets = (h.admin_password, "bad-password", "gina-password", "admin-pass-new", t["token"])
        for r in rows:
            for s in secrets:
                assert s not in r["detail"], r


def test_paging_and_filters():
    with Hive(BIN) as h:
        a = admin(h)
        for i in range(7):
            make_group(a, "g%d" % i, [])
        page = expect(a.get("/api/v1/audit?limit=3"), 200).json
        ids = [x["id"] for x in page["items"]]
        assert len(ids) == 3 and ids == sorted(ids, reverse=True)
        assert page["next_before"] == ids[-1]
        seen = list(ids)
        while page["next_before"]:
            page = expect(a.get("/api/v1/audit?limit=3&before=%d" % page["next_before"]), 200).json
            seen += [x["id"] for x in page["items"]]
        assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 9, seen
        item = expect(a.get("/api/v1/audit?action=group.create&limit=1"), 200).json["items"][0]
        assert item["action"] == "group.create" and item["target"] == "group:g6"
        assert item["detail"]["permissions"] == [] and item["time"].endswith("Z")
        only = expect(a.get("/api/v1/audit?actor=system"), 200).json["items"]
        assert [x["action"] for x in only] == ["user.create"]
        expect(a.get("/api/v1/audit?limit=100000"), 400)
        expect(a.get("/api/v1/audit?before=-1"), 400)
        # a filter is never dropped: over-long, misspelt or repeated is 400, not everything
        for q in ("action=" + "a" * 64, "actor=" + "b" * 65, "actr=system",
                  "actor=system&actor=admin", "limit=5&befor=3"):
            expect(a.get("/api/v1/audit?" + q), 400, "invalid_parameter")
        # audit.read alone is enough, and needed
        make_group(a, "readers", ["audit.read"])
        make_user(a, "rita", "rita-password", groups=["readers"])
        expect(login(h, "rita", "rita-password").get("/api/v1/audit"), 200)
        make_user(a, "sam", "sam-password")
        expect(login(h, "sam", "sam-password").get("/api/v1/audit"), 403)


def test_append_only_in_sqlite():
    with Hive(BIN) as h:
        admin(h)
        before = audit_rows(h)
        con = h.db()
        for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit",
                    "DELETE FROM audit WHERE id = 1"):
            try:
                con.execute(sql)
                con.commit()
            except sqlite3.DatabaseError as e:
                assert "append-only" in str(e), e
                con.rollback()
            else:
                raise AssertionError("%s was allowed" % sql)
        con.close()
        assert audit_rows(h) == before
        # and the API has no way to write it
        writers = [(m, p) for m, p, _ in cplib.routes(BIN) if p.startswith("/api/v1/audit")
                   and m != "GET"]
        assert writers == [], writers


if __name__ == "__main__":
    cplib.run_tests(globals())
