#!/usr/bin/env python3
"""The always-on drone: one dataplane process whose jobs are added and removed live.

Proves, through the real Hive and one real drone process on replay-once pcap links
(`pcap:FILE,once,after=N,rate=R`: the file is replayed once, paced, from the N-th job on):
- two jobs with different filters run at once on one link, and each dataset holds exactly the
  packets `tcpdump -r FILE -w - EXPR` selects, byte for byte and in order;
- a third job, added while they run and asking for a look-back, holds the whole file: the
  link's look-back ring still had what was replayed before it started, and its link counters
  say how far back it reached; a fourth added at the same time without look-back holds only
  what came after its start (a strict suffix of the file);
- frames of 5,000 bytes on a pcap link are captured whole (net_pcap cannot loop frames larger
  than an mbuf: the drone gives such a link a pool of its own);
- all of it in one drone process: its pid never changes and it starts no child process;
- shards stream: with 1 MiB shards, closed shards are on the Hive, SHA-256 verified, while the
  job still runs; a drone killed (-9) mid-job leaves them there intact and the job fails with
  the reason "drone lost";
- flow records and the application mix describe the dataset: on a job that ends at its
  max_size (its writer drops what was in flight) and anonymises, the records' dataset_pkts and
  dataset_bytes add up exactly to the shards' IP packets and bytes, their addresses are the
  shards' (anonymised), and /apps gives dataset bytes with the link's beside;
- a bad parameter that reaches a drone (written into the Hive's database behind the REST
  edge's back) is refused by the drone's own contract check, naming the field;
- one failed link does not fail the job: the other link runs on to its limit and the job ends
  "partial", its reason naming the failed link, its dataset and manifest holding what the
  other link captured.
"""
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
import pcapio  # noqa: E402
from cplib import Hive, admin, expect  # noqa: E402
from dronelib import (DEMO, JOB_WAIT, ONLINE_WAIT, Drone, dataplane_from_argv, online,  # noqa: E402
                      register, wait_for, wait_job)

BIN = cplib.binary_from_argv()
DATAPLANE = dataplane_from_argv(BIN)
# the demo capture replayed once at 400 kbit/s: about 5 s, long enough for jobs added while
# it plays to start before it ends, on busy cores too
RATE = "400k"


def dataset_records(h, job_id, drone, link):
    d = os.path.join(h.data_dir, "jobs", str(job_id), "shards", drone, link)
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".pcapng"):
            out += [r.data for r in pcapio.read_records(os.path.join(d, name))]
    return out


