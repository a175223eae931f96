"""Drone uploads: what the Hive stores, what it refuses and when, and what a drone does then.

A real tide-control; real `tide-dataplane --hive` drones where a capture is needed, raw HTTP
with a drone token where the route's rules are checked. Proves:
  - a stored file never changes: the identical file again answers 200, another body 409, and
    the file on disk and its listed SHA-256 stay as first stored;
  - uploads count against max_size per link (each link's capture stops at max_size) and against
    the group's quota as they arrive, and dataset_bytes follows them; a path that is a
    directory, or under a file, is 409; a path outside the drone's links of the job is 403;
  - once a link has ended, its files are sealed (409), and a done job cannot be rewritten;
  - every refusal comes before the body: sent with "Expect: 100-continue", the final answer
    arrives instead of "100 Continue" and the body is never sent;
  - a drone gives up on a final refusal (413 here) after one attempt and the job fails at once
    with the Hive's reason, instead of retrying forever;
  - with the Hive's data disk full (a small tmpfs) the upload is refused 507 disk_full before
    its body and the job fails "disk full on the Hive", promptly;
  - a capture that fills its own disk fails "disk full", not with a path from its last line.
The tmpfs tests need root and mount(8); without them they say so and skip.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import (DEMO, ONLINE_WAIT, Drone, dataplane_from_argv, job,  # noqa: E402
                      online, puts_of, register, stop_when_written, wait_for, wait_job)

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)
KIB = 1024
MIB = 1024 * 1024


class Answer:
    def __init__(self, status, body, early):
        self.status, self.early = status, early   # early: answered before the body was sent
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def code(self):
        return ((self.json or {}).get("error") or {}).get("code")

    def __repr__(self):
        return "<%d%s %s>" % (self.status, " early" if self.early else "", self.json)


def read_head(s, buf):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before an answer: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), head.decode(), rest


def put(hive, token, job_id, path, body, sha=None, length=None):
    """PUT with Expect: 100-continue, as the drone does: the body only after "100 Continue" (or,
    from a server that ignores Expect, after 30 s of silence, as RFC 9110 allows)."""
    length = len(body) if length is None else length
    s = socket.create_connection(("127.0.0.1", hive.port), timeout=30)
    try:
        s.sendall(("PUT /api/v1/drones/upload/%d/%s HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Length: %d\r\nX-Tide-Sha256: %s\r\n"
                   "Expect: 100-continue\r\nConnection: close\r\n\r\n" % (
                       job_id, path, token, length,
                       sha or hashlib.sha256(body).hexdigest())).encode())
        try:
            status, head, rest = read_head(s, b"")
        except socket.timeout:
            status, head, rest = 100, "", b""
        s.settimeout(120)
        early = status != 100
        if not early:
            s.sendall(body)
            status, head, rest = read_head(s, rest)
        n = 0
        for line in head.split("\r\n"):
            if line.lower().startswith("content-length:"):
                n = int(line.split(":")[1])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Answer(status, rest[:n].decode(errors="replace"), early)
    finally:
        s.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    with open(path, "rb") as f:
        return sha256(f.read())


def listing(c, job_id):
    return {f["path"]: f for f in
            expect(c.get("/api/v1/jobs/%d/files" % job_id), 200).json["items"]}


def mount_tmpfs(path, size):
    """None once mounted, else why it could not be."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "needs root and mount(8)"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path],
                       capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else "mount failed: " + (r.stderr.strip() or "?")


def umount(path):
    if subprocess.run(["umount", path], capture_output=True, timeout=60).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=60)


def skip(name, why):
    print("skip %s: %s" % (name, why), flush=True)


