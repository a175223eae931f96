#!/usr/bin/env python3
"""The Python client (scripts/tideclient.py) and the anomaly example against a real Hive.

Proves: the client lists links, refuses a bad filter with libpcap's message (TideError 422
invalid_filter) before creating anything, starts a job with a filter and limits given as "8M"
and "10m", stops it, waits for it, downloads the archive and extracts exactly the listed files
with their sha256; a single file resumes from a .part with Range; the capture() context manager
stops its job; a bad token raises 401 invalid_token, an unknown job 404, an unreachable server
status 0; sizes and durations parse; a job keeping only some applications (apps, a list or
"DNS, QUIC") passes them and their bounds through and implies classify, an unknown name raises
400 invalid_field in the drone's words (validate_filter too) and nothing is created, an
explicit classify=False and a bad apps_undecided are the server's refusals. scripts/examples/anomaly_capture.py runs the seed's
scenario end to end (simulated detector, and JSON events on stdin) and prints a dataset path
whose files match the listing.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from clilib import ROOT, SCRIPTS, env, finish

sys.path.insert(0, SCRIPTS)
import tideclient  # noqa: E402
from tideclient import Client, TideError  # noqa: E402


def client():
    e = env()
    return Client(e.server, e.token, timeout=30)


def sha_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect_error(fn, status, code=None):
    try:
        fn()
    except TideError as err:
        assert err.status == status and (code is None or err.code == code), (err.status, err.code)
        return err
    raise AssertionError("no TideError %s" % status)


def test_units():
    """The client's mirror of the size/duration grammar agrees with every example of
    tests/data/units.tsv, the table the C parser (dataplane/util/tide_units.c) is held to."""
    rows = 0
    with open(os.path.join(ROOT, "tests", "data", "units.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            kind, text, want = line.rstrip("\n").split("\t")
            parse = tideclient.parse_size if kind == "size" else tideclient.parse_duration
            try:
                got = str(parse(text))
            except ValueError:
                got = "error"
            assert got == want, (kind, text, got, want)
            rows += 1
    assert rows >= 30, rows
    assert tideclient.parse_size(1234) == 1234 and tideclient.parse_duration(90) == 90


def test_job_stop_wait_download():
    t = client()
    links = t.links()
    assert "local/demo" in [link["id"] for link in links], links
    before = len(t.jobs())
    err = expect_error(lambda: t.create_job("bad", links=["local/demo"], filter="udp prt 53",
                                            max_size="8M", max_duration="10m"), 422, "invalid_filter")
    assert "syntax error" in err.message
    assert len(t.jobs()) == before
    # flow export needs classification: the server names the field and why
    err = expect_error(lambda: t.create_job("x", links=["local/demo"], max_size="8M",
                                            max_duration="10m", export="ipfix://127.0.0.1"),
                       400, "invalid_field")
    assert err.message.startswith("'export' needs classify"), err.message
    job = t.create_job("pyclient", links=["local/demo"], filter="udp port 53", max_size="2G",
                       max_duration="10m", classify=True, export="json+udp://127.0.0.1:9")
    assert job["filter"] == "udp port 53" and job["max_size"] == 2 << 30, job
    assert job["export"] == "json+udp://127.0.0.1:9", job
    assert job["max_duration"] == 600 and job["classify"] is True, job
    t.wait(job["id"], states=("running",), timeout=60, interval=0.2)
    env().wait_capturing(job["id"])   # see clilib.Env.wait_capturing
    t.stop(job["id"])
    job = t.wait(job["id"], timeout=60, interval=0.2)
    assert job["state"] == "done" and job["counters"]["stop_reason"] == "signal", job
    listing = {f["path"]: f for f in t.files(job["id"])}
    out = os.path.join(env().home, "py-datasets")
    path = t.download(job["id"], out, fmt="tar.gz")
    assert path == os.path.join(out, "job-%d" % job["id"]) and os.path.isdir(path)
    found = set()
    for root, _, names in os.walk(path):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), path)
            found.add(rel)
            if listing[rel]["sha256"]:
                assert sha_file(os.path.join(root, n)) == listing[rel]["sha256"], rel
    assert found == set(listing), (found, set(listing))
    # single file, resumed from a partial .part
    shard = next(f for f in listing.values() if f["path"].startswith("shards/"))
    dest = os.path.join(env().home, "py-one.pcapng")
    with open(os.path.join(path, shard["path"]), "rb") as f:
        head = f.read(shard["size"] // 2)
    with open(dest + ".part", "wb") as f:
        f.write(head)
    log_before = env().hive.log_text().count(" 206 ")
    t.download_file(job["id"], shard["path"], dest)
    assert sha_file(dest) == shard["sha256"] and not os.path.exists(dest + ".part")
    assert env().hive.log_text().count(" 206 ") > log_before, "no ranged request"
    t.delete(job["id"])
    expect_error(lambda: t.job(job["id"]), 404, "not_found")


def test_lookback_max_packets_and_drops():
    t = client()
    err = expect_error(lambda: t.create_job("lb", links=["local/demo"], max_size="8M",
                                            max_duration="2s", lookback="2h"), 400,
                       "invalid_field")
    assert "lookback_s" in err.message, err.message
    job = t.create_job("lb", links=["local/demo"], max_size="8M", max_duration="2s",
                       lookback="45s", max_packets=7)
    assert job["lookback_s"] == 45 and job["max_packets"] == 7, job
    job = t.wait(job["id"], timeout=90, interval=0.2)
    con = env().hive.db()
    con.execute("UPDATE jobs SET counters = json_set(counters, '$.drops_by_reason',"
                " json('{\"mbuf_alloc\": 3, \"ring_full\": 9, \"io_error\": 0}'))"
                " WHERE id = ?", (job["id"],))
    con.commit()
    con.close()
    drops = t.drops(job["id"])
    assert [(d[0], d[1]) for d in drops] == [("ring_full", 9), ("mbuf_alloc", 3)], drops
    assert drops[0][2].startswith("the writer could not keep up"), drops
    assert t.counter_registry() is t.counter_registry()      # fetched once


def test_selection_by_application():
    t = client()
    before = len(t.jobs())
    err = expect_error(lambda: t.create_job("x", links=["local/demo"], max_size="8M",
                                            max_duration="10m", apps=["DNS", "QIUC"]),
                       400, "invalid_field")
    assert err.message.startswith("'apps' 'QIUC' is neither an application"), err.message
    err = expect_error(lambda: t.validate_filter("udp", apps="QIUC"), 400, "invalid_field")
    assert "'QIUC' is neither an application" in err.message, err.message
    assert t.validate_filter("udp", apps=["DNS"]) is True
    assert t.validate_filter(None, apps=["DNS"]) is True
    # classify=False said on purpose is passed on, and the server says why it cannot be
    err = expect_error(lambda: t.create_job("x", links=["local/demo"], max_size="8M",
                                            max_duration="10m", apps="DNS", classify=False),
                       400, "invalid_field")
    assert err.message.startswith("'apps' needs classify"), err.message
    err = expect_error(lambda: t.create_job("x", links=["local/demo"], max_size="8M",
                                            max_duration="10m", apps="DNS",
                                            apps_undecided="maybe"), 400, "invalid_field")
    assert err.message.startswith("'apps_undecided' must be keep or drop"), err.message
    assert len(t.jobs()) == before, "a job was created"
    # apps alone implies classify; a string is split at its commas
    job = t.create_job("sel", links=["local/demo"], max_size="8M", max_duration="2s",
                       apps=" DNS, QUIC", apps_undecided="keep", apps_packets=20,
                       apps_wait="3s")
    assert job["classify"] is True and job["apps"] == ["DNS", "QUIC"], job
    assert (job["apps_undecided"], job["apps_packets"], job["apps_wait"]) == ("keep", 20, 3), job
    job = t.wait(job["id"], timeout=90, interval=0.2)
    assert job["state"] == "done", job


def test_capture_context_and_errors():
    t = client()
    with t.capture("ctx", links="demo", filter="udp port 53", max_size="2G",
                   max_duration="10m") as job:
        t.wait(job["id"], states=("running",), timeout=60, interval=0.2)
        env().wait_capturing(job["id"])
    job = t.wait(job["id"], timeout=60, interval=0.2)
    assert job["state"] == "done", job
    e = env()
    expect_error(lambda: Client(e.server, "tide_" + "x" * 43).links(), 401, "invalid_token")
    expect_error(lambda: t.stop(99999), 404)
    expect_error(lambda: Client("http://127.0.0.1:9", "tide_x").links(), 0, "unreachable")
    expect_error(lambda: t.download_file(job["id"], "nope", "/tmp/x"), 404)


def run_example(*args, stdin=None):
    e = env()
    envv = dict(os.environ, TIDE_SERVER=e.server, TIDE_TOKEN=e.token)
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "examples", "anomaly_capture.py")]
                          + list(args), capture_output=True, text=True, env=envv, input=stdin,
                          timeout=240)


def check_dataset(line_out):
    path = [ln.split("dataset: ", 1)[1] for ln in line_out.splitlines()
            if ln.startswith("dataset: ")]
    assert len(path) == 1, line_out
    path = path[0]
    jid = int(os.path.basename(path).split("-")[1])
    listing = client().files(jid)
    for f in listing:
        p = os.path.join(path, f["path"])
        assert os.path.getsize(p) == f["size"], f
        if f["sha256"]:
            assert sha_file(p) == f["sha256"], f
    assert any(f["path"] == "manifest.json" for f in listing)


def test_anomaly_example_simulated():
    out = os.path.join(env().home, "anomalies")
    r = run_example("--simulate", "2", "--link", "local/demo", "--filter", "udp", "--out", out,
                    "--max-size", "8M")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "capturing on local/demo as job" in r.stdout, r.stdout
    check_dataset(r.stdout)


def test_anomaly_example_events_on_stdin():
    e = env()
    out = os.path.join(e.home, "anomalies2")
    envv = dict(os.environ, TIDE_SERVER=e.server, TIDE_TOKEN=e.token)
    p = subprocess.Popen([sys.executable, os.path.join(SCRIPTS, "examples", "anomaly_capture.py"),
                          "--events", "-", "--out", out, "--max-size", "64M"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=envv)
    # the detector: an event for an unknown link, then an anomaly lasting about 3 s
    for ev in ({"event": "anomaly_start", "id": "a1", "link": "local/nosuch"},
               {"event": "anomaly_start", "id": "a2", "link": "local/demo", "filter": "tcp"}):
        p.stdin.write(json.dumps(ev) + "\n")
    p.stdin.flush()
    line = p.stdout.readline()    # "anomaly a2: capturing on local/demo as job N"
    assert "capturing on local/demo as job" in line, line
    e.wait_capturing(int(line.split()[-1]))
    time.sleep(1)
    p.stdin.write(json.dumps({"event": "anomaly_end", "id": "a2"}) + "\n")
    stdout, stderr = p.communicate(timeout=240)
    stdout = line + stdout
    assert p.returncode == 0, (stdout, stderr)
    assert "no link local/nosuch" in stderr, stderr
    assert "job" in stdout and "done" in stdout, stdout
    check_dataset(stdout)
    r = run_example("--events", "-", "--out", out, stdin="")
    assert r.returncode == 1, r      # no anomaly, no dataset


if __name__ == "__main__":
    finish(globals())
