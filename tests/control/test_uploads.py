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
    arrives instead of "100 Continue" and the body is never sent.
"""

import hashlib
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cplib  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import dataplane_from_argv, job, register, wait_job  # noqa: E402

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


cplib.run_tests(globals())
