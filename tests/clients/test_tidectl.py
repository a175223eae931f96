#!/usr/bin/env python3
"""tidectl against a real tide-control and its local drone: every subcommand's success path and
its error path, and the exit codes scripts rely on.

Proves: --help works for the program and every subcommand, unknown commands and options exit 2;
the token comes from --token, TIDE_TOKEN or a 0600 config file, a config file readable by others
is refused (3) and no token is ever echoed; a bad token exits 3, an unreachable server 6, an
unknown job 4, a bad filter 7 with libpcap's message before anything is created; an application
list outside the one grammar (tide_job.h) exits 2 without contacting the server, an unknown name
7 with the drone's words before anything is created (--check-only too); a job made with
every option of the web form carries them all (--apps and its bounds included), waits to done,
lists its files, shows its script log and what its selection kept; wait times out (9) and tells a job that ended otherwise (10); stop/cancel/delete and their
conflicts (5); the archive and single files download verified; users, groups, tokens (create,
--save, revoke), login (token saved 0600), logs, audit and their permission errors; links,
drones and tune (against the drone contract when the server has it, a clear 4 when not); https
verifies the server's certificate and name (--cacert; untrusted exits 6); the bash completion
completes commands, and tune keys as `tidectl tune --help` lists them.
"""
import json
import os
import re
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from clilib import ROOT, env, finish


def test_help_and_usage():
    e = env()
    r = e.ok("--help")
    cmds = []
    for line in r.out.split("commands:")[1].split("global options")[0].splitlines():
        if line.startswith("  ") and line.strip():
            cmds.append(line.strip().split("  ")[0].split())
    assert ["jobs", "create"] in cmds and ["top"] in cmds and ["tune"] in cmds, cmds
    assert len(cmds) >= 30, cmds
    for words in cmds:
        h = e.ok(*(words + ["--help"]))
        assert h.out.startswith("usage: tidectl " + " ".join(words)), (words, h.out[:200])
        assert "exit codes:" in h.out, words
    e.fails(2, "frobnicate")
    e.fails(2, "jobs")                      # a group needs a subcommand
    e.fails(2, "jobs", "frob")
    e.fails(2, "jobs", "list", "--bogus")
    e.fails(2, "jobs", "show")              # missing id
    e.fails(2, "jobs", "show", "abc")
    e.fails(2, "jobs", "create", "x", "--max-size", "12Q", "--max-duration", "1m")
    e.fails(2, "jobs", "create", "x", "--max-size", "1G", "--max-duration", "soon")
    e.fails(2, "jobs", "create", "x")       # limits are required
    # a destination outside the one grammar (tide_export.h): refused before any request
    r = e.fails(2, "jobs", "create", "x", "-s", "1G", "-t", "1m", "--classify", "--export",
                "http://127.0.0.1:4739")
    assert "--export: export destination 'http://127.0.0.1:4739' wants ipfix://" in r.err, r
    # an application list outside the one grammar (tide_job_apps_parse): refused before any
    # request — a server nothing listens on would make it exit 6
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    create = ("--server", dead, "jobs", "create", "x", "-s", "1G", "-t", "1m")
    for apps, words in (("QUIC,,DNS", "--apps: an empty name in the list"),
                        ("QUIC,", "--apps: an empty name in the list"),
                        ("Q UIC", "--apps: 'Q UIC' is not an application or service name"),
                        ("QUIC, quic", "--apps: 'quic' is named twice"),
                        (",".join("A%d" % i for i in range(17)), "--apps: at most 16 names")):
        r = e.fails(2, *(create + ("--apps", apps)))
        assert words in r.err, (apps, r)
    # and the contract's checks of the whole job (--apps implies --classify)
    r = e.fails(2, *(create + ("--apps", "QUIC", "--session-type", "host")))
    assert "'apps' needs flow or biflow sessions" in r.err, r
    r = e.fails(2, *(create + ("--apps", "QUIC", "--apps-undecided", "maybe")))
    assert "'apps_undecided' must be keep or drop" in r.err, r
    r = e.fails(2, *(create + ("--apps", "QUIC", "--apps-packets", "0")))
    assert "'apps_packets' must be 1-255" in r.err, r
    r = e.fails(2, *(create + ("--apps", "QUIC", "--apps-wait", "10m")))
    assert "'apps_wait' must be 1-300" in r.err, r
    e.fails(6, *(create + ("--apps", "QUIC")))   # a good list does reach for the server
    r = e.ok("version")
    assert "tidectl 0.1.0" in r.out and "tide-control" in r.out, r


