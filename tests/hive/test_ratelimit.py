#!/usr/bin/env python3
"""Failed-login throttling per account and per client address.

Proves: after N failures an account is locked — even the right password gets 429 with a
Retry-After — the lock doubles with each further failure, it survives a restart (it lives in
the database), a success clears the account's streak, and many failures for different accounts
from one address lock that address. Every refusal is audited. 40 guesses sent at once against
a threshold of 5 get at most 5 password checks (401), the rest 429, for an account and for an
address alike: the attempt is reserved before the password is checked, not counted after;
20 right logins at once all succeed (beyond the allowance they wait, they are not refused).
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
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

        # success clears the streak: the next failure does not lock
        expect(wait_unlocked(h, "erin", "erin-password"), 200)
        expect(attempt(h, "erin", "wrong-one"), 401)
        expect(attempt(h, "erin", "erin-password"), 200)

        outcomes = [__import__("json").loads(r["detail"])["outcome"]
                    for r in audit_rows(h, "auth.login") if r["actor"].lower() == "erin"]
        assert "locked" in outcomes and "failure" in outcomes and "success" in outcomes, outcomes


def test_lock_survives_a_restart():
    # the lock lives in the database; long enough that a slow restart cannot outlast it
    args = ["--login-user-failures", "3", "--login-addr-failures", "1000",
            "--login-lockout", "1m", "--login-lockout-max", "5m"]
    with Hive(BIN, args=args) as h:
        make_user(admin(h), "fay", "fay-password")
        for _ in range(3):
            expect(attempt(h, "fay", "wrong-one"), 401)
        expect(attempt(h, "fay", "fay-password"), 429)
        h.restart()
        r = expect(attempt(h, "fay", "fay-password"), 429, "rate_limited")
        assert 0 < int(r.header("Retry-After")) <= 60, r.headers


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


def parallel_attempts(h, names, password, n=40):
    """n logins sent together (one per thread, released at once); their statuses."""
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def one(i):
        barrier.wait(timeout=30)
        statuses[i] = attempt(h, names[i % len(names)], password).status

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a login did not answer within 60 s"
    return statuses


def test_parallel_guesses_cannot_outrun_the_account_throttle():
    args = ["--login-user-failures", "5", "--login-addr-failures", "100000", "--login-lockout",
            "10m", "--threads", "48"]
    with Hive(BIN, args=args) as h:
        a = admin(h)
        for round_ in range(3):
            name = "target%d" % round_
            make_user(a, name, "right-password")
            statuses = parallel_attempts(h, [name], "wrong-password")
            checked = statuses.count(401)
            assert checked <= 5 and statuses.count(429) == 40 - checked, statuses
            assert checked >= 1, statuses   # the throttle still lets the first tries through
            # the failures that were checked are all counted, and the account is locked
            failures = [r for r in audit_rows(h, "auth.login") if r["actor"] == name and
                        json.loads(r["detail"])["outcome"] == "failure"]
            assert len(failures) == checked, (failures, statuses)
            expect(attempt(h, name, "right-password"), 429, "rate_limited")


def test_parallel_right_logins_all_succeed():
    # beyond the allowance an attempt waits for those in flight instead of being refused:
    # a script signing in many times at once is not mistaken for a guesser
    args = ["--login-user-failures", "5", "--login-addr-failures", "5", "--threads", "48"]
    with Hive(BIN, args=args) as h:
        make_user(admin(h), "busy", "busy-password")
        statuses = parallel_attempts(h, ["busy"], "busy-password", n=20)
        assert statuses == [200] * 20, statuses


def test_parallel_guesses_cannot_outrun_the_address_throttle():
    args = ["--login-user-failures", "1000", "--login-addr-failures", "5", "--login-lockout",
            "10m", "--threads", "48"]
    with Hive(BIN, args=args) as h:
        statuses = parallel_attempts(h, ["nobody%d" % i for i in range(40)], "wrong-password")
        checked = statuses.count(401)
        assert 1 <= checked <= 5 and statuses.count(429) == 40 - checked, statuses
        r = expect(attempt(h, "admin", h.admin_password), 429, "rate_limited")
        assert "address" in r.json["error"]["message"], r.json


if __name__ == "__main__":
    cplib.run_tests(globals())
