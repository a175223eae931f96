#!/usr/bin/env python3
"""Schema migrations upgrade an old database without losing data.

Proves: `--migrate-to 1` leaves a database made by the first schema (user_version 1, no later
tables); data written into it — a user with a real argon2id hash, a group with permissions, a
membership, audit rows — survives starting the current binary, which brings the schema to the
latest version (new tables and columns present, the audit triggers still refusing changes); the
old user can sign in and use the new features; jobs survive the rebuilds of their table (step
10, and step 11, which drops the dead jobs.pid) with their links and files, and read as exporting
nothing after step 12 and as selecting every session (no apps, the wait's default bounds)
after step 13, whose columns hold a new job's selection; a database newer
than the binary is refused; and a damaged database (garbage, or one broken page of a table the
start reads) or an unreadable one (a directory in its place) stops the start with a message on
stderr and in the log that names the file, gives SQLite's words and says what to do.
"""
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, expect, login, make_token, make_user  # noqa: E402

BIN = cplib.binary_from_argv()
NOW = 1790000000000


def real_hash(password):
    """An argon2id hash made by tide-control itself (python's stdlib has no argon2)."""
    with Hive(BIN) as h:
        make_user(admin(h), "donor", password)
        con = h.db()
        (hsh,) = con.execute("SELECT password_hash FROM users WHERE username = 'donor'").fetchone()
        con.close()
        return hsh


def columns(con, table):
    return [row[1] for row in con.execute("PRAGMA table_info(%s)" % table)]