def test_token_sources_and_config_file():
    e = env()
    r = e.fails(3, "jobs", "list", token=False)
    assert "no token" in r.err, r
    r = e.fails(3, "jobs", "list", token="tide_" + "A" * 43)
    assert "invalid_token" in r.err, r
    e.fails(3, "jobs", "list", token="tide_bad\r\nX-Evil: 1")
    # --token wins over the environment
    e.ok("--token", e.token, "jobs", "list", token="tide_" + "B" * 43)
    # the config file: 0600 works, anything readable by others is refused
    conf = os.path.join(e.home, "tidectl.conf")
    with open(conf, "w") as f:
        f.write("# test\nserver = %s\ntoken = %s\n" % (e.server, e.token))
    os.chmod(conf, 0o600)
    noenv = e.env(token=False)
    del noenv["TIDE_SERVER"]
    e.ok("--config", conf, "jobs", "list", env=noenv)
    os.chmod(conf, 0o644)
    r = e.fails(3, "--config", conf, "jobs", "list", env=noenv)
    assert "0600" in r.err and "refused" in r.err, r
    os.chmod(conf, 0o600)
    # the default place ($HOME/.config/tide/tidectl.conf)
    os.makedirs(os.path.join(e.home, ".config", "tide"), exist_ok=True)
    default = os.path.join(e.home, ".config", "tide", "tidectl.conf")
    os.rename(conf, default)
    e.ok("jobs", "list", env=noenv)
    os.chmod(default, 0o640)
    e.fails(3, "jobs", "list", env=noenv)
    os.unlink(default)
    e.fails(2, "--config", conf, "jobs", "list", env=noenv)  # named but missing
    with open(conf, "w") as f:
        f.write("tokn = x\n")
    os.chmod(conf, 0o600)
    r = e.fails(2, "--config", conf, "jobs", "list", env=noenv)
    assert "unknown key" in r.err, r
    os.unlink(conf)


def test_unreachable_and_bad_url():
    e = env()
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there now
    r = e.fails(6, "--server", "http://127.0.0.1:%d" % port, "jobs", "list")
    assert "cannot connect" in r.err, r
    e.fails(6, "--server", "http://127.0.0.1:%d" % port, "links")
    e.fails(2, "--server", "ftp://example", "jobs", "list")
    e.fails(2, "--server", "http://host:99999999", "jobs", "list")


