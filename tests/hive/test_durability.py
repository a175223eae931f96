#!/usr/bin/env python3
"""Every acknowledged write survives a restart and a kill -9.

Proves: after a graceful restart users, groups, tokens and sessions are all still there (a
signed-in console stays signed in); a kill -9 sent the instant a 2xx arrives loses nothing;
and a kill -9 in the middle of concurrent writers loses none of the writes that were answered
2xx (SQLite WAL with synchronous=FULL, commit before answer), and leaves a database that passes
integrity_check.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, as_token, expect, make_group, make_token, \
    make_user  # noqa: E402

BIN = cplib.binary_from_argv()


def group_names(client):
    return {g["name"] for g in expect(client.get("/api/v1/groups"), 200).json["items"]}


def test_graceful_restart_keeps_everything():
    h = Hive(BIN)
    try:
        h.start()
        a = admin(h)
        make_user(a, "henry", "henry-password")
        make_group(a, "lab", ["jobs.read"])
        tok = make_token(a, "keep")["token"]
        h.restart()
        expect(a.get("/api/v1/auth/me"), 200)          # the session outlives the process
        expect(as_token(h, tok).get("/api/v1/auth/me"), 200)
        assert "lab" in group_names(a)
        cplib.login(h, "henry", "henry-password")
        h.stop()
    finally:
        h.cleanup()


def test_kill9_right_after_2xx():
    h = Hive(BIN)
    try:
        h.start()
        a = admin(h)
        tok = make_token(a, "t")["token"]
        b = as_token(h, tok)
        for i in range(20):
            expect(b.post("/api/v1/groups", {"name": "k%d" % i}), 201)
        u = expect(b.post("/api/v1/users", {"username": "ivy", "password": "ivy-password"}), 201)
        last = expect(b.patch("/api/v1/users/%d" % u.json["id"], {"disabled": True}), 200)
        h.kill9()                                        # no grace: the answer was the promise
        assert last.json["disabled"] is True
        h.start()
        names = group_names(b)
        assert all("k%d" % i in names for i in range(20)), names
        ivy = expect(b.get("/api/v1/users/%d" % u.json["id"]), 200).json
        assert ivy["disabled"] is True
        h.stop()
    finally:
        h.cleanup()


def test_kill9_under_concurrent_writes():
    h = Hive(BIN)
    try:
        h.start()
        tok = make_token(admin(h), "load")["token"]
        acked, errors, stop = [], [], threading.Event()
        lock = threading.Lock()

        def writer(n):
            c = Client(h, token=tok)
            i = 0
            while not stop.is_set():
                name = "w%d-%d" % (n, i)
                i += 1
                try:
                    r = c.post("/api/v1/groups", {"name": name})
                except OSError:
                    return                                # the server died mid-request
                if r.status == 201:
                    with lock:
                        acked.append(name)
                elif r.status != 503:
                    errors.append(r)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        h.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        assert not errors, errors[:3]
        assert len(acked) > 20, len(acked)
        h.start()
        con = h.db()
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {r[0] for r in con.execute("SELECT name FROM groups")}
        con.close()
        lost = [n for n in acked if n not in names]
        assert not lost, "acknowledged but lost: %s" % lost[:10]
        h.stop()
    finally:
        h.cleanup()


if __name__ == "__main__":
    cplib.run_tests(globals())