def tcpdump_records(path, expr):
    tmp = tempfile.mkdtemp(prefix="tide-tcpdump-")
    try:
        out = os.path.join(tmp, "sel.pcap")
        subprocess.run(["tcpdump", "-r", path, "-w", out] + ([expr] if expr else []),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return [r.data for r in pcapio.read_records(out)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def children(pid):
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return r.stdout.split()


def job_body(name, link, **kw):
    body = {"name": name, "max_size": 64 << 20, "max_duration": 600, "links": [link]}
    body.update(kw)
    return body


def test_concurrent_jobs_lookback_and_jumbo_in_one_process():
    tmp = tempfile.mkdtemp(prefix="tide-always-on-")
    jumbo = os.path.join(tmp, "jumbo.pcap")
    frames = []
    for i in range(40):
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        payload = bytes((i + k) & 0xFF for k in range(5000 - 14 - 28))
        ip_len = 20 + 8 + len(payload)
        ip = bytes([0x45, 0, ip_len >> 8, ip_len & 0xFF, 0, i, 0, 0, 64, 17, 0, 0,
                    127, 0, 0, 1, 127, 0, 0, 2])
        udp = bytes([0x30, 0x39, 0x30, 0x3A, (8 + len(payload)) >> 8,
                     (8 + len(payload)) & 0xFF, 0, 0])
        frames.append(eth + ip + udp + payload)
    pcapio.write_pcap(jumbo, [(1_000_000_000 + i * 1000, f) for i, f in enumerate(frames)], 1)
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--local-links", ""]) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], [
            "p1=pcap:%s,once,after=2,rate=%s" % (DEMO, RATE),
            "big=pcap:%s,once,after=1" % jumbo], DATAPLANE).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            pid = probe.proc.pid
            # two jobs, two filters: the replay starts with the second
            a = expect(c.post("/api/v1/jobs", job_body("udp only", "probe1/p1",
                                                       filter="udp")), 201).json
            b = expect(c.post("/api/v1/jobs", job_body("tcp only", "probe1/p1",
                                                       filter="tcp")), 201).json
            wait_job(c, a["id"], ("running",))
            wait_job(c, b["id"], ("running",))
            # once packets flow, two more: one looking back, one not
            wait_for("the replay", lambda: expect(c.get("/api/v1/jobs/%d" % a["id"]), 200)
                     .json["counters"].get("received", 0) > 0)
            lb = expect(c.post("/api/v1/jobs", job_body("looks back", "probe1/p1",
                                                        lookback_s=600)), 201).json
            late = expect(c.post("/api/v1/jobs", job_body("no look-back", "probe1/p1")),
                          201).json
            big = expect(c.post("/api/v1/jobs", job_body("jumbo", "probe1/big")), 201).json
            ended = {}
            for j in (a, b, lb, late, big):
                ended[j["id"]] = wait_job(c, j["id"], ("done", "failed", "cancelled"))
                assert ended[j["id"]]["state"] == "done", ended[j["id"]]
            for j in (lb, late):
                # they ran while the replay did (else this test proves nothing)
                assert ended[j["id"]]["counters"]["stop_reason"] == "end of input", ended[j["id"]]

            assert dataset_records(h, a["id"], "probe1", "p1") == tcpdump_records(DEMO, "udp")
            assert dataset_records(h, b["id"], "probe1", "p1") == tcpdump_records(DEMO, "tcp")
            whole = tcpdump_records(DEMO, "")
            got = dataset_records(h, lb["id"], "probe1", "p1")
            assert got == whole, ("look-back dataset: %d packets, the file %d"
                                  % (len(got), len(whole)))
            back = ended[lb["id"]]["links"][0]["counters"]["lookback"]
            assert back["requested_s"] == 600 and 0 < back["reached_s"] < 600, back
            assert 0 < back["packets"] <= len(whole), back
            tail = dataset_records(h, late["id"], "probe1", "p1")
            assert 0 < len(tail) < len(whole) and tail == whole[len(whole) - len(tail):], \
                (len(tail), len(whole))
            assert "lookback" not in ended[late["id"]]["links"][0]["counters"]
            assert dataset_records(h, big["id"], "probe1", "big") == frames

            # one process all along
            assert probe.proc.poll() is None and probe.proc.pid == pid
            assert children(pid) == [], children(pid)
            assert "restarting" not in probe.log_text()
        finally:
            probe.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def test_shards_stream_and_survive_a_killed_drone():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--local-links", "",
                         "--drone-grace", "5s"]) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:%s,rate=8M" % DEMO],
                      DATAPLANE).start()
        try:
            wait_for("probe1", lambda: online(c, "probe1"), ONLINE_WAIT)
            job = expect(c.post("/api/v1/jobs", job_body("streams", "probe1/p1",
                                                         shard_size=1 << 20)), 201).json
            wait_job(c, job["id"], ("running",))
            shard_dir = os.path.join(h.data_dir, "jobs", str(job["id"]), "shards", "probe1",
                                     "p1")

            def stored():
                con = h.db()
                rows = con.execute("SELECT path, size, sha256 FROM job_files WHERE job_id = ?",
                                   (job["id"],)).fetchall()
                con.close()
                return [r for r in rows if r[0].endswith(".pcapng")]
            # two closed shards on the Hive while the job runs (8 Mbit/s: one every second)
            wait_for("two shards on the Hive", lambda: len(stored()) >= 2, JOB_WAIT)
            assert expect(c.get("/api/v1/jobs/%d" % job["id"]), 200).json["state"] == "running"
            probe.kill9()
            ended = wait_job(c, job["id"], ("failed", "done"))
            assert ended["state"] == "failed" and "lost" in ended["reason"], ended
            rows = stored()
            assert len(rows) >= 2, rows
            for path, size, sha in rows:
                f = os.path.join(h.data_dir, "jobs", str(job["id"]), path)
                with open(f, "rb") as fh:
                    data = fh.read()
                assert len(data) == size and hashlib.sha256(data).hexdigest() == sha, path
                assert size >= 900 << 10, (path, size)  # a closed shard, not a fragment
                pcapio.check_pcapng(f, tide_shard=True)
            assert not [n for n in os.listdir(shard_dir) if n.endswith(".part")]
        finally:
            probe.stop()


