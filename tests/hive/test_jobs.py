#!/usr/bin/env python3
"""Capture jobs on the local drone, end to end: tide-control runs the real tide-dataplane.

Proves: a bad filter is refused with libpcap's message (validate endpoint and job creation);
a job runs pending → running → done with counters, a dataset holding manifest.json, a shard and
flows/local.csv, and exports its flow records as they end to an IPFIX collector on 127.0.0.1
(observation domain = the job id; every record sent is received, and the link's manifest and
the job's link counters count them: sent, lost_queue_full, lost_collector); a job keeping only
DNS sessions (apps) is refused for a name the drone does not know, in the dataplane's words,
and otherwise runs: its link's ended counters and its manifest carry the same "selection"
report (sessions selected and left out, packets left out = the link's unselected counter,
counted inside filtered); a downloaded shard matches the manifest's sha256; Range answers 206 with the
right bytes; no traversal (.., encoded .., absolute paths, planted symlinks) reaches anything
outside the walked dataset; owners see their jobs, others only with jobs.read_all; a stopped job
ends done with stop reason "signal"; a second job queues behind the first and can be cancelled;
a kill -9 of tide-control mid-job leaves the job failed "control plane restarted" and no
dataplane behind; GET /jobs/{id}/archive streams the whole dataset (tar and tar.gz, chunked)
whose members match the listing and the manifest's sha256, 404 out of scope, 409 while running;
a job with a post-processing script goes processing → done, its processed/ output (capinfos of
the shards) is listed and downloadable and its script log served; a script trying to reach a
listener on the host's loopback fails "script exited 1" and the listener sees nothing; a job's
processing does not hold up the next job's capture; delete removes the script and its log;
?state= filters, and an over-long, unknown or empty state, an unknown or repeated parameter is
400 (never an unfiltered list); with 65,536 files in processed/ a download opens its path
without walking the dataset (well under the time of one listing), the ended job's listing is
kept and follows every change, and links, FIFOs, dot-names, directories and paths too deep
are still refused.
"""
import hashlib
import io
import json
import os
import socket
import sys
import tarfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, expect, login, make_group, make_user  # noqa: E402
import collectors  # noqa: E402
import ipfixio  # noqa: E402

BIN = cplib.binary_from_argv()
DATAPLANE = None
if "--dataplane" in sys.argv:
    i = sys.argv.index("--dataplane")
    DATAPLANE = os.path.abspath(sys.argv[i + 1])
    del sys.argv[i:i + 2]
else:
    DATAPLANE = os.path.join(os.path.dirname(BIN), "tide-dataplane")

JOB_WAIT = 90.0  # generous: the suite runs on 2 busy cores with ASan
_hive = None
_users = {}


def hive():
    global _hive
    if _hive is None:
        _hive = Hive(BIN, args=["--dataplane-path", DATAPLANE]).start()
        a = admin(_hive)
        make_user(a, "alice")
        make_user(a, "bob")
        make_group(a, "auditors", ["jobs.read", "jobs.read_all"])
        make_user(a, "carol", groups=["auditors"])
        for name in ("alice", "bob", "carol"):
            _users[name] = login(_hive, name, "password-123")
    return _hive


def user(name):
    hive()
    return _users[name]


