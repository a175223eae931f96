#!/usr/bin/env python3
"""LDAP sign-in with group sync, against a real slapd on loopback.

Each test starts its own slapd (mdb backend, suffix dc=tide,dc=test, the memberof overlay, a
self-signed certificate for StartTLS/ldaps, `-d 256` so every operation the server receives is
in its log) on free ports, fills it with ldapadd, and starts tide-control pointed at it.

Proves: an LDAP user's account is created at first login (source 'ldap', no password hash) with
the tide groups its LDAP groups map to, by DN (memberOf) or by CN (group search); at every
login the groups follow the directory (added and removed, API changes undone); a user mapped
to no group is refused 403 no_tide_group and an existing account loses its groups; wrong,
empty and unknown credentials are 401 like local ones and count toward the lock-out; filter
injection names are 401 and never reach the directory (slapd's log shows no such search);
a local account shadows a directory entry of the same name; with the directory stopped, hung
or refusing the service account, LDAP users get 503 ldap_unavailable within ldap_timeout
(not counted as failures, audited with a count per client address and window) while local
accounts still sign in; TLS (StartTLS and ldaps) works
with the right CA and fails closed with the wrong one; bad LDAP settings stop the start;
every outcome is audited and no password reaches the log or the audit table.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, audit_rows, expect, login  # noqa: E402

BIN = cplib.binary_from_argv()
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SUFFIX = "dc=tide,dc=test"
ROOT_DN = "cn=root," + SUFFIX
ROOT_PW = "root-secret-pw"
READER_DN = "cn=reader," + SUFFIX
READER_PW = "reader-secret-pw"
GROUPS = "ou=groups," + SUFFIX
PEOPLE = "ou=people," + SUFFIX
PASSWORDS = {"alice": "alice-ldap-pw", "bob": "bob-ldap-pw", "carol": "carol-ldap-pw",
             "admin": "admin-from-ldap-pw", "dave": "dave-ldap-pw"}
MAP_DN = "cn=researchers,%s=users; cn=netops, %s = admins" % (GROUPS, GROUPS)
WAIT = 10.0     # seconds, any wait on slapd


def user_dn(uid):
    return "uid=%s,%s" % (uid, PEOPLE)


def directory_ldif():
    out = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: tide\ndc: tide\n" % SUFFIX,
           "dn: %s\nobjectClass: organizationalUnit\nou: people\n" % PEOPLE,
           "dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS,
           "dn: %s\nobjectClass: person\ncn: reader\nsn: reader\nuserPassword: %s\n"
           % (READER_DN, READER_PW)]
    for uid, pw in PASSWORDS.items():
        out.append("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
                   "userPassword: %s\n" % (user_dn(uid), uid, uid, uid, pw))
    # carol is only in a group nobody maps; dave in researchers too. The reader is in every
    # group because groupOfNames may not be empty.
    for cn, members in (("researchers", ["alice", "dave"]), ("netops", ["bob"]),
                        ("guests", ["carol"])):
        out.append("dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\nmember: %s\n"
                   % (cn, GROUPS, cn, READER_DN) +
                   "".join("member: %s\n" % user_dn(m) for m in members))
    return "\n".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(d, name):
    """A self-signed certificate for 127.0.0.1 (its own CA)."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return cert, key