def test_jobs_create_every_option_and_lifecycle():
    e = env()
    c = e.client()
    before = len(c.get("/api/v1/jobs").json["items"])
    r = e.fails(7, "jobs", "create", "bad", "-f", "udp prt 53", "-s", "8M", "-t", "3s")
    assert "syntax error" in r.err and "invalid_filter" in r.err, r
    assert len(c.get("/api/v1/jobs").json["items"]) == before, "a job was created"
    r = e.ok("jobs", "create", "chk", "-f", "udp port 53", "-s", "8M", "-t", "3s", "--check-only")
    assert len(c.get("/api/v1/jobs").json["items"]) == before
    # application names the drone does not know: its words, exit 7, nothing created
    r = e.fails(7, "jobs", "create", "x", "--apps", "DNS,QIUC", "-s", "8M", "-t", "3s")
    assert "'apps' 'QIUC' is neither an application" in r.err and "invalid_field" in r.err, r
    r = e.fails(7, "jobs", "create", "x", "--apps", "QIUC", "-s", "8M", "-t", "3s",
                "--check-only")
    assert "'QIUC' is neither an application" in r.err, r
    r = e.ok("jobs", "create", "chk", "--apps", " DNS , QUIC", "-s", "8M", "-t", "3s",
             "--check-only")
    assert "applications ok: DNS,QUIC" in r.err, r
    assert len(c.get("/api/v1/jobs").json["items"]) == before, "a job was created"
    e.fails(7, "jobs", "create", "x", "-l", "nosuch", "-s", "8M", "-t", "3s")
    # under the job contract's minimum: refused before any request, naming the field
    r = e.fails(2, "jobs", "create", "x", "-s", "10k", "-t", "3s")
    assert "max_size" in r.err, r
    script = os.path.join(e.home, "post.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho processed-by-test\nmkdir -p /job/processed\n"
                "ls /job > /job/processed/listing.txt\n")
    r = e.ok("jobs", "create", "--name", "every option", "--description", "from tidectl",
             "--link", "demo", "--filter", "udp port 53", "--max-size", "8M",
             "--max-duration", "3s", "--snaplen", "128", "--anonymise", "--session-type", "flow",
             "--export", "json+udp://127.0.0.1:9", "--apps", " DNS ", "--apps-undecided", "keep",
             "--apps-packets", "16", "--apps-wait", "2s", "--script", script,
             "--script-timeout", "1m", "--json")
    job = json.loads(r.out)
    for k, v in (("name", "every option"), ("description", "from tidectl"), ("link", "demo"),
                 ("filter", "udp port 53"), ("max_size", 8 << 20), ("max_duration", 3),
                 ("snaplen", 128), ("anonymise", True), ("classify", True),
                 ("session_type", "flow"), ("has_script", True), ("script_timeout", 60),
                 ("export", "json+udp://127.0.0.1:9"), ("apps", ["DNS"]),
                 ("apps_undecided", "keep"), ("apps_packets", 16), ("apps_wait", 2)):
        assert job[k] == v, (k, job[k], v)
    jid = str(job["id"])
    r = e.ok("jobs", "wait", jid, "--for", "90s")
    assert "job %s done" % jid in r.out, r
    r = e.ok("jobs", "show", jid)
    assert "every option" in r.out and "udp port 53" in r.out and "stop_reason" in r.out, r
    assert "json+udp://127.0.0.1:9" in r.out, r
    assert "DNS (undecided sessions kept after 16 packets or 2s)" in r.out, r
    # what the selection kept, from the link's ended counters (the drone's report)
    assert "selection (unselected packets are counted in filtered, not lost):" in r.out, r
    assert re.search(r"^sessions +.*selected=\d+", r.out, re.M), r
    r = e.ok("jobs", "list", "--state", "done")
    assert "every option" in r.out, r
    r = e.ok("jobs", "list", "--state", "running", "--json")
    assert all(j["id"] != job["id"] for j in json.loads(r.out)["items"])
    r = e.ok("files", "list", jid)
    assert "manifest.json" in r.out and "processed/listing.txt" in r.out, r
    r = e.ok("jobs", "files", jid, "--json")
    assert any(f["path"] == "manifest.json" for f in json.loads(r.out)["items"])
    r = e.ok("jobs", "script-log", jid)
    assert "processed-by-test" in r.out, r
    # conflicts and unknown jobs
    e.fails(5, "jobs", "stop", jid)
    e.fails(5, "jobs", "cancel", jid)
    for cmd in (["jobs", "show"], ["jobs", "stop"], ["jobs", "cancel"], ["jobs", "delete"],
                ["jobs", "wait"], ["files", "list"], ["download"], ["jobs", "script-log"]):
        e.fails(4, *(cmd + ["99999"]))
    # wait: timed out (9), ended in another state (10)
    long_job = e.ok("jobs", "create", "long", "-f", "udp port 53", "-s", "2G", "-t", "10m",
                    "-q").out.strip()
    e.wait_state(int(long_job), ("running",))
    e.wait_capturing(int(long_job))
    # a second job runs beside it on the same link (job slots)
    queued = e.ok("jobs", "create", "beside", "-f", "tcp port 9", "-s", "8M", "-t", "10m",
                  "-q").out.strip()
    e.wait_state(int(queued), ("running",))
    r = e.fails(9, "jobs", "wait", long_job, "--state", "done", "--for", "2s", "--interval", "0.5")
    assert "not done after 2s" in r.err, r
    e.fails(5, "jobs", "delete", long_job)                      # still running
    r = e.ok("jobs", "cancel", queued)
    assert "cancelled" in r.out, r
    r = e.fails(10, "jobs", "wait", queued, "--state", "done")
    assert "ended cancelled" in r.err, r
    r = e.ok("jobs", "stop", long_job)
    assert "finishing" in r.out or "done" in r.out, r
    r = e.ok("jobs", "wait", long_job, "--state", "done", "--json")
    assert json.loads(r.out)["counters"]["stop_reason"] == "signal", r
    r = e.ok("jobs", "delete", queued, long_job)
    assert r.out.count("deleted") == 2, r
    e.fails(4, "jobs", "show", long_job)
    # the whole lifecycle in one command
    r = e.ok("jobs", "create", "w", "-f", "udp", "-s", "8M", "-t", "2s", "--wait")
    assert "state          done" in r.out, r
    # create printed as a human line by default
    r = e.ok("jobs", "create", "human", "-s", "8M", "-t", "2s")
    assert r.out.startswith("created job ") and "local/demo" in r.out, r
    e.ok("jobs", "wait", r.out.split()[2])