def wait_state(c, job_id, states, timeout=JOB_WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = expect(c.get("/api/v1/jobs/%d" % job_id), 200)
        if r.json["state"] in states:
            return r.json
        time.sleep(0.2)
    raise AssertionError("job %d not in %s after %ss: %r" % (job_id, states, timeout, r.json))


def create(c, **kw):
    body = {"name": "test job", "max_size": 8 << 20, "max_duration": 3}
    body.update(kw)
    return expect(c.post("/api/v1/jobs", body), 201).json


def test_links_and_filter_validation():
    c = user("alice")
    # the local drone dials in once its dataplane is up: seconds, tens of them under ASan on
    # busy cores (dronelib.ONLINE_WAIT)
    deadline = time.monotonic() + 120
    while True:
        r = expect(c.get("/api/v1/links"), 200)
        if r.json["items"] and r.json["items"][0]["state"] == "online" or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(l["drone"], l["name"], l["state"], l["busy"]) for l in r.json["items"]] == \
        [("local", "demo", "online", False)], r.json
    expect(c.post("/api/v1/jobs/validate", {"filter": "udp port 53"}), 200)
    assert c.post("/api/v1/jobs/validate", {"filter": "udp port 53"}).json == {"valid": True}
    r = expect(c.post("/api/v1/jobs/validate", {"filter": "udp prt 53"}), 422, "invalid_filter")
    assert "syntax error" in r.json["error"]["message"], r.json
    r = expect(c.post("/api/v1/jobs", {"name": "bad", "filter": "udp prt 53", "max_size": 1 << 20,
                                        "max_duration": 3}), 422, "invalid_filter")
    assert "syntax error" in r.json["error"]["message"], r.json
    # filters are one argv element, never a shell word
    r = expect(c.post("/api/v1/jobs/validate", {"filter": "udp; touch /tmp/tide-pwned"}), 422)
    assert not os.path.exists("/tmp/tide-pwned")
    # bounds and unknown links
    expect(c.post("/api/v1/jobs", {"name": "x", "max_size": 1, "max_duration": 3}), 400)
    expect(c.post("/api/v1/jobs", {"name": "x", "max_size": 1 << 20, "max_duration": 0}), 400)
    expect(c.post("/api/v1/jobs", {"name": "x", "max_size": 1 << 20, "max_duration": 3,
                                   "snaplen": 10}), 400)
    expect(c.post("/api/v1/jobs", {"name": "x", "max_size": 1 << 20, "max_duration": 3,
                                   "link": "eth0"}), 422, "unknown_link")
    expect(c.post("/api/v1/jobs", {"name": "x\u0000y", "max_size": 1 << 20,
                                   "max_duration": 3}), 400)
    # no job was created by any of these
    assert expect(c.get("/api/v1/jobs"), 200).json["items"] == []