class Slapd:
    """A private slapd: its own config, database, certificate and ports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tide-slapd-")
        self.cert, self.key = make_cert(self.dir, "server")
        os.mkdir(os.path.join(self.dir, "db"))
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "include /etc/ldap/schema/core.schema",
                "include /etc/ldap/schema/cosine.schema",
                "include /etc/ldap/schema/inetorgperson.schema",
                "include /etc/ldap/schema/nis.schema",
                "modulepath /usr/lib/ldap",
                "moduleload back_mdb",
                "moduleload memberof",
                "pidfile %s/slapd.pid" % self.dir,
                "TLSCertificateFile %s" % self.cert,
                "TLSCertificateKeyFile %s" % self.key,
                "database mdb",
                "maxsize 16777216",
                'suffix "%s"' % SUFFIX,
                'rootdn "%s"' % ROOT_DN,
                "rootpw %s" % ROOT_PW,
                "directory %s/db" % self.dir,
                "overlay memberof",
                # only signed-in users read: the service account is really used
                "access to attrs=userPassword by self write by anonymous auth by * none",
                "access to * by users read by anonymous auth",
                ""]))
        self.proc = None
        self.port = self.tls_port = None
        self._log = None

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d" % self.port

    @property
    def ldaps_uri(self):
        return "ldaps://127.0.0.1:%d" % self.tls_port

    def start(self, fill=True):
        for attempt in range(3):    # a free port may be taken between probe and bind
            if attempt or self.port is None:    # a restart keeps its ports if it can
                self.port, self.tls_port = free_port(), free_port()
            self._log = open(os.path.join(self.dir, "slapd.log"), "ab")
            self.proc = subprocess.Popen(
                [SLAPD, "-f", self.conf, "-d", "256", "-h",
                 "%s/ %s/" % (self.uri, self.ldaps_uri)],
                stdout=self._log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                break
            self.stop()
        else:
            raise AssertionError("slapd did not start:\n" + self.log_text()[-3000:])
        if fill:
            self.ldap("ldapadd", directory_ldif())
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = subprocess.run(["ldapsearch", "-x", "-H", self.uri, "-b", "", "-s", "base",
                                "-o", "nettimeout=2"], capture_output=True, timeout=WAIT)
            if r.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def ldap(self, tool, ldif):
        r = subprocess.run([tool, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
                           input=ldif.encode(), capture_output=True, timeout=WAIT)
        assert r.returncode == 0, (tool, r.stdout, r.stderr)

    def set_groups(self, uid, old, new):
        """Moves uid from the groups in old to those in new (ldapmodify as root)."""
        changes = []
        for cn in old:
            changes.append("dn: cn=%s,%s\nchangetype: modify\ndelete: member\nmember: %s\n"
                           % (cn, GROUPS, user_dn(uid)))
        for cn in new:
            changes.append("dn: cn=%s,%s\nchangetype: modify\nadd: member\nmember: %s\n"
                           % (cn, GROUPS, user_dn(uid)))
        self.ldap("ldapmodify", "\n".join(changes))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)   # a paused slapd cannot stop
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "slapd.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def searches(self):
        """The searches tide-control sent (not the readiness probes on the root DSE)."""
        return [line for line in self.log_text().splitlines()
                if " SRCH base=" in line and ' SRCH base=""' not in line]

    def binds(self, dn):
        return [line for line in self.log_text().splitlines()
                if ' BIND dn="%s"' % dn in line]

    def cleanup(self):
        self.stop()
        if os.environ.get("TIDE_KEEP_TEST_DIRS"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False


def ldap_args(d, *extra, uri=None):
    return ["--ldap-uri", uri or d.uri, "--ldap-bind-dn", READER_DN,
            "--ldap-bind-password", READER_PW, "--ldap-base-dn", SUFFIX,
            "--ldap-group-map", MAP_DN, "--login-addr-failures", "1000"] + list(extra)


def attempt(h, user, password):
    return Client(h).post("/api/v1/auth/login", {"username": user, "password": password})


def group_names(user):
    return sorted(g["name"] for g in user["groups"])


def user_row(h, name):
    con = h.db()
    try:
        return con.execute("SELECT id, source, password_hash FROM users WHERE username = ?",
                           (name,)).fetchone()
    finally:
        con.close()


def details(h, action, actor=None):
    return [json.loads(r["detail"]) for r in audit_rows(h, action)
            if actor is None or r["actor"].lower() == actor]


def assert_no_secret_leaked(h):
    text = h.log_text() + h.stderr_text()
    con = h.db()
    dump = "\n".join(con.iterdump())
    con.close()
    for secret in list(PASSWORDS.values()) + [READER_PW, ROOT_PW]:
        assert secret not in text, "password in the log: " + secret
        assert secret not in dump, "password in the database: " + secret


def test_memberof_login_and_sync():
    with Slapd() as d, Hive(BIN, args=ldap_args(d)) as h:
        # first login creates the account, in the mapped group, without a local password
        r = expect(attempt(h, "alice", PASSWORDS["alice"]), 200)
        u = r.json["user"]
        assert u["source"] == "ldap" and group_names(u) == ["users"], u
        assert u["permissions"] == ["jobs.read", "jobs.write"], u
        _, source, pwhash = user_row(h, "alice")
        assert source == "ldap" and pwhash is None
        created = details(h, "user.create", "alice")
        assert created and created[0]["source"] == "ldap" and created[0]["groups"] == ["users"]
        assert created[0]["dn"] == user_dn("alice")
        assert details(h, "auth.login", "alice")[-1] == {"outcome": "success", "method": "ldap"}
        assert d.binds(READER_DN), "the service account was not used"

        # a session from LDAP works like any other; the name matches without case
        s = login(h, "ALICE", PASSWORDS["alice"])
        assert expect(s.get("/api/v1/auth/me"), 200).json["user"]["username"] == "alice"
        expect(s.post("/api/v1/auth/password", {"current_password": PASSWORDS["alice"],
                                                "new_password": "new-local-pw"}),
               409, "no_local_password")

        # bob → admins, and his rights are real
        b = login(h, "bob", PASSWORDS["bob"])
        bob = expect(b.get("/api/v1/auth/me"), 200).json["user"]
        assert group_names(bob) == ["admins"], bob
        expect(b.get("/api/v1/users"), 200)

        # the directory moves bob from netops to researchers: the next login follows
        d.set_groups("bob", ["netops"], ["researchers"])
        r = expect(attempt(h, "bob", PASSWORDS["bob"]), 200)
        assert group_names(r.json["user"]) == ["users"], r.json
        expect(b.get("/api/v1/users"), 403, "forbidden")   # his old session lost admin
        sync = details(h, "user.sync", "bob")[-1]
        assert sync["added"] == ["users"] and sync["removed"] == ["admins"], sync

        # groups given through the API are undone: the directory is the authority
        a = admin(h)
        alice_id = user_row(h, "alice")[0]
        expect(a.patch("/api/v1/users/%d" % alice_id, {"groups": ["users", "admins"]}), 200)
        r = expect(attempt(h, "alice", PASSWORDS["alice"]), 200)
        assert group_names(r.json["user"]) == ["users"], r.json
        assert details(h, "user.sync", "alice")[-1]["removed"] == ["admins"]

        # carol maps to no group: refused, and no account is made for her
        r = expect(attempt(h, "carol", PASSWORDS["carol"]), 403, "no_tide_group")
        assert "no tide group" in r.json["error"]["message"]
        assert user_row(h, "carol") is None
        assert details(h, "auth.login", "carol")[-1]["reason"] == "no_tide_group"

        # bob leaves every mapped group: refused, and his account keeps no group
        d.set_groups("bob", ["researchers"], ["guests"])
        expect(attempt(h, "bob", PASSWORDS["bob"]), 403, "no_tide_group")
        bob = expect(a.get("/api/v1/users/%d" % user_row(h, "bob")[0]), 200).json
        assert bob["groups"] == [] and bob["permissions"] == [], bob
        assert details(h, "user.sync", "bob")[-1]["removed"] == ["users"]

        # wrong, empty and unknown credentials: the same 401 as a local failure
        wrong = expect(attempt(h, "alice", "not-her-password"), 401, "invalid_credentials")
        unknown = expect(attempt(h, "nobody", "whatever-pw"), 401, "invalid_credentials")
        assert wrong.json == unknown.json
        binds = len(d.binds(user_dn("alice")))
        expect(attempt(h, "alice", ""), 401, "invalid_credentials")
        assert len(d.binds(user_dn("alice"))) == binds, "an empty password reached slapd"
        reasons = [x.get("reason") for x in details(h, "auth.login", "alice")]
        assert "ldap_bad_password" in reasons and "empty_password" in reasons, reasons
        assert details(h, "auth.login", "nobody")[-1]["reason"] == "ldap_unknown_user"

        # filter injection: 401, nothing matched, and slapd never saw these names
        before = len(d.searches())
        users_before = expect(a.get("/api/v1/users"), 200).json["items"]
        for evil in ("*", "alice)(uid=*", "*)(|(uid=*", "admin\\", "alice*", "(uid=alice)",
                     "alice)(|(objectClass=*", "*)(uid=*))(|(uid=*", "al\\2aice"):
            expect(attempt(h, evil, PASSWORDS["alice"]), 401, "invalid_credentials")
            expect(attempt(h, evil, ""), 401, "invalid_credentials")
        assert len(d.searches()) == before, d.searches()[before:]
        for line in d.searches():
            assert "*" not in line.split("filter=", 1)[1], line
        assert expect(a.get("/api/v1/users"), 200).json["items"] == users_before
        # a NUL cannot even reach the handler: JSON strings with \u0000 are refused
        r = Client(h).post("/api/v1/auth/login", raw=b'{"username":"alice\\u0000*",'
                           b'"password":"alice-ldap-pw"}',
                           headers={"Content-Type": "application/json"})
        expect(r, 400, "bad_json")
        assert len(d.searches()) == before

        # the local admin shadows uid=admin in the directory: LDAP is never asked
        before = len(d.searches())
        expect(attempt(h, "admin", PASSWORDS["admin"]), 401, "invalid_credentials")
        assert len(d.searches()) == before
        assert user_row(h, "admin")[1] == "local"
        admin(h)

        # a disabled LDAP account stays out without asking the directory
        expect(a.patch("/api/v1/users/%d" % alice_id, {"disabled": True}), 200)
        before = len(d.searches())
        expect(attempt(h, "alice", PASSWORDS["alice"]), 401)
        assert len(d.searches()) == before
        assert details(h, "auth.login", "alice")[-1]["reason"] == "disabled"

        assert_no_secret_leaked(h)


def test_group_search_by_cn_from_config_file():
    with Slapd() as d:
        conf = os.path.join(d.dir, "tide-control.conf")
        with open(conf, "w") as f:
            f.write("[ldap]\nldap_uri = %s\nldap_bind_dn = %s\n" % (d.uri, READER_DN))
            f.write("ldap_base_dn = %s\nldap_group_base = %s\n" % (PEOPLE, GROUPS))
            f.write("ldap_group_filter = (&(objectClass=groupOfNames)(member=%s))\n")
            f.write("ldap_group_map = researchers=users;NetOps=admins\nldap_timeout = 3\n")
        pwfile = os.path.join(d.dir, "reader.pw")
        with open(pwfile, "w") as f:
            f.write(READER_PW + "\n")
        with Hive(BIN, args=["--config", conf, "--ldap-bind-password-file", pwfile]) as h:
            r = expect(attempt(h, "alice", PASSWORDS["alice"]), 200)
            assert group_names(r.json["user"]) == ["users"], r.json
            r = expect(attempt(h, "bob", PASSWORDS["bob"]), 200)
            assert group_names(r.json["user"]) == ["admins"], r.json
            assert any("(&(objectClass=groupOfNames)(member=uid=bob,ou=people," in line
                       for line in d.searches()), d.searches()
            expect(attempt(h, "carol", PASSWORDS["carol"]), 403, "no_tide_group")
            d.set_groups("carol", ["guests"], ["netops"])
            r = expect(attempt(h, "carol", PASSWORDS["carol"]), 200)
            assert group_names(r.json["user"]) == ["admins"], r.json
            expect(attempt(h, "bob", "wrong-password"), 401, "invalid_credentials")

            # first logins racing each other (one connection per login, one account each)
            names = ["dave"] * 6 + ["alice"] * 2
            with ThreadPoolExecutor(len(names)) as pool:
                answers = list(pool.map(lambda n: attempt(h, n, PASSWORDS[n]), names))
            assert [r.status for r in answers] == [200] * len(names), answers
            assert len({r.json["user"]["id"] for r in answers if
                        r.json["user"]["username"] == "dave"}) == 1
            assert len(details(h, "user.create", "dave")) == 1
            assert_no_secret_leaked(h)


def test_directory_down_fails_closed():
    fast = ["--ldap-timeout", "2", "--login-user-failures", "3", "--login-lockout", "30s",
            "--login-audit-window", "1s"]
    with Slapd() as d, Hive(BIN, args=ldap_args(d, *fast)) as h:
        expect(attempt(h, "alice", PASSWORDS["alice"]), 200)

        # hung: TCP is accepted, nothing answers → 503 within ldap_timeout
        d.pause()
        try:
            t0 = time.monotonic()
            r = expect(attempt(h, "alice", PASSWORDS["alice"]), 503, "ldap_unavailable")
            took = time.monotonic() - t0
            assert 1.5 <= took < 5.0, "ldap_timeout=2 took %.1fs" % took
            assert r.header("Retry-After")
            expect(attempt(h, "admin", h.admin_password), 200)   # local accounts still work
        finally:
            d.resume()

        # stopped: refused at once; more outages than the lock-out threshold lock nothing
        d.stop()
        for _ in range(4):
            t0 = time.monotonic()
            expect(attempt(h, "alice", PASSWORDS["alice"]), 503, "ldap_unavailable")
            assert time.monotonic() - t0 < 2.0
            expect(attempt(h, "newcomer", "some-password"), 503, "ldap_unavailable")
        expect(attempt(h, "admin", h.admin_password), 200)
        assert user_row(h, "newcomer") is None
        # audited as refusals a client can repeat at will: the first at once, the rest
        # counted per client address and window (cp_audit.h); the counts add up to all 9
        deadline = time.monotonic() + 20
        while True:
            down = [x for x in details(h, "auth.login") if x.get("reason") == "ldap_unavailable"]
            if sum(x["count"] for x in down) == 9 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(x["count"] for x in down) == 9 and down[0]["count"] == 1, down
        assert "ldap" in h.log_text() and "connecting" in h.log_text()

        # back up: the same account signs in (the outages were not counted as failures)
        port = d.port
        d.start(fill=False)
        assert d.port == port, "slapd came back on another port"
        expect(attempt(h, "alice", PASSWORDS["alice"]), 200)

        # LDAP failures count toward the lock-out like local ones
        for _ in range(3):
            expect(attempt(h, "dave", "wrong-password"), 401)
        expect(attempt(h, "dave", PASSWORDS["dave"]), 429, "rate_limited")
        assert_no_secret_leaked(h)

    # a service account the directory refuses is a configuration fault: 503, not 401
    with Slapd() as d:
        args = ldap_args(d)
        args[args.index("--ldap-bind-password") + 1] = "not-the-reader-password"
        with Hive(BIN, args=args) as h:
            expect(attempt(h, "alice", PASSWORDS["alice"]), 503, "ldap_unavailable")
            assert "binding as ldap_bind_dn" in h.log_text()


def test_tls():
    with Slapd() as d:
        other_ca, _ = make_cert(d.dir, "other")
        for extra, uri in ((["--ldap-starttls", "yes"], d.uri), ([], d.ldaps_uri)):
            with Hive(BIN, args=ldap_args(d, "--ldap-ca-file", d.cert, *extra, uri=uri)) as h:
                r = expect(attempt(h, "alice", PASSWORDS["alice"]), 200)
                assert group_names(r.json["user"]) == ["users"]
            # a certificate that does not verify: fail closed
            with Hive(BIN, args=ldap_args(d, "--ldap-ca-file", other_ca, *extra,
                                          uri=uri)) as h:
                expect(attempt(h, "alice", PASSWORDS["alice"]), 503, "ldap_unavailable")
                expect(attempt(h, "admin", h.admin_password), 200)


def test_bad_settings_stop_the_start():
    base = ["--ldap-uri", "ldap://127.0.0.1:1", "--ldap-base-dn", SUFFIX]
    cases = [
        (["--ldap-group-map", "cn=x,dc=y"], "ldap_group_map"),
        (["--ldap-group-map", "researchers=Not A Group"], "ldap_group_map"),
        (["--ldap-group-map", "cn=x,,=users"], "not a valid DN"),
        (["--ldap-user-filter", "uid=%s"], "ldap_user_filter"),
        (["--ldap-user-filter", "(uid=alice)"], "ldap_user_filter"),
        (["--ldap-user-filter", "(uid=%x)"], "ldap_user_filter"),
        (["--ldap-group-base", GROUPS, "--ldap-group-filter", "(member=x)"],
         "ldap_group_filter"),
        (["--ldap-bind-dn", READER_DN], "go together"),
        (["--ldap-starttls", "yes", "--ldap-uri", "ldaps://127.0.0.1:1"], "ldap_starttls"),
        (["--ldap-uri", "http://127.0.0.1/"], "ldap_uri"),
        (["--ldap-base-dn", ""], "ldap_base_dn"),
        (["--ldap-bind-password-file", "/nonexistent/pw"], "ldap_bind_password_file"),
        (["--ldap-timeout", "0"], "ldap_timeout"),
    ]
    for extra, words in cases:
        h = Hive(BIN, args=base + extra)
        try:
            try:
                h.start()
            except AssertionError as e:
                assert words in str(e), (extra, str(e)[-800:])
            else:
                raise AssertionError("started with %s" % extra)
        finally:
            h.cleanup()


if __name__ == "__main__":
    if not os.path.exists(SLAPD) or not shutil.which("ldapadd"):
        print("SKIP: slapd and ldap-utils are needed (scripts/setup.sh installs them)")
        sys.exit(77)
    cplib.run_tests(globals())