def test_upload_rules():
    # no local drone; probe1 is registered but never runs: the test is the drone, with its token
    with Hive(BIN, args=["--local-links", "", "--drone-grace", "1d"]) as h:
        c = admin(h)
        tok = register(c, "probe1")["token"]
        con = h.db()
        con.execute("UPDATE drones SET links = '[{\"name\": \"p1\"}, {\"name\": \"p2\"}]'"
                    " WHERE name = 'probe1'")
        con.commit()
        j = expect(c.post("/api/v1/jobs", {"name": "sealed", "max_size": 1 * MIB,
                                            "max_duration": 3600,
                                            "links": ["probe1/p1", "probe1/p2"]}), 201).json
        jid = j["id"]
        # what the scheduler does when the drone starts the capture (it is offline, so the
        # test does it): both links run; drone_grace 1d keeps them running
        con.execute("UPDATE jobs SET state = 'running', started_at = 1 WHERE id = ?", (jid,))
        con.execute("UPDATE job_links SET state = 'running', started_at = 1 WHERE job_id = ?",
                    (jid,))
        con.commit()
        stored = os.path.join(h.data_dir, "jobs", str(jid), "shards", "probe1", "p1",
                              "000000.pcapng")
        first = os.urandom(600 * KIB)

        a = put(h, tok, jid, "shards/probe1/p1/000000.pcapng", first)
        assert a.status == 201 and not a.early, a
        # the same file again (a drone that lost the answer): acknowledged, not read again
        a = put(h, tok, jid, "shards/probe1/p1/000000.pcapng", first)
        assert a.status == 200 and a.early and a.json["already"] is True, a
        # ...also from a client that sends the body without asking first (older drones)
        r = cplib.as_token(h, tok).request(
            "PUT", "/api/v1/drones/upload/%d/shards/probe1/p1/000000.pcapng" % jid, raw=first,
            headers={"X-Tide-Sha256": sha256(first)})
        assert r.status == 200 and r.json["already"] is True, r
        # another body for it: refused before the body; nothing changes
        a = put(h, tok, jid, "shards/probe1/p1/000000.pcapng", os.urandom(600 * KIB))
        assert a.status == 409 and a.early and a.code() == "exists", a
        assert file_sha(stored) == sha256(first)
        # max_size counts per link: a second 600 KiB shard passes p1's 1 MiB; 5 MiB too
        a = put(h, tok, jid, "shards/probe1/p1/000001.pcapng", os.urandom(600 * KIB))
        assert a.status == 413 and a.early and a.code() == "max_size_exceeded", a
        a = put(h, tok, jid, "shards/probe1/p1/000001.pcapng", b"", sha="0" * 64,
                length=5 * MIB)
        assert a.status == 413 and a.early and a.code() == "max_size_exceeded", a
        # ...while p2's capture has a max_size of its own
        a = put(h, tok, jid, "shards/probe1/p2/000000.pcapng", os.urandom(600 * KIB))
        assert a.status == 201, a
        assert job(c, jid)["dataset_bytes"] == 1200 * KIB, job(c, jid)
        # paths: only this drone's links of the job; directories and files do not swap
        a = put(h, tok, jid, "shards/probe1/p9/000000.pcapng", b"x")
        assert a.status == 403 and a.early, a
        assert put(h, tok, jid, "shards/probe1/p1/sub/a", b"a").status == 201
        a = put(h, tok, jid, "shards/probe1/p1/sub", b"b")
        assert a.status == 409 and a.early and a.code() == "path_conflict", a
        a = put(h, tok, jid, "shards/probe1/p1/sub/a/b", b"c")
        assert a.status == 409 and a.early and a.code() == "path_conflict", a
        # the group's quota counts uploads as they arrive
        group = [g for g in expect(c.get("/api/v1/groups"), 200).json["items"]
                 if g["name"] == j["group"]][0]
        held = job(c, jid)["dataset_bytes"]
        expect(c.patch("/api/v1/groups/%d" % group["id"], {"quota_bytes": held + 100 * KIB}),
               200)
        a = put(h, tok, jid, "flows/probe1/p1.csv", os.urandom(200 * KIB))
        assert a.status == 507 and a.early and a.code() == "quota_exceeded", a
        assert put(h, tok, jid, "flows/probe1/p1.csv", os.urandom(50 * KIB)).status == 201
        expect(c.patch("/api/v1/groups/%d" % group["id"], {"quota_bytes": 0}), 200)

        # p1's capture ended: its files are sealed; p2's are not
        con.execute("UPDATE job_links SET state = 'done', ended_at = 1 WHERE job_id = ?"
                    " AND link = 'p1'", (jid,))
        con.commit()
        a = put(h, tok, jid, "shards/probe1/p1/000002.pcapng", b"late")
        assert a.status == 409 and a.early and a.code() == "link_ended", a
        assert put(h, tok, jid, "shards/probe1/p1/000000.pcapng", first).status == 200
        assert put(h, tok, jid, "manifests/probe1/p2.json", b"{}").status == 201

        # the whole job ends (the scheduler finalises it): nothing can be rewritten or added
        con.execute("UPDATE job_links SET state = 'done', ended_at = 1 WHERE job_id = ?",
                    (jid,))
        con.commit()
        con.close()
        done = wait_job(c, jid, ("done", "failed"))
        assert done["state"] == "done", done
        before = listing(c, jid)
        bytes_before = done["dataset_bytes"]
        for path, body in (("shards/probe1/p1/000000.pcapng", os.urandom(600 * KIB)),
                           ("shards/probe1/p2/000000.pcapng", b"rewritten"),
                           ("shards/probe1/p2/000009.pcapng", b"added")):
            a = put(h, tok, jid, path, body)
            assert a.status == 409 and a.early, (path, a)
        a = put(h, tok, jid, "shards/probe1/p2/000009.pcapng", b"", sha="0" * 64,
                length=5 * MIB)
        assert a.status == 409 and a.early and a.code() == "link_ended", a
        after = listing(c, jid)
        assert {p: f["sha256"] for p, f in after.items()} == \
            {p: f["sha256"] for p, f in before.items()}, (before, after)
        assert after["shards/probe1/p1/000000.pcapng"]["sha256"] == sha256(first)
        assert file_sha(stored) == sha256(first)
        assert job(c, jid)["dataset_bytes"] == bytes_before
        leftovers = [n for _, _, names in os.walk(os.path.join(h.data_dir, "jobs", str(jid)))
                     for n in names if n.startswith(".upload-")]
        assert not leftovers, leftovers