def test_lookback_max_packets_and_drop_hints():
    """--lookback and --max-packets reach the job; the job contract refuses a bad one before
    anything is sent, naming the field; jobs show lists drops by reason with their hints."""
    e = env()
    r = e.fails(2, "jobs", "create", "x", "-s", "8M", "-t", "1m", "--lookback", "2h")
    assert "'lookback_s' must be 0 (no look-back) or 1-3600" in r.err, r
    r = e.fails(2, "jobs", "create", "x", "-s", "8M", "-t", "1m", "--snaplen", "20")
    assert "'snaplen' must be 0 (whole packets) or 64-262144" in r.err, r
    e.fails(2, "jobs", "create", "x", "-s", "8M", "-t", "1m", "--max-packets", "-4")
    r = e.ok("jobs", "create", "lb", "-f", "udp", "-s", "8M", "-t", "2s", "--lookback", "30s",
             "--max-packets", "5", "--json")
    job = json.loads(r.out)
    assert job["lookback_s"] == 30 and job["max_packets"] == 5, job
    jid = str(job["id"])
    e.ok("jobs", "wait", jid, "--for", "90s")
    r = e.ok("jobs", "show", jid)
    assert "look-back      30s" in r.out and "max packets    5" in r.out, r
    # a drone's drops as the Hive recorded them at the job's end
    con = e.hive.db()
    con.execute("UPDATE jobs SET counters = json_set(counters, '$.drops_by_reason',"
                " json('{\"ring_full\": 42, \"disk_full\": 0}')) WHERE id = ?", (job["id"],))
    con.commit()
    con.close()
    r = e.ok("jobs", "show", jid)
    line = [ln for ln in r.out.splitlines() if ln.strip().startswith("ring_full ")]
    assert line and "42" in line[0] and "writer could not keep up" in line[0], r.out
    assert not any(ln.strip().startswith("disk_full ") for ln in r.out.splitlines()), r.out


