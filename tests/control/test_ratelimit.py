#!/usr/bin/env python3
"""Failed-login throttling per account and per client address.

Proves: after N failures an account is locked — even the right password gets 429 with a
Retry-After — the lock doubles with each further failure, it survives a restart (it lives in
the database), a success clears the account's streak, and many failures for different accounts
from one address lock that address. Every refusal is audited.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, audit_rows, expect, make_user  # noqa: E402

BIN = cplib.binary_from_argv()
FAST = ["--login-user-failures", "3", "--login-addr-failures", "1000", "--login-lockout", "2s",
        "--login-lockout-max", "1m"]


def attempt(h, user, password):
    return Client(h).post("/api/v1/auth/login", {"username": user, "password": password})


def wait_unlocked(h, user, password, bound=10.0):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        r = attempt(h, user, password)
        if r.status != 429:
            return r
        time.sleep(0.2)
    raise AssertionError("still locked after %.0fs" % bound)


def test_account_lockout_exponential():
    with Hive(BIN, args=FAST) as h:
        make_user(admin(h), "erin", "erin-password")
        for _ in range(2):
            expect(attempt(h, "erin", "wrong-one"), 401, "invalid_credentials")
        expect(attempt(h, "erin", "wrong-one"), 401)          # third failure locks
        r = expect(attempt(h, "erin", "erin-password"), 429, "rate_limited")
        assert r.header("Retry-After") == "2", r.headers
        # the name is matched without case, as logins are
        expect(attempt(h, "ERIN", "erin-password"), 429)

        # after the lock, one more failure locks again, twice as long
        expect(wait_unlocked(h, "erin", "wrong-one"), 401)
        r = expect(attempt(h, "erin", "erin-password"), 429)
        assert r.header("Retry-After") == "4", r.headers

        # the lock is in the database: a restart does not lift it
        h.restart()
        expect(attempt(h, "erin", "erin-password"), 429)

        # success clears the streak: the next failure does not lock
        expect(wait_unlocked(h, "erin", "erin-password"), 200)
        expect(attempt(h, "erin", "wrong-one"), 401)
        expect(attempt(h, "erin", "erin-password"), 200)

        outcomes = [__import__("json").loads(r["detail"])["outcome"]
                    for r in audit_rows(h, "auth.login") if r["actor"].lower() == "erin"]
        assert "locked" in outcomes and "failure" in outcomes and "success" in outcomes, outcomes


def test_unknown_accounts_are_throttled_too():
    with Hive(BIN, args=FAST) as h:
        for _ in range(3):
            expect(attempt(h, "ghost", "whatever-1"), 401)
        expect(attempt(h, "ghost", "whatever-1"), 429)


def test_address_lockout():
    args = ["--login-user-failures", "100", "--login-addr-failures", "4", "--login-lockout", "2s"]
    with Hive(BIN, args=args) as h:
        for i in range(4):
            expect(attempt(h, "user%d" % i, "wrong-one"), 401)
        r = expect(attempt(h, "admin", h.admin_password), 429, "rate_limited")
        assert "address" in r.json["error"]["message"]
        assert int(r.header("Retry-After")) >= 1
        expect(wait_unlocked(h, "admin", h.admin_password), 200)


if __name__ == "__main__":
    cplib.run_tests(globals())