def test_job_dataset_download_and_scope():
    h = hive()
    c = user("alice")
    # the job also exports its flow records, as they end, to a collector (IPFIX over UDP)
    col = collectors.UdpCollector()
    col.start()
    try:
        job = create(c, name="dns", filter="udp port 53", classify=True,
                     export="ipfix://127.0.0.1:%d" % col.port)
        assert job["state"] in ("pending", "running"), job
        assert job["export"] == "ipfix://127.0.0.1:%d" % col.port, job
        job = wait_state(c, job["id"], ("done", "failed"))
    finally:
        col.stop.set()
        col.join(5)
    assert job["state"] == "done", job
    reader = ipfixio.Reader()
    records = [r for d in col.datagrams for r in reader.feed(d)]
    assert records and reader.domains == {job["id"]}, (len(records), reader.domains)
    assert "DNS" in {r.get((0, 96)) for r in records}, records[:3]   # applicationName
    # every record sent or counted lost, in the link's manifest and in the job's link counters
    man = json.loads(download(h, c, "/api/v1/jobs/%d/files/manifests/local/demo.json" % job["id"]))
    x = man["export"]
    assert x == {"destination": job["export"], "sent": len(records), "lost_queue_full": 0,
                 "lost_collector": 0}, (x, len(records))
    assert job["links"][0]["counters"]["export"] == x, job["links"]
    assert job["counters"]["written"] > 0 and job["counters"]["bytes_written"] > 0, job
    files = expect(c.get("/api/v1/jobs/%d/files" % job["id"]), 200).json["items"]
    paths = [f["path"] for f in files]
    assert "manifest.json" in paths and "flows/local/demo.csv" in paths, paths
    assert "manifests/local/demo.json" in paths, paths
    # the Hive's manifest lists every uploaded file with the SHA-256 it computed on receipt
    man = json.loads(download(h, c, "/api/v1/jobs/%d/files/manifest.json" % job["id"]))
    listed = {f["file"]: f["sha256"] for f in man["files"]}
    for f in files:
        if f["path"] != "manifest.json":
            assert listed.get(f["path"]) == f["sha256"], (f, listed)
    assert man["links"][0]["drone"] == "local" and man["links"][0]["state"] == "done", man
    mix = expect(c.get("/api/v1/jobs/%d/apps" % job["id"]), 200).json
    apps = mix["items"]
    assert apps and apps[0]["app"] == "DNS" and apps[0]["sessions"] > 0, apps
    # the service mix, from flows/local/demo.csv.services.csv: the demo's names are under
    # no suffix of config/services.txt, so every session is in "unknown"
    assert "flows/local/demo.csv.services.csv" in paths, paths
    services = mix["services"]
    assert [s["service"] for s in services] == ["unknown"], services
    assert services[0]["sessions"] == sum(a["sessions"] for a in apps), (services, apps)
    assert services[0]["link_bytes"] == sum(a["link_bytes"] for a in apps), (services, apps)
    shards = [f for f in files if f["path"].startswith("shards/") and f["path"].endswith(".pcapng")]
    assert shards and shards[0]["sha256"], files
    shard = shards[0]
    raw = download(h, c, "/api/v1/jobs/%d/files/%s" % (job["id"], shard["path"]))
    assert len(raw) == shard["size"], (len(raw), shard)
    assert hashlib.sha256(raw).hexdigest() == shard["sha256"], shard
    # Range
    st, hdrs, part = download(h, c, "/api/v1/jobs/%d/files/%s" % (job["id"], shard["path"]),
                              headers={"Range": "bytes=100-1099"}, full=True)
    assert st == 206 and part == raw[100:1100], (st, len(part))
    assert hdrs.get("content-range") == "bytes 100-1099/%d" % len(raw), hdrs
    st, hdrs, part = download(h, c, "/api/v1/jobs/%d/files/%s" % (job["id"], shard["path"]),
                              headers={"Range": "bytes=-10"}, full=True)
    assert st == 206 and part == raw[-10:], st
    st, _, _ = download(h, c, "/api/v1/jobs/%d/files/%s" % (job["id"], shard["path"]),
                        headers={"Range": "bytes=%d-" % (len(raw) + 5)}, full=True)
    assert st == 416, st

    # traversal: nothing outside the walked dataset is ever served
    dataset = os.path.join(h.data_dir, "jobs", str(job["id"]))
    os.symlink(h.db_path, os.path.join(dataset, "evil.db"))
    os.symlink(h.data_dir, os.path.join(dataset, "shards", "up"))
    os.symlink("/etc", os.path.join(dataset, "flows", "etc"))
    base = "/api/v1/jobs/%d/files/" % job["id"]
    for p in ("../../tide.db", "%2e%2e/%2e%2e/tide.db", "%2E%2E%2F%2E%2E%2Ftide.db",
              "..%2f..%2ftide.db", "/etc/passwd", "%2fetc%2fpasswd", "//etc/passwd",
              "manifest.json/../../../tide.db", "evil.db", "shards/up/tide.db",
              "flows/etc/passwd", "./manifest.json", ".tide.lock", "nonexistent"):
        r = c.get(base + p)
        assert r.status == 404, (p, r)
    listed = [f["path"] for f in expect(c.get(base[:-1]), 200).json["items"]]
    assert not [p for p in listed if "evil" in p or p.startswith("shards/up")
                or p.startswith("flows/etc")], listed

    # scope: bob does not see alice's job, carol (jobs.read_all) does
    bob, carol = user("bob"), user("carol")
    expect(bob.get("/api/v1/jobs/%d" % job["id"]), 404)
    expect(bob.get(base + "manifest.json"), 404)
    expect(bob.get(base[:-1]), 404)
    expect(bob.post("/api/v1/jobs/%d/stop" % job["id"]), 404)
    expect(bob.delete("/api/v1/jobs/%d" % job["id"]), 404)
    assert all(j["id"] != job["id"] for j in expect(bob.get("/api/v1/jobs"), 200).json["items"])
    expect(carol.get("/api/v1/jobs/%d" % job["id"]), 200)
    expect(carol.get(base + "manifest.json"), 200)
    assert any(j["id"] == job["id"] for j in expect(carol.get("/api/v1/jobs"), 200).json["items"])
    expect(carol.post("/api/v1/jobs", {"name": "x", "max_size": 1 << 20, "max_duration": 3}), 403)

    # sharing: a job created with "group" is seen and managed by that group's members
    shared = create(c, name="shared", filter="tcp port 9", max_duration=600, group="users")
    assert shared["shared"] and shared["group"] == "users", shared
    expect(bob.get("/api/v1/jobs/%d" % shared["id"]), 200)
    expect(bob.post("/api/v1/jobs/%d/cancel" % shared["id"]), 200)
    expect(c.post("/api/v1/jobs", {"name": "x", "max_size": 1 << 20, "max_duration": 3,
                                   "group": "admins"}), 422, "unknown_group")

    # delete: ended jobs only; removes the dataset
    expect(c.delete("/api/v1/jobs/%d" % job["id"]), 204)
    expect(c.get("/api/v1/jobs/%d" % job["id"]), 404)
    assert not os.path.exists(dataset)
    actions = [a["action"] for a in cplib.audit_rows(h)]
    assert "job.create" in actions and "job.delete" in actions, actions