def test_download_archive_and_files():
    e = env()
    jid = e.ok("jobs", "create", "dl", "-f", "udp port 53", "-s", "8M", "-t", "3s", "--classify",
               "-q").out.strip()
    r = e.run("download", jid)
    if r.rc == 5:   # still running: the archive exists only for ended jobs
        assert "invalid_state" in r.err, r
    e.ok("jobs", "wait", jid)
    listing = {f["path"]: f for f in json.loads(e.ok("files", "list", jid, "--json").out)["items"]}
    r = e.ok("download", jid)
    assert "match the listing" in r.err, r
    tar_path = os.path.join(e.home, "job-%s.tar" % jid)
    with tarfile.open(tar_path) as t:
        names = sorted(m.name[len("job-%s/" % jid):] for m in t if m.isfile())
    assert names == sorted(listing), (names, sorted(listing))
    r = e.ok("download", jid, "--format", "tar.gz", "-o", "ds.tgz", "--json")
    out = json.loads(r.out)
    assert out["archive"] == "ds.tgz" and len(out["files"]) == len(listing), out
    assert all(f["verified"] == bool(listing[f["path"]]["sha256"]) for f in out["files"])
    r = e.ok("download", jid, "-o", "-", raw=True)
    with open(tar_path, "rb") as f:
        assert r.out == f.read(), "the archive on stdout differs from the file"
    shard = next(p for p in listing if p.startswith("shards/"))
    r = e.ok("download", jid, shard, "-o", "one.pcapng")
    assert "sha256 ok" in r.out and listing[shard]["sha256"] in r.out, r
    assert os.path.getsize(os.path.join(e.home, "one.pcapng")) == listing[shard]["size"]
    r = e.ok("download", jid, "--files", "-o", "all", "--json")
    got = {f["path"] for f in json.loads(r.out)["files"]}
    assert got == set(listing), got
    for p in listing:
        assert os.path.getsize(os.path.join(e.home, "all", p)) == listing[p]["size"], p
    r = e.fails(4, "download", jid, "no/such/file")
    assert "no file" in r.err, r
    e.fails(2, "download", jid, "--format", "zip")