def test_upgrade_from_version_1():
    hsh = real_hash("oldtimer-password")
    h = Hive(BIN)
    try:
        out = subprocess.run([BIN, "--data-dir", h.data_dir, "--migrate-to", "1",
                              "--log-file", "-"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "schema version 1" in out.stdout, out.stdout

        con = sqlite3.connect(h.db_path)
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "tokens" not in tables and "login_throttle" not in tables, tables
        assert "last_login_at" not in columns(con, "users")
        # what a version-1 Hive would have written
        con.execute("INSERT INTO users (id, username, password_hash, created_at, updated_at)"
                    " VALUES (7, 'oldtimer', ?, ?, ?)", (hsh, NOW, NOW))
        con.execute("INSERT INTO groups (id, name, description, created_at)"
                    " VALUES (9, 'veterans', 'from v1', ?)", (NOW,))
        con.executemany("INSERT INTO group_permissions VALUES (9, ?)",
                        [("audit.read",), ("logs.read",)])
        con.execute("INSERT INTO user_groups VALUES (7, 9)")
        con.execute("INSERT INTO user_groups SELECT 7, id FROM groups WHERE name = 'admins'")
        con.execute("INSERT INTO audit (time, actor, address, action, target, detail)"
                    " VALUES (?, 'oldtimer', '10.0.0.1', 'auth.login', 'user:oldtimer', '{}')",
                    (NOW,))
        con.commit()
        con.close()

        h.start()     # the current binary: migrates 2..latest
        con = h.db()
        latest = con.execute("PRAGMA user_version").fetchone()[0]
        assert latest >= 3, latest
        assert "last_login_at" in columns(con, "users")
        assert "hash" in columns(con, "tokens")
        users = con.execute("SELECT id, username, password_hash FROM users").fetchall()
        assert users == [(7, "oldtimer", hsh)], users   # no second admin made over real data
        assert con.execute("SELECT description FROM groups WHERE id = 9").fetchone() == ("from v1",)
        perms = {r[0] for r in con.execute("SELECT permission FROM group_permissions "
                                           "WHERE group_id = 9")}
        assert perms == {"audit.read", "logs.read"}
        assert con.execute("SELECT actor, address FROM audit WHERE time = ?", (NOW,)).fetchall() \
            == [("oldtimer", "10.0.0.1")]
        try:
            con.execute("DELETE FROM audit")
            raise AssertionError("audit trigger lost in the upgrade")
        except sqlite3.DatabaseError:
            pass
        con.close()

        s = login(h, "oldtimer", "oldtimer-password")
        me = expect(s.get("/api/v1/auth/me"), 200).json["user"]
        assert {g["name"] for g in me["groups"]} == {"veterans", "admins"}
        make_token(s, "after-upgrade")                    # a version-2 feature
        old = [x for x in expect(s.get("/api/v1/audit?actor=oldtimer"), 200).json["items"]
               if x["address"] == "10.0.0.1"]
        assert len(old) == 1
        h.stop()
    finally:
        h.cleanup()


def test_jobs_from_version_6_get_the_contract_columns():
    """A job written before max_packets and lookback_s existed reads as unlimited, no look-back;
    its links survive the rebuild of jobs at step 10."""
    h = Hive(BIN, args=["--local-links", ""])
    try:
        subprocess.run([BIN, "--data-dir", h.data_dir, "--migrate-to", "6", "--log-file", "-"],
                       capture_output=True, timeout=60, check=True)
        con = sqlite3.connect(h.db_path)
        assert "lookback_s" not in columns(con, "jobs")
        con.execute("INSERT INTO jobs (id, name, owner_id, owner, filter, max_size, max_duration,"
                    " snaplen, link, state, created_at, counters) VALUES (3, 'old', 1, 'admin',"
                    " 'udp', 1048576, 60, 96, 'demo', 'done', ?, '{\"packets\": 4}')", (NOW,))
        con.execute("INSERT INTO job_links (job_id, drone, link, state) VALUES"
                    " (3, 'local', 'demo', 'done')")
        con.commit()
        con.close()
        h.start()
        con = h.db()
        assert {"max_packets", "lookback_s"} <= set(columns(con, "jobs"))
        con.close()
        j = expect(admin(h).get("/api/v1/jobs/3"), 200).json
        assert (j["filter"], j["snaplen"], j["max_packets"], j["lookback_s"]) == \
            ("udp", 96, 0, 0), j
        assert j["counters"]["packets"] == 4, j
        # step 10 rebuilt jobs (a CHECK for 'partial'): the rows referring to it survived
        assert [(lk["drone"], lk["link"], lk["state"]) for lk in j["links"]] == \
            [("local", "demo", "done")], j
        con = h.db()
        con.execute("UPDATE jobs SET state = 'partial' WHERE id = 3")
        con.commit()
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        con.close()
        h.stop()
    finally:
        h.cleanup()


def test_jobs_from_version_10_lose_pid():
    """Step 11 drops jobs.pid (always 0 since captures run in the drones): jobs written with a
    pid keep their rows, parameters, counters, links and files through the rebuild, read with
    their first link's drone, and an ended one can be deleted (links and files with it)."""
    h = Hive(BIN, args=["--local-links", ""])
    try:
        subprocess.run([BIN, "--data-dir", h.data_dir, "--migrate-to", "10", "--log-file", "-"],
                       capture_output=True, timeout=60, check=True)
        con = sqlite3.connect(h.db_path)
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10
        assert "pid" in columns(con, "jobs")
        con.execute("INSERT INTO jobs (id, name, owner_id, owner, filter, max_size, max_duration,"
                    " link, state, reason, pid, created_at, started_at, ended_at, counters,"
                    " shard_size, dataset_bytes) VALUES (5, 'with-pid', 1, 'admin', 'tcp',"
                    " 1048576, 60, 'demo', 'partial', 'local/demo: lost', 4242, ?, ?, ?,"
                    " '{\"packets\": 7}', 2097152, 10)", (NOW, NOW + 1000, NOW + 2000))
        con.execute("INSERT INTO jobs (id, name, owner_id, owner, max_size, max_duration, link,"
                    " state, pid, created_at, ended_at) VALUES (6, 'remote', 1, 'admin', 1048576,"
                    " 60, 'p1', 'done', 0, ?, ?)", (NOW, NOW))
        con.executemany("INSERT INTO job_links (job_id, drone, link, state, reason) VALUES"
                        " (?, ?, ?, ?, ?)", [(5, "local", "demo", "failed", "lost"),
                                             (5, "probe1", "p1", "done", ""),
                                             (6, "probe1", "p1", "done", "")])
        con.execute("INSERT INTO job_files (job_id, path, drone, size, sha256, uploaded_at)"
                    " VALUES (5, 'shards/probe1/p1/000000.pcapng', 'probe1', 10, ?, ?)",
                    ("ab" * 32, NOW))
        con.commit()
        con.close()
        h.start()
        con = h.db()
        assert con.execute("PRAGMA user_version").fetchone()[0] >= 11
        assert "pid" not in columns(con, "jobs")
        assert {"shard_size", "pending_reason", "dataset_bytes", "export"} <= \
            set(columns(con, "jobs"))
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert con.execute("SELECT count(*) FROM job_files WHERE job_id = 5").fetchone() == (1,)
        con.close()
        c = admin(h)
        j = expect(c.get("/api/v1/jobs/5"), 200).json
        assert (j["name"], j["state"], j["reason"], j["filter"], j["shard_size"]) == \
            ("with-pid", "partial", "local/demo: lost", "tcp", 2097152), j
        assert j["export"] == "", j                # step 12: jobs made before export none
        assert j["counters"]["packets"] == 7 and j["dataset_bytes"] == 10, j
        assert "pid" not in j, j
        assert [(lk["drone"], lk["link"], lk["state"]) for lk in j["links"]] == \
            [("local", "demo", "failed"), ("probe1", "p1", "done")], j
        assert (j["drone"], j["link"]) == ("local", "demo"), j
        j = expect(c.get("/api/v1/jobs/6"), 200).json
        assert (j["drone"], j["link"]) == ("probe1", "p1"), j     # its real drone, not 'local'
        expect(c.delete("/api/v1/jobs/5"), 204)
        expect(c.get("/api/v1/jobs/5"), 404)
        con = h.db()
        assert con.execute("SELECT count(*) FROM job_links WHERE job_id = 5").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM job_files WHERE job_id = 5").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM job_links WHERE job_id = 6").fetchone() == (1,)
        con.close()
        h.stop()
    finally:
        h.cleanup()


def test_jobs_from_version_12_select_every_session():
    """Step 13 adds the selection by application: a job written by a version-12 Hive reads as
    keeping every session, with the contract's default bounds, keeps its other parameters and
    can be deleted; the new columns are the ones the job is read from, the flag a CHECKed
    0 or 1."""
    h = Hive(BIN, args=["--local-links", ""])
    try:
        subprocess.run([BIN, "--data-dir", h.data_dir, "--migrate-to", "12", "--log-file", "-"],
                       capture_output=True, timeout=60, check=True)
        con = sqlite3.connect(h.db_path)
        assert con.execute("PRAGMA user_version").fetchone()[0] == 12
        assert "apps" not in columns(con, "jobs")
        con.execute("INSERT INTO jobs (id, name, owner_id, owner, filter, max_size, max_duration,"
                    " link, state, created_at, ended_at, classify, session_type, export) VALUES"
                    " (8, 'v12', 1, 'admin', 'udp', 1048576, 60, 'demo', 'done', ?, ?, 1,"
                    " 'flow', 'ipfix://127.0.0.1:4739')", (NOW, NOW))
        con.commit()
        con.close()
        h.start()
        con = h.db()
        assert con.execute("PRAGMA user_version").fetchone()[0] >= 13
        assert {"apps", "apps_keep_undecided", "apps_packets", "apps_wait"} <= \
            set(columns(con, "jobs"))
        assert con.execute("SELECT apps, apps_keep_undecided, apps_packets, apps_wait FROM jobs"
                           " WHERE id = 8").fetchone() == ("", 0, 32, 5)
        # a flag, as anonymise and classify are
        try:
            con.execute("UPDATE jobs SET apps_keep_undecided = 2 WHERE id = 8")
            raise AssertionError("apps_keep_undecided took 2")
        except sqlite3.IntegrityError:
            pass
        con.close()
        c = admin(h)
        j = expect(c.get("/api/v1/jobs/8"), 200).json
        assert (j["name"], j["filter"], j["export"], j["session_type"]) == \
            ("v12", "udp", "ipfix://127.0.0.1:4739", "flow"), j
        assert (j["apps"], j["apps_undecided"], j["apps_packets"], j["apps_wait"]) == \
            ([], "drop", 32, 5), j
        # the job's JSON (and its start message) is read from the new columns: the stored
        # canonical list reads back as an array, the flag as the policy's word
        con = h.db()
        con.execute("UPDATE jobs SET apps = 'QUIC,YouTube', apps_keep_undecided = 1,"
                    " apps_packets = 200, apps_wait = 300 WHERE id = 8")
        con.commit()
        con.close()
        j = expect(c.get("/api/v1/jobs/8"), 200).json
        assert (j["apps"], j["apps_undecided"], j["apps_packets"], j["apps_wait"]) == \
            (["QUIC", "YouTube"], "keep", 200, 300), j
        expect(c.delete("/api/v1/jobs/8"), 204)
        h.stop()
    finally:
        h.cleanup()


def test_newer_database_refused():
    h = Hive(BIN)
    try:
        subprocess.run([BIN, "--data-dir", h.data_dir, "--migrate-to", "1", "--log-file", "-"],
                       capture_output=True, timeout=60, check=True)
        con = sqlite3.connect(h.db_path)
        con.execute("PRAGMA user_version = 999")
        con.commit()
        con.close()
        out = subprocess.run([BIN, "--data-dir", h.data_dir, "--listen", "127.0.0.1:0",
                              "--log-file", "-"], capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "newer" in out.stderr, (out.returncode, out.stderr)
    finally:
        h.cleanup()


def start_refused(h):
    """Starts the binary on h's data directory; asserts it stops, returns (stderr, log)."""
    out = subprocess.run([BIN, "--data-dir", h.data_dir, "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=60, env=h.env)
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert "listening" not in out.stdout, out.stdout
    with open(os.path.join(h.data_dir, "tide-control.log")) as f:
        return out.stderr, f.read()


def made_and_stopped():
    """A Hive whose database holds the current schema, stopped with its WAL folded in."""
    h = Hive(BIN)
    h.start()
    h.stop()
    con = sqlite3.connect(h.db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(h.db_path + suffix):
            os.unlink(h.db_path + suffix)
    return h


def test_damaged_database_says_so():
    # the whole file overwritten with garbage
    h = made_and_stopped()
    try:
        size = os.path.getsize(h.db_path)
        with open(h.db_path, "wb") as f:
            f.write(os.urandom(size))
        err, log = start_refused(h)
        for text in (err, log):
            assert "the database %s is damaged (file is not a database)" % h.db_path in text, text
            assert "Restore it from a backup" in text and h.db_path + "-wal" in text, text
    finally:
        h.cleanup()
    # one page of a table the start reads (groups: the admins get every permission)
    h = made_and_stopped()
    try:
        con = sqlite3.connect(h.db_path)
        page = con.execute("PRAGMA page_size").fetchone()[0]
        (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'groups'"
                              ).fetchone()
        con.close()
        with open(h.db_path, "r+b") as f:
            f.seek((root - 1) * page)
            f.write(b"\xa5" * page)
        err, log = start_refused(h)
        for text in (err, log):
            assert "the database %s is damaged (" % h.db_path in text, text
            assert "Restore it from a backup" in text, text
    finally:
        h.cleanup()


def test_unreadable_database_says_so():
    # root reads any file whatever its mode: a directory where the file belongs fails for all
    h = Hive(BIN)
    try:
        os.makedirs(h.db_path)
        err, log = start_refused(h)
        for text in (err, log):
            assert "cannot open the database %s (it is a directory, not a file)" % h.db_path \
                in text, text
            assert "restore it from a backup" in text, text
    finally:
        h.cleanup()


if __name__ == "__main__":
    cplib.run_tests(globals())