def test_job_selecting_applications():
    h = hive()
    c = user("alice")
    # a name the local drone's classifier tables do not know: its own words, nothing created
    before = len(expect(c.get("/api/v1/jobs"), 200).json["items"])
    r = expect(c.post("/api/v1/jobs", {"name": "typo", "max_size": 8 << 20, "max_duration": 3,
                                       "classify": True, "apps": ["QIUC"]}), 400,
               "invalid_field")
    assert r.json["error"]["message"].startswith(
        "'apps' 'QIUC' is neither an application (tide_apps.txt) nor a service"), r.json
    assert len(expect(c.get("/api/v1/jobs"), 200).json["items"]) == before
    # the demo link carries DNS and more: only the DNS sessions are kept
    job = create(c, name="dns only", classify=True, apps=["DNS"])
    assert (job["apps"], job["apps_undecided"]) == (["DNS"], "drop"), job
    job = wait_state(c, job["id"], ("done", "failed"))
    assert job["state"] == "done", job
    lc = job["links"][0]["counters"]
    sel = lc.get("selection")
    assert sel and sel["apps"] == ["DNS"] and sel["undecided"] == "drop", lc
    assert sel["sessions"]["selected"] > 0 and sel["sessions"]["unselected"] > 0, sel
    # left out on purpose: counted in filtered, never as a drop
    assert sel["packets_unselected"] == lc["unselected"] > 0, (sel, lc)
    assert lc["unselected"] <= lc["filtered"], lc
    assert job["counters"]["unselected"] == lc["unselected"], job["counters"]
    man = json.loads(download(h, c, "/api/v1/jobs/%d/files/manifests/local/demo.json"
                              % job["id"]))
    assert man["selection"] == sel, (man.get("selection"), sel)