def test_drone_gives_up_on_a_final_refusal():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--local-links", "",
                         "--max-upload", "1M"]) as h:
        c = admin(h)
        probe = Drone(h, "probe1", register(c, "probe1")["token"], ["p1=pcap:" + DEMO],
                      DATAPLANE).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            j = expect(c.post("/api/v1/jobs", {"name": "big", "max_size": 64 * MIB,
                                                "max_duration": 600,
                                                "links": ["probe1/p1"]}), 201).json
            stop_when_written(c, j["id"], 2 * MIB)  # a shard larger than max_upload
            j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
            assert j["state"] == "failed", j
            assert j["reason"].startswith("probe1/p1: upload refused by the Hive (HTTP 413 "
                                          "body_too_large)"), j
            tried = puts_of(h, j["id"], "shards/probe1/p1/000000.pcapng")
            assert len(tried) == 1 and " 413 " in tried[0], tried
            assert "not retried" in probe.log_text()
        finally:
            probe.stop()


def test_hive_disk_full():
    tmp = tempfile.mkdtemp(prefix="tide-diskfull-")
    mnt = os.path.join(tmp, "mnt")
    why = mount_tmpfs(mnt, "32m")
    if why:
        shutil.rmtree(tmp, ignore_errors=True)
        return skip("test_hive_disk_full", why)
    try:
        with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--local-links", ""],
                  data_dir=os.path.join(mnt, "data")) as h:
            c = admin(h)
            probe = Drone(h, "probe1", register(c, "probe1")["token"], ["p1=pcap:" + DEMO],
                          DATAPLANE).start()  # its spool is on the ordinary disk
            try:
                wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
                j = expect(c.post("/api/v1/jobs", {"name": "too big", "max_size": 128 * MIB,
                                                    "max_duration": 600,
                                                    "links": ["probe1/p1"]}), 201).json
                free = shutil.disk_usage(mnt).free
                stop_when_written(c, j["id"], 34 * MIB)  # more than the whole tmpfs
                j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
                assert j["state"] == "failed", j
                assert j["reason"].startswith("probe1/p1: disk full on the Hive: "), j
                tried = puts_of(h, j["id"], "shards/probe1/p1/000000.pcapng")
                assert len(tried) == 1 and " 507 " in tried[0] and "disk_full" in tried[0], \
                    tried
                # refused before its body: nothing of it reached the disk
                assert shutil.disk_usage(mnt).free > free - 2 * MIB
                leftovers = [n for _, _, names in os.walk(os.path.join(h.data_dir, "jobs"))
                             for n in names if n.startswith(".upload-")]
                assert not leftovers, leftovers
            finally:
                probe.stop()
    finally:
        umount(mnt)
        shutil.rmtree(tmp, ignore_errors=True)


def test_capture_disk_full_reason():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--local-links", ""]) as h:
        c = admin(h)
        probe = Drone(h, "probe1", register(c, "probe1")["token"], ["p1=pcap:" + DEMO],
                      DATAPLANE).start()
        mnt = None
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            # the first job's capture directory, a small file system of its own (mounted once
            # the drone is up, so it is not taken for a capture left by an earlier drone); the
            # capture's log stays beside it on the ordinary disk
            mnt = os.path.join(probe.spool, "1-p1")
            why = mount_tmpfs(mnt, "4m")
            if why:
                mnt = None
                return skip("test_capture_disk_full_reason", why)
            j = expect(c.post("/api/v1/jobs", {"name": "fills its disk", "max_size": 256 * MIB,
                                                "max_duration": 600,
                                                "links": ["probe1/p1"]}), 201).json
            assert j["id"] == 1, j
            j = wait_job(c, j["id"], ("done", "failed", "cancelled"))
            assert j["state"] == "failed" and j["reason"] == "probe1/p1: disk full", j
        finally:
            probe.stop()
            if mnt:
                umount(mnt)


cplib.run_tests(globals())
