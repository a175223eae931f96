#!/usr/bin/env python3
"""The audit log: every security action leaves a row; nothing can change a row.

Proves: logins (success and failure), logouts, password changes, token create/revoke and user
and group changes each append one row with actor, client address, action and target; the API
pages through them newest first and filters by action and actor; no route writes the log; and
SQLite itself refuses UPDATE and DELETE on the table (triggers), even for a direct connection.
Refusals a client can repeat at will are tallied: 300 wrong-password attempts against a locked
account add the 5 real failures, one row for the first refusal and one summary per window
(written by the tally's thread when the window closes, or at an orderly stop), whose counts add
up to every refusal; the log lines likewise.
"""
import json
import math
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
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


def login_rows(h, actor=None):
    rows = [dict(r, detail=json.loads(r["detail"])) for r in audit_rows(h, "auth.login")]
    return [r for r in rows if actor is None or r["actor"] == actor]


def refusal_log_lines(h):
    return [l for l in h.log_text().splitlines() if " auth: login refused" in l]


def test_refusal_flood_is_tallied():
    args = ["--login-user-failures", "5", "--login-addr-failures", "100000", "--login-lockout",
            "10m"]
    with Hive(BIN, args=args) as h:
        make_user(admin(h), "victim", "victim-password")
        anon = Client(h)
        statuses = [anon.post("/api/v1/auth/login", {"username": "victim",
                                                     "password": "guess-%d" % i}).status
                    for i in range(300)]
        assert statuses == [401] * 5 + [429] * 295, statuses
        # the refusals show at once: the first one has its row (and the API shows it)
        api = expect(admin(h).get("/api/v1/audit?actor=victim&action=auth.login"), 200).json
        locked = [x for x in api["items"] if x["detail"]["outcome"] == "locked"]
        assert [x["detail"]["count"] for x in locked] == [1], api["items"]
        h.stop()    # an orderly stop writes the window still open
        rows = login_rows(h, "victim")
        failures = [r for r in rows if r["detail"]["outcome"] == "failure"]
        locked = [r for r in rows if r["detail"]["outcome"] == "locked"]
        assert len(failures) == 5 and len(locked) <= 3, rows
        assert sum(r["detail"]["count"] for r in locked) == 295, locked
        summary = [r for r in locked if r["detail"].get("summary")]
        assert summary and summary[0]["detail"]["addresses"] == ["127.0.0.1"], summary
        assert summary[0]["target"] == "user:victim" and summary[0]["address"] == "127.0.0.1"
        # the log likewise: a line for the first refusal and one per window, counts adding up
        lines = refusal_log_lines(h)
        assert 1 <= len(lines) <= 3, lines
        assert sum(int(l.rsplit("count=", 1)[1]) for l in lines) == 295, lines


def test_refusal_window_closes_on_its_own():
    # an address locked after 3 failures, then refused for 60 other names: one row, one
    # summary written by the tally's thread when the window closes, with no further request
    args = ["--login-user-failures", "1000", "--login-addr-failures", "3", "--login-lockout",
            "10m", "--login-audit-window", "5s"]
    with Hive(BIN, args=args) as h:
        anon = Client(h)
        t0 = time.monotonic()
        statuses = [anon.post("/api/v1/auth/login", {"username": "name%d" % i,
                                                     "password": "guess-password"}).status
                    for i in range(63)]
        windows = math.ceil((time.monotonic() - t0) / 5.0)   # the flood may span several
        assert statuses == [401] * 3 + [429] * 60, statuses
        deadline = time.monotonic() + 30
        while True:
            locked = [r for r in login_rows(h) if r["detail"]["outcome"] == "locked"]
            if sum(r["detail"]["count"] for r in locked) == 60 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(r["detail"]["count"] for r in locked) == 60, locked
        # the first refusal's row, then one summary per window of the flood
        assert 2 <= len(locked) <= 1 + windows + 1, (windows, locked)
        for r in locked[1:]:
            d = r["detail"]
            assert d["summary"] and d["scope"] == "address", d
            assert d["addresses"] == ["127.0.0.1"] and d["since"] <= d["until"], d
            # every name was new: the names kept are the first, at most 8
            assert len(d["actors"]) == min(8, d["count"]), d
            assert all(a.startswith("name") for a in d["actors"]), d


if __name__ == "__main__":
    cplib.run_tests(globals())