def download(h, c, path, headers=None, full=False, token=None):
    """Binary GET (Client decodes text); returns the body, or (status, headers, body)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    hd = {"Authorization": "Bearer " + token} if token else {"Cookie": c.cookie}
    hd.update(headers or {})
    try:
        conn.request("GET", path, headers=hd)
        r = conn.getresponse()
        body = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        status = r.status
    finally:
        conn.close()
    if full:
        return status, hdrs, body
    assert status == 200, (status, body[:200])
    return body


def test_stop_concurrent_and_cancel():
    c = user("alice")
    long_job = create(c, name="long", filter="tcp port 9", max_duration=600)
    wait_state(c, long_job["id"], ("running",))
    # the job runs once its capture receives: a DPDK start can take seconds on busy cores,
    # and a stop before it would be "stopped before the capture started", not a signal
    deadline = time.monotonic() + JOB_WAIT
    while expect(c.get("/api/v1/jobs/%d" % long_job["id"]), 200).json["counters"].get(
            "received", 0) == 0:
        assert time.monotonic() < deadline, "the capture received nothing in %ss" % JOB_WAIT
        time.sleep(0.2)
    # a second job on the same link runs beside it (the link has job slots), and cancelling
    # it does not disturb the first
    second = create(c, name="beside", filter="udp port 53", max_duration=600)
    wait_state(c, second["id"], ("running",))
    assert expect(c.get("/api/v1/jobs/%d" % long_job["id"]), 200).json["state"] == "running"
    expect(c.delete("/api/v1/jobs/%d" % long_job["id"]), 409, "invalid_state")
    expect(user("bob").post("/api/v1/jobs/%d/cancel" % second["id"]), 404)
    r = expect(c.post("/api/v1/jobs/%d/cancel" % second["id"]), 200)
    assert r.json["state"] == "cancelled", r.json
    expect(c.post("/api/v1/jobs/%d/cancel" % second["id"]), 409, "invalid_state")
    seen = expect(c.get("/api/v1/jobs/%d" % long_job["id"]), 200).json["counters"]["received"]
    deadline = time.monotonic() + JOB_WAIT
    while expect(c.get("/api/v1/jobs/%d" % long_job["id"]), 200).json["counters"][
            "received"] <= seen:
        assert time.monotonic() < deadline, "the first job stopped receiving after the cancel"
        time.sleep(0.2)
    r = expect(c.post("/api/v1/jobs/%d/stop" % long_job["id"]), 200)
    assert r.json["state"] in ("finishing", "done"), r.json
    job = wait_state(c, long_job["id"], ("done", "failed"), timeout=60)
    assert job["state"] == "done" and job["counters"]["stop_reason"] == "signal", job
    assert expect(c.get("/api/v1/jobs/%d" % second["id"]), 200).json["state"] == "cancelled"
    actions = [a["action"] for a in cplib.audit_rows(hive())]
    assert "job.stop" in actions and "job.cancel" in actions, actions


def manifest_shards(node, out):
    """{file: sha256} of every {"file", "sha256"} object anywhere in the manifest."""
    if isinstance(node, dict):
        if isinstance(node.get("file"), str) and isinstance(node.get("sha256"), str):
            out[node["file"]] = node["sha256"]
        for v in node.values():
            manifest_shards(v, out)
    elif isinstance(node, list):
        for v in node:
            manifest_shards(v, out)
    return out


def test_archive():
    h = hive()
    c = user("alice")
    tok = cplib.make_token(c, "archiver")["token"]
    job = create(c, name="archive", filter="udp port 53")
    base = "/api/v1/jobs/%d" % job["id"]
    st, _, _ = download(h, None, base + "/archive", token=tok, full=True)
    assert st == 409, st  # pending or running: no archive yet
    job = wait_state(c, job["id"], ("done", "failed"))
    assert job["state"] == "done", job
    listing = {f["path"]: f for f in expect(c.get(base + "/files"), 200).json["items"]}
    # a dot-file and a symlink in the dataset are in neither the listing nor the archive
    dataset = os.path.join(h.data_dir, "jobs", str(job["id"]))
    with open(os.path.join(dataset, ".hidden"), "w") as f:
        f.write("secret")
    os.symlink(h.db_path, os.path.join(dataset, "evil.db"))
    for fmt, mode in ((None, "r:"), ("tar", "r:"), ("tar.gz", "r:gz")):
        path = base + "/archive" + ("?format=" + fmt if fmt else "")
        st, hdrs, raw = download(h, None, path, token=tok, full=True)
        assert st == 200, (st, raw[:200])
        assert hdrs.get("transfer-encoding") == "chunked", hdrs
        assert hdrs.get("content-type") == ("application/gzip" if fmt == "tar.gz"
                                            else "application/x-tar"), hdrs
        members = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode=mode) as t:
            for m in t.getmembers():
                assert m.isfile(), m.name
                assert m.name.startswith("job-%d/" % job["id"]), m.name
                members[m.name[len("job-%d/" % job["id"]):]] = t.extractfile(m).read()
        assert set(members) == set(listing), (sorted(members), sorted(listing))
        manifest = manifest_shards(json.loads(members["manifest.json"]), {})
        shards = [p for p in members if p.startswith("shards/")]
        assert shards and all(p in manifest for p in shards), (shards, manifest)
        for p, data in members.items():
            assert len(data) == listing[p]["size"], p
            if p in manifest:
                assert hashlib.sha256(data).hexdigest() == manifest[p] == listing[p]["sha256"], p
    st, _, _ = download(h, None, base + "/archive?format=zip", token=tok, full=True)
    assert st == 400, st
    # scope: another user's job is not found; jobs.read_all may
    st, _, _ = download(h, user("bob"), base + "/archive", full=True)
    assert st == 404, st
    st, _, _ = download(h, user("carol"), base + "/archive", full=True)
    assert st == 200, st
    rows = [a for a in cplib.audit_rows(h, "job.download") if a["target"] == "job:%d" % job["id"]]
    assert any(json.loads(a["detail"]).get("archive") == "tar.gz" for a in rows), rows


def test_post_processing_script():
    h = hive()
    c = user("alice")
    base_body = {"name": "x", "max_size": 1 << 20, "max_duration": 1}
    expect(c.post("/api/v1/jobs", dict(base_body, script="")), 400)
    expect(c.post("/api/v1/jobs", dict(base_body, script="true", script_timeout=0)), 400)
    expect(c.post("/api/v1/jobs", dict(base_body, script="true", script_timeout=3601)), 400)
    expect(c.post("/api/v1/jobs", dict(base_body, script="x" * 65537)), 400)

    script = ("capinfos /job/shards/*/*/*.pcapng > /job/processed/summary.txt; "
              "python3 -c \"print('ok')\"\n")
    job = create(c, name="summary", filter="udp port 53", max_duration=2, script=script)
    assert job["has_script"] is True and job["script_timeout"] == 300, job
    jobs_dir = os.path.join(h.data_dir, "jobs")
    sh = os.path.join(jobs_dir, "%d.sh" % job["id"])
    assert os.stat(sh).st_mode & 0o777 == 0o600
    job = wait_state(c, job["id"], ("done", "failed", "cancelled"), timeout=60)
    assert job["state"] == "done", job
    base = "/api/v1/jobs/%d" % job["id"]
    paths = [f["path"] for f in expect(c.get(base + "/files"), 200).json["items"]]
    assert "processed/summary.txt" in paths, paths
    summary = download(h, c, base + "/files/processed/summary.txt").decode()
    assert "Number of packets" in summary and ".pcapng" in summary, summary
    # the manifest is rewritten after the script: final state, processed/ with its SHA-256
    man = json.loads(download(h, c, base + "/files/manifest.json"))
    assert man["state"] == "done", man["state"]
    listed = {f["file"]: f for f in man["files"]}
    assert listed["processed/summary.txt"]["sha256"] == \
        hashlib.sha256(summary.encode()).hexdigest(), listed
    shown = {f["path"]: f for f in expect(c.get(base + "/files"), 200).json["items"]}
    assert shown["processed/summary.txt"]["sha256"] == listed["processed/summary.txt"]["sha256"]
    st, hdrs, log = download(h, c, base + "/script-log", full=True)
    assert st == 200 and b"ok" in log, (st, log)
    st, _, _ = download(h, user("bob"), base + "/script-log", full=True)
    assert st == 404, st
    # a job without a script has no script log
    plain = wait_state(c, create(c, name="plain", max_duration=1)["id"], ("done", "failed"))
    st, _, _ = download(h, c, "/api/v1/jobs/%d/script-log" % plain["id"], full=True)
    assert st == 404, st

    # no network: a listener on the host's loopback is out of reach
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]
    try:
        probe = ("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", %d), "
                 "timeout=2)'\n" % port)
        bad = create(c, name="probe", filter="tcp port 9", max_duration=1, script=probe)
        bad = wait_state(c, bad["id"], ("done", "failed", "cancelled"), timeout=60)
        assert bad["state"] == "failed" and bad["reason"] == "script exited 1", bad
        try:
            conn, peer = lsock.accept()
            conn.close()
            raise AssertionError("the script reached the host: %r" % (peer,))
        except BlockingIOError:
            pass
    finally:
        lsock.close()

    # the queue: a job's processing does not hold up the next capture
    slow = create(c, name="slow", filter="tcp port 9", max_duration=1, script="sleep 6\n")
    nxt = create(c, name="next", filter="tcp port 9", max_duration=1)
    wait_state(c, slow["id"], ("processing",), timeout=20)
    n = wait_state(c, nxt["id"], ("running", "finishing", "done", "failed"), timeout=5)
    assert n["state"] != "failed", n
    assert expect(c.get("/api/v1/jobs/%d" % slow["id"]), 200).json["state"] == "processing"
    expect(c.delete("/api/v1/jobs/%d" % slow["id"]), 409, "invalid_state")
    slow = wait_state(c, slow["id"], ("done", "failed"), timeout=30)
    assert slow["state"] == "done", slow

    # delete removes the script and its log with the dataset
    expect(c.delete(base), 204)
    for suffix in ("", ".sh", ".script.log"):
        assert not os.path.exists(os.path.join(jobs_dir, "%d%s" % (job["id"], suffix))), suffix


def timed_get(h, c, path):
    """(seconds, status, body bytes) of one GET, the body read whole but not parsed."""
    t0 = time.monotonic()
    st, _, body = download(h, c, path, full=True)
    return time.monotonic() - t0, st, body


def test_large_dataset_is_not_walked_per_request():
    h = hive()
    c = user("alice")
    job = create(c, name="big", filter="tcp port 9", max_duration=1)
    job = wait_state(c, job["id"], ("done", "failed", "cancelled"))
    base = "/api/v1/jobs/%d/files" % job["id"]
    dataset = os.path.join(h.data_dir, "jobs", str(job["id"]))
    processed = os.path.join(dataset, "processed")
    os.makedirs(processed, exist_ok=True)
    n = 65536
    for i in range(n):     # what a post-processing script may leave behind
        with open(os.path.join(processed, "f%05d.txt" % i), "w") as f:
            f.write("file %d\n" % i)

    # the listing walks all of them (the directory just changed, so nothing is kept yet)
    t_walk, st, body = timed_get(h, c, base)
    assert st == 200, st
    items = json.loads(body)["items"]
    assert sum(1 for x in items if x["path"].startswith("processed/f")) == n, len(items)
    # a single file is opened by its path: no walk, so far below one listing
    times = []
    for i in (0, 12345, 40000, 65535, 31337):
        t, st, got = timed_get(h, c, "%s/processed/f%05d.txt" % (base, i))
        assert st == 200 and got == b"file %d\n" % i, (st, got)
        times.append(t)
    t_file = sorted(times)[len(times) // 2]
    assert t_file * 5 < t_walk, "a download took %.3fs (median), a listing %.3fs" % (
        t_file, t_walk)

    # an ended job's listing is kept once its directories have settled; a change shows at once
    old = time.time() - 60
    for d in (dataset, processed, *[os.path.join(r, x) for r, ds, _ in os.walk(dataset)
                                    for x in ds]):
        os.utime(d, (old, old))
    t_first, _, first = timed_get(h, c, base)
    t_kept, _, kept = timed_get(h, c, base)
    assert kept == first and json.loads(kept)["items"] == items, "the kept listing differs"
    assert t_kept * 2 < max(t_first, t_walk), (t_kept, t_first, t_walk)
    with open(os.path.join(processed, "late.txt"), "w") as f:
        f.write("late\n")
    paths = [x["path"] for x in json.loads(timed_get(h, c, base)[2])["items"]]
    assert "processed/late.txt" in paths and len(paths) == len(items) + 1, len(paths)
    os.rename(os.path.join(processed, "f00007.txt"), os.path.join(processed, ".f00007.txt"))
    paths = [x["path"] for x in json.loads(timed_get(h, c, base)[2])["items"]]
    assert "processed/f00007.txt" not in paths, "a file gone is still listed"

    # and the walls stand without the walk: nothing but regular files under the dataset
    os.symlink("/etc/passwd", os.path.join(processed, "passwd"))
    os.symlink(h.data_dir, os.path.join(processed, "up"))
    os.mkfifo(os.path.join(processed, "fifo"))
    deep = os.path.join(processed, *["d"] * 9)
    os.makedirs(deep)
    with open(os.path.join(deep, "x.txt"), "w") as f:
        f.write("too deep\n")
    for p in ("processed/passwd", "processed/up/tide.db", "processed/fifo", "processed",
              "processed/.f00007.txt", "processed/f00007.txt", "processed/f00001.txt/x",
              "processed/" + "/".join(["d"] * 9) + "/x.txt", "../../tide.db",
              "processed/%2e%2e/manifest.json", ".tide.lock", "processed/F00001.TXT"):
        t0 = time.monotonic()
        r = c.get(base + "/" + p)
        assert r.status == 404, (p, r)
        assert time.monotonic() - t0 < 10, p      # a FIFO must not hang the worker
    listed = [x["path"] for x in expect(c.get(base), 200).json["items"]]
    assert not [p for p in listed if p.split("/")[-1] in ("passwd", "fifo") or "/up/" in p
                or p.endswith("d/x.txt")], listed
    st, _, _ = download(h, c, "%s/processed/f00002.txt" % base, full=True)
    assert st == 200, st


def test_list_filters_are_never_ignored():
    c = user("alice")
    job = create(c, name="to-cancel", filter="tcp port 9", max_duration=600)
    expect(c.post("/api/v1/jobs/%d/cancel" % job["id"]), 200)
    ids = lambda q: [j["id"] for j in expect(c.get("/api/v1/jobs" + q), 200).json["items"]]
    assert job["id"] in ids("?state=cancelled"), ids("?state=cancelled")
    assert job["id"] not in ids("?state=done")
    assert job["id"] in ids("?STATE=cancelled&limit=5")       # names as civetweb reads them
    # over-long (16+ bytes used to drop the filter), unknown, empty: 400 naming the states
    for q in ("?state=" + "x" * 16, "?state=" + "cancelled" * 8, "?state=bogus", "?state=",
              "?state=Cancelled"):
        r = expect(c.get("/api/v1/jobs" + q), 400, "invalid_parameter")
        msg = r.json["error"]["message"]
        assert "pending" in msg and "cancelled" in msg and "processing" in msg, (q, msg)
    # a typo or a second value never widens the answer
    for q in ("?stat=done", "?state=done&state=cancelled", "?limit=1&limit=2", "?state"):
        expect(c.get("/api/v1/jobs" + q), 400, "invalid_parameter")
    expect(c.get("/api/v1/jobs?limit=1001"), 400, "invalid_parameter")
    expect(c.get("/api/v1/jobs?offset=" + "9" * 30), 400, "invalid_parameter")
    a = admin(hive())
    expect(a.get("/api/v1/users?ofset=1"), 400, "invalid_parameter")
    expect(a.get("/api/v1/groups?limit=2&offset=0"), 200)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def capture_pids(data_dir):
    """The live local drone (one tide-dataplane process that runs every capture) spooling under
    data_dir."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--hive" in argv and any(data_dir.encode() in a for a in argv):
            pids.append(int(d))
    return pids