def test_users_groups_tokens_login():
    e = env()
    r = e.ok("groups", "create", "ops", "--description", "operators", "-p", "jobs.read",
             "-p", "jobs.write", "-p", "audit.read")
    assert "created group" in r.out, r
    e.fails(5, "groups", "create", "ops")                          # exists
    e.fails(7, "groups", "create", "ops2", "-p", "no.such")        # unknown permission
    r = e.ok("groups", "show", "ops")
    assert "operators" in r.out and "audit.read" in r.out, r
    e.ok("groups", "update", "ops", "--description", "ops team")
    assert "ops team" in e.ok("groups", "show", "ops").out
    r = e.ok("groups", "list")
    assert "ops" in r.out and "admins" in r.out, r
    e.fails(5, "groups", "delete", "admins")                       # builtin
    r = e.ok("users", "create", "dora", "--password-stdin", "-g", "ops", input="dora-password-1\n")
    assert "created user" in r.out, r
    e.fails(5, "users", "create", "dora", "--password-stdin", input="dora-password-1\n")
    e.fails(7, "users", "create", "eve", "--password-stdin", input="short\n")   # weak password
    e.fails(2, "users", "create", "eve", input="")                 # no terminal, no --password-stdin
    r = e.ok("users", "show", "dora", "--json")
    assert [g["name"] for g in json.loads(r.out)["groups"]] == ["ops"], r
    e.ok("users", "update", "dora", "--disable")
    assert "disabled" in e.ok("users", "show", "dora").out
    e.ok("users", "update", "dora", "--enable")
    e.fails(2, "users", "update", "dora")                          # nothing to change
    e.fails(4, "users", "show", "nobody")
    assert "dora" in e.ok("users", "list").out
    # login as dora: the token lands in a 0600 config file, and works
    conf = os.path.join(e.home, "dora.conf")
    r = e.ok("--config", conf, "login", "--user", "dora", "--password-stdin", token=False,
             input="dora-password-1\n")
    assert "saved to " + conf in r.out, r
    assert os.stat(conf).st_mode & 0o777 == 0o600
    dora_token = open(conf).read().split("token = ")[1].split()[0]
    assert dora_token not in r.out + r.err
    noenv = e.env(token=False)
    e.ok("--config", conf, "jobs", "list", env=noenv)
    e.fails(3, "--config", conf, "users", "list", env=noenv)       # no users.admin
    assert "dora" in e.ok("--config", conf, "audit", "--actor", "dora", env=noenv).out
    e.fails(3, "--config", conf, "logs", env=noenv)                # no logs.read
    e.fails(3, "login", "--user", "dora", "--password-stdin", "--print", token=False,
            input="wrong-password\n")
    # tokens: create prints the secret once, --save writes it, revoke kills it
    r = e.ok("tokens", "create", "ci", "--expires-in", "1d")
    secret = r.out.strip()
    assert secret.startswith("tide_") and "shown once" in r.err, r
    e.ok("--token", secret, "jobs", "list")
    tid = [t for t in json.loads(e.ok("tokens", "list", "--json").out)["items"]
           if t["name"] == "ci"][0]["id"]
    assert "ci" in e.ok("tokens", "list").out
    e.ok("tokens", "revoke", str(tid))
    e.fails(3, "--token", secret, "jobs", "list")
    e.fails(4, "tokens", "revoke", "99999")
    saved = os.path.join(e.home, "saved.conf")
    r = e.ok("--config", saved, "tokens", "create", "saved", "--save")
    assert "saved to" in r.out, r
    assert os.stat(saved).st_mode & 0o777 == 0o600
    secret = open(saved).read().split("token = ")[1].split()[0]
    assert secret.startswith("tide_") and secret not in r.out + r.err, r
    e.ok("--config", saved, "jobs", "list", env=noenv)
    # logs and audit
    r = e.ok("logs", "--tail", "3")
    assert len(r.out.strip().splitlines()) == 3 and "http:" in r.out, r
    e.ok("logs", "-o", "cp.log")
    assert os.path.getsize(os.path.join(e.home, "cp.log")) > 0
    r = e.ok("audit", "--action", "user.create", "--json")
    assert any(a["target"] == "user:dora" for a in json.loads(r.out)["items"]), r
    r = e.ok("audit", "-n", "2", "--all")
    assert "token.create" in r.out and "auth.login" in r.out, r
    if e.has_drone_api():   # group quotas came with the drones branch
        e.ok("groups", "create", "quota-team", "--quota", "10G", "-p", "jobs.read")
        r = e.ok("groups", "show", "quota-team", "--json")
        assert json.loads(r.out)["quota_bytes"] == 10 << 30, r
        e.ok("groups", "update", "quota-team", "--quota", "0")
        assert json.loads(e.ok("groups", "show", "quota-team", "--json").out)["quota_bytes"] == 0
        e.ok("groups", "delete", "quota-team")
    e.ok("users", "delete", "dora")
    e.fails(4, "users", "delete", "dora")
    e.ok("groups", "delete", "ops")


def test_links_drones_tune():
    e = env()
    r = e.ok("links")
    assert "local/demo" in r.out and "online" in r.out, r
    assert any(l["name"] == "demo" for l in json.loads(e.ok("links", "--json").out)["items"])
    e.fails(2, "tune", "local", "cores=3")                         # unknown key: no request
    e.fails(2, "tune", "local", "workers=two")
    e.fails(2, "tune", "local", "hugepages=maybe")
    if not e.has_drone_api():
        # before the drone routes exist: said plainly
        r = e.fails(4, "drones", "list")
        assert "no drone API" in r.err, r
        e.fails(4, "tune", "local")
        e.fails(4, "drones", "show", "local")
        return
    r = e.ok("drones", "list")
    assert "local" in r.out and "online" in r.out, r
    d = json.loads(e.ok("drones", "list", "--json").out)["items"]
    assert d[0]["name"] == "local" and d[0]["builtin"], d
    r = e.ok("drones", "show", "local")
    assert "local/demo" in r.out, r
    r = e.ok("tune", "local")
    assert "workers" in r.out and "rx_queues" in r.out and "limits of the drone host" in r.out, r
    r = e.ok("tune", "local", "burst=16", "--json")
    assert json.loads(r.out)["tuning"]["burst"] == 16, r
    e.fails(7, "tune", "local", "burst=100000")
    r = e.fails(7, "tune", "local", "rx_queues=64")
    assert "invalid_tuning" in r.err, r
    e.fails(4, "tune", "nosuchdrone")
    e.fails(5, "drones", "delete", "local")                        # built-in
    r = e.ok("drones", "create", "probe-cli")
    assert r.out.strip().startswith("tided_"), r
    r = e.ok("drones", "rotate-token", "probe-cli")
    assert r.out.strip().startswith("tided_"), r
    e.ok("drones", "delete", "probe-cli")
    e.fails(4, "drones", "show", "probe-cli")
    assert "drone.tune" in e.ok("audit", "--action", "drone.tune").out