def test_one_failed_link_makes_a_partial_job():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--drone-grace", "3s"]) as h:
        c = admin(h)
        reg = register(c, "probe1")
        probe = Drone(h, "probe1", reg["token"], ["p1=pcap:%s,rate=8M" % DEMO],
                      DATAPLANE).start()
        try:
            wait_for("both drones", lambda: online(c, "probe1") and online(c, "local"),
                     ONLINE_WAIT)
            job = expect(c.post("/api/v1/jobs", {
                "name": "half", "max_size": 64 << 20, "max_duration": 20,
                "filter": "udp port 53", "links": ["local/demo", "probe1/p1"]}), 201).json
            wait_job(c, job["id"], ("running",))

            def both_capture():
                j = expect(c.get("/api/v1/jobs/%d" % job["id"]), 200).json
                return all(lk["counters"].get("packets", 0) > 0 for lk in j["links"])
            wait_for("packets on both links", both_capture, JOB_WAIT)
            probe.kill9()
            ended = wait_job(c, job["id"], ("done", "partial", "failed", "cancelled"))
            assert ended["state"] == "partial", ended
            assert ended["reason"].startswith("probe1/p1: drone probe1 lost"), ended
            links = {lk["link"]: lk for lk in ended["links"]}
            assert links["demo"]["state"] == "done", links
            assert links["demo"]["reason"] == "max duration reached", links
            assert links["p1"]["state"] == "failed", links
            files = expect(c.get("/api/v1/jobs/%d/files" % job["id"]), 200).json["items"]
            assert any(f["path"].startswith("shards/local/demo/") for f in files), files
            with open(os.path.join(h.data_dir, "jobs", str(job["id"]), "manifest.json")) as f:
                man = json.load(f)
            assert man["state"] == "partial", man
            expect(c.get("/api/v1/jobs?state=partial"), 200)
        finally:
            probe.stop()


def frame_ip(data):
    """(src, dst) of an Ethernet frame's IPv4/IPv6 header, or None."""
    off = 12
    et = int.from_bytes(data[off:off + 2], "big")
    while et in (0x8100, 0x88A8):
        off += 4
        et = int.from_bytes(data[off:off + 2], "big")
    off += 2
    if et == 0x0800:
        return (socket.inet_ntop(socket.AF_INET, data[off + 12:off + 16]),
                socket.inet_ntop(socket.AF_INET, data[off + 16:off + 20]))
    if et == 0x86DD:
        return (socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24]),
                socket.inet_ntop(socket.AF_INET6, data[off + 24:off + 40]))
    return None


def test_flow_records_agree_with_the_shards():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE]) as h:
        c = admin(h)
        wait_for("the local drone", lambda: online(c, "local"), ONLINE_WAIT)
        job = expect(c.post("/api/v1/jobs", {
            "name": "agrees", "max_size": 1 << 20, "max_duration": 120, "classify": True,
            "anonymise": True, "snaplen": 200, "links": ["local/demo"]}), 201).json
        ended = wait_job(c, job["id"], ("done", "partial", "failed", "cancelled"))
        assert ended["state"] == "done", ended
        base = os.path.join(h.data_dir, "jobs", str(job["id"]))
        recs = []
        shard_dir = os.path.join(base, "shards", "local", "demo")
        for name in sorted(os.listdir(shard_dir)):
            recs += pcapio.read_records(os.path.join(shard_dir, name))
        ip = [r for r in recs if frame_ip(r.data)]
        addrs = set(a for r in ip for a in frame_ip(r.data))
        with open(os.path.join(base, "flows", "local", "demo.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows, "no flow records"
        got_pkts = sum(int(r["dataset_pkts"]) for r in rows)
        got_bytes = sum(int(r["dataset_bytes"]) for r in rows)
        assert (got_pkts, got_bytes) == (len(ip), sum(len(r.data) for r in ip)), \
            (got_pkts, got_bytes, len(ip), sum(len(r.data) for r in ip), ended["counters"])
        for r in rows:
            assert int(r["dataset_pkts"]) + int(r["dropped_pkts"]) == \
                int(r["pkts_fwd"]) + int(r["pkts_bwd"]), r
            assert r["src_ip"] in addrs and r["dst_ip"] in addrs, r
        apps = expect(c.get("/api/v1/jobs/%d/apps" % job["id"]), 200).json["items"]
        assert sum(a["bytes"] for a in apps) == got_bytes, apps
        assert all(a["link_bytes"] >= a["bytes"] for a in apps), apps


def test_the_drone_checks_the_contract_too():
    with Hive(BIN, args=["--dataplane-path", DATAPLANE]) as h:
        c = admin(h)
        wait_for("the local drone", lambda: online(c, "local"), ONLINE_WAIT)
        con = h.db()
        now = int(time.time() * 1000)
        con.execute("INSERT INTO jobs (id, name, owner_id, owner, filter, max_size, max_duration,"
                    " snaplen, link, state, created_at) VALUES (7, 'behind the edge', 1, 'admin',"
                    " '', 1048576, 60, 5, 'demo', 'pending', ?)", (now,))
        con.execute("INSERT INTO job_links (job_id, drone, link) VALUES (7, 'local', 'demo')")
        con.commit()
        con.close()
        ended = wait_job(c, 7, ("done", "partial", "failed", "cancelled"))
        assert ended["state"] == "failed" and "snaplen" in ended["reason"], ended


cplib.run_tests(globals())