def test_kill9_mid_job():
    # drone_grace well above a drone's start-up: the restarted local drone (an ASan build on
    # busy cores takes tens of seconds, ONLINE_WAIT at most) must report its capture before
    # the Hive gives the drone up as lost, which would be the wrong reason
    with Hive(BIN, args=["--dataplane-path", DATAPLANE, "--drone-grace", "300s"]) as h:
        c = admin(h)
        job = create(c, name="doomed", filter="tcp port 9", max_duration=600)
        wait_state(c, job["id"], ("running",))
        deadline, pids = time.monotonic() + 10, []
        while not pids and time.monotonic() < deadline:
            pids = capture_pids(h.data_dir)
            time.sleep(0 if pids else 0.05)
        assert pids and all(pid_alive(p) for p in pids), pids
        h.kill9()
        deadline = time.monotonic() + 10
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(pid_alive(p) for p in pids), "capture %s outlived the control plane" % pids
        h.start()
        c = admin(h)
        # the restarted local drone finds the capture's spool and reports it; the job fails
        # with a reason that says why, instead of hanging in running
        job = wait_state(c, job["id"], ("failed",), timeout=120 + 60)
        assert "restarted" in job["reason"], job
        assert job["links"][0]["state"] == "failed", job


try:
    cplib.run_tests(globals())
finally:
    if _hive is not None:
        _hive.cleanup()