def test_https_verified():
    """https: the CA given with --cacert verifies name and chain; an untrusted one exits 6."""
    import shutil
    import tempfile
    from clilib import CONTROL, Hive, admin, make_token
    if not shutil.which("openssl"):
        print("(openssl missing: https not tested)")
        return
    d = tempfile.mkdtemp(prefix="tidectl-tls-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    d + "/key.pem", "-out", d + "/cert.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    h = Hive(CONTROL, tls=(d + "/cert.pem", d + "/key.pem"),
             args=["--tls-shim", os.path.join(os.path.dirname(CONTROL), "..", "ssl_shim", "cp_ssl_shim.so")]).start()
    try:
        tok = make_token(admin(h))["token"]
        e = env()
        base = ["--token", tok, "--server", "https://localhost:%d" % h.port]
        r = e.ok(*(base + ["--cacert", d + "/cert.pem", "tokens", "list"]), token=False)
        assert "PREFIX" in r.out, r
        r = e.fails(6, *(base + ["tokens", "list"]), token=False)
        assert "not trusted" in r.err, r
        e.ok(*(base + ["--insecure", "tokens", "list"]), token=False)
    finally:
        h.stop()
        h.cleanup()
        shutil.rmtree(d, ignore_errors=True)


def test_bash_completion():
    script = os.path.join(ROOT, "scripts", "tidectl-completion.bash")

    def complete(*words):
        cmd = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _tidectl; printf "%%s\\n" '
               '"${COMPREPLY[@]}"' % (script, " ".join("'%s'" % w for w in words),
                                       len(words) - 1))
        return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                              timeout=30).stdout.split()

    assert "jobs" in complete("tidectl", "jo"), complete("tidectl", "jo")
    assert set(complete("tidectl", "jobs", "")) >= {"create", "list", "wait", "stop"}
    assert "--max-duration" in complete("tidectl", "jobs", "create", "--max-d")
    assert "--export" in complete("tidectl", "jobs", "create", "--exp")
    assert set(complete("tidectl", "jobs", "create", "--app")) == \
        {"--apps", "--apps-undecided", "--apps-packets", "--apps-wait"}
    assert complete("tidectl", "jobs", "create", "--apps-undecided", "") == ["keep", "drop"]
    assert set(complete("tidectl", "jobs", "create", "--export", "ipfix")) == \
        {"ipfix://", "ipfix+udp://", "ipfix+tcp://"}
    assert "tar.gz" in complete("tidectl", "download", "1", "--format", "")
    assert "workers=" in complete("tidectl", "tune", "local", "work")
    # the tune keys are the contract's (tide_tuning.h), which `tidectl tune --help` lists
    keys = re.findall(r"^  ([a-z_]+) ", env().ok("tune", "--help").out, re.M)
    assert len(keys) >= 11 and "lookback_mib" in keys, keys
    assert sorted(complete("tidectl", "tune", "local", "")) == sorted(k + "=" for k in keys), \
        (complete("tidectl", "tune", "local", ""), keys)


if __name__ == "__main__":
    finish(globals())
