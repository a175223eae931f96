#!/usr/bin/env python3
"""The job contract at the Hive: parameters checked by dataplane/contract/, carried to drones.

A real tide-control with no local drone and drones imitated over the protocol
(dronelib.FakeDrone), so no DPDK runs. Proves: a bad capture parameter (lookback_s,
max_packets, snaplen, session_type, export — in tide_export.h's words, or without classify) is
refused 400 by the contract module with a message
naming the field and the allowed values, and an unknown member still 400 unknown_field;
lookback_s, max_packets and export are kept and shown in the job; the start message carries the job as
the contract writes it ("params") and today's flat fields beside it, for the drones that read
those; a link's drops_by_reason are summed into the job's counters, live and after the end;
a job selecting sessions by application (apps) is refused without classify, with host
sessions, with a list outside the one grammar or a bad apps_undecided (the contract's words),
and with a name the drone's classifier tables do not know (the dataplane's words, from the
same --check-filter child as the filter, which still answers 422 invalid_filter); a good one
is kept, shown as an array and sent in the start message, the bounds' defaults travel too,
and the drone's selection report ("selection" in the ended counters) and its unselected
packets reach the link's and the job's counters; POST /jobs/validate checks apps alike;
GET /api/v1/meta/counters serves the registry (every drop reason with its hint) to signed-in
users only; GET /api/v1/meta/tuning serves the drone's tuning keys (dataplane/contract/
tide_tuning.h), and PUT /drones/{id}/tuning refuses a value outside the bounds it states with
the words it always used.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, expect  # noqa: E402
from dronelib import FakeDrone, job, register, wait_for, wait_job  # noqa: E402

BIN = cplib.binary_from_argv()
ARGS = ["--local-links", ""]
BASE = {"name": "j", "links": ["probe1/p1"], "max_size": 1 << 20, "max_duration": 600}


def fake(h, c, links=({"name": "p1"},), name="probe1"):
    token = register(c, name)["token"]
    return FakeDrone(h, name, token, list(links)).start()


def test_bad_parameters_are_refused_naming_the_field():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c)
        try:
            for member, value, words in (
                    ("lookback_s", 3601, "'lookback_s' must be 0 (no look-back) or 1-3600"),
                    ("lookback_s", -5, "'lookback_s' must be 0 (no look-back) or 1-3600"),
                    ("lookback_s", "1 min", "'lookback_s' must be seconds or a duration"),
                    ("lookback_s", 1.5, "'lookback_s' must be an integer (seconds) or a"),
                    ("max_size", "10 GB", "'max_size' must be bytes or a size such as"),
                    ("max_size", "5T", "'max_size' must be 1048576-"),
                    ("max_packets", "60", "'max_packets' must be an integer"),
                    ("max_packets", -1, "'max_packets' must be 0 (unlimited) or 1-"),
                    ("snaplen", 10, "'snaplen' must be 0 (whole packets) or 64-262144"),
                    ("session_type", "flows", "'session_type' must be flow, biflow or host"),
                    ("max_duration", 0, "'max_duration' must be 1-604800"),
                    # the one grammar of a destination (tide_export.h), its own words
                    ("export", "http://127.0.0.1:4739",
                     "'export' export destination 'http://127.0.0.1:4739' wants ipfix://"),
                    ("export", "json+tcp://127.0.0.1",
                     "'export' export destination 'json+tcp://127.0.0.1' wants a port"),
                    ("export", "x" * 301, "'export' must be at most 300 bytes")):
                r = expect(c.post("/api/v1/jobs", dict(BASE, **{member: value})), 400,
                           "invalid_field")
                assert r.json["error"]["message"].startswith(words), (member, r.json)
            # exporting needs flow records, so classification: refused without it
            r = expect(c.post("/api/v1/jobs", dict(BASE, export="ipfix://127.0.0.1:4739")), 400,
                       "invalid_field")
            assert r.json["error"]["message"].startswith("'export' needs classify"), r.json
            r = expect(c.post("/api/v1/jobs", dict(BASE, classify=True, export="ipfix://h:0")),
                       400, "invalid_field")
            assert "port must be 1-65535" in r.json["error"]["message"], r.json
            r = expect(c.post("/api/v1/jobs", {"name": "j", "links": ["probe1/p1"],
                                               "max_duration": 5}), 400, "missing_field")
            assert "max_size" in r.json["error"]["message"], r.json
            expect(c.post("/api/v1/jobs", dict(BASE, lookback=5)), 400, "unknown_field")
            expect(c.post("/api/v1/jobs", dict(BASE, name="")), 400, "invalid_field")
            assert expect(c.get("/api/v1/jobs"), 200).json["items"] == []
        finally:
            d.stop()


def test_start_message_carries_the_contract():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c)
        try:
            # sizes and durations may be strings in the one grammar (tide_units.h); the job and
            # the drone get integers
            j = expect(c.post("/api/v1/jobs", dict(BASE, filter="udp", snaplen=128,
                                                     lookback_s="1m", max_packets=1000,
                                                     max_size="1M", max_duration="10m",
                                                     anonymise=True, session_type="flow")),
                       201).json
            assert j["lookback_s"] == 60 and j["max_packets"] == 1000, j
            assert j["snaplen"] == 128 and j["anonymise"] is True, j
            start = d.wait_msg("start", j["id"], "p1")
            assert start["params"] == {
                "filter": "udp", "snaplen": 128, "anonymise": True, "classify": False,
                "session_type": "flow", "max_size": 1 << 20, "max_duration": 600,
                "max_packets": 1000, "lookback_s": 60, "shard_size": 0, "shard_time": 0,
                "export": "", "apps": [], "apps_undecided": "drop", "apps_packets": 32,
                "apps_wait": 5}, start
            # the job travels once, as the contract writes it: no second, flat copy
            assert "filter" not in start and "max_size" not in start, start
            assert len(start["anon_key"]) == 64, start
            wait_job(c, j["id"], ("running",))
            # drops by reason, summed over the links while it runs and kept at the end
            d.set_counters(j["id"], "p1", {"packets": 10, "bytes": 1000, "drops": 7,
                                           "drops_by_reason": {"ring_full": 5, "mbuf_alloc": 2}})
            live = wait_for("live drops", lambda: (lambda x: x if x["counters"]["drops"] == 7
                                                   else None)(job(c, j["id"])), 60)
            assert live["counters"]["drops_by_reason"] == {"ring_full": 5, "mbuf_alloc": 2}, live
            expect(c.post("/api/v1/jobs/%d/stop" % j["id"]), 200)
            d.wait_msg("stop", j["id"], "p1")
            d.end(j["id"], "p1", "done", "signal",
                  {"packets": 12, "bytes": 1200, "drops": 8,
                   "drops_by_reason": {"ring_full": 6, "mbuf_alloc": 2}})
            done = wait_job(c, j["id"], ("done",))
            assert done["counters"]["drops_by_reason"] == {"ring_full": 6, "mbuf_alloc": 2}, done
            assert done["counters"]["packets"] == 12, done
            # an export destination is kept, shown and sent to the drone as given
            j = expect(c.post("/api/v1/jobs", dict(BASE, classify=True,
                                                     export="ipfix+tcp://[::1]:4739")), 201).json
            assert j["export"] == "ipfix+tcp://[::1]:4739" and j["classify"] is True, j
            assert job(c, j["id"])["export"] == "ipfix+tcp://[::1]:4739"
            start = d.wait_msg("start", j["id"], "p1")
            assert start["params"]["export"] == "ipfix+tcp://[::1]:4739", start
            assert start["params"]["classify"] is True, start
        finally:
            d.stop()


SELECTION = {"apps": ["QUIC", "YouTube"], "undecided": "keep",
             "sessions": {"selected": 3, "unselected": 40, "undecided_kept": 1,
                          "undecided_dropped": 0},
             "undecided_at": {"packets": 1, "wait": 0, "memory": 0, "end": 0},
             "packets_unselected": 1234}


def test_selection_by_application():
    with Hive(BIN, args=ARGS) as h:
        c = admin(h)
        d = fake(h, c)
        try:
            # the contract's refusals, before any drone is asked
            for extra, words in (
                    ({"apps": ["QUIC"]}, "'apps' needs classify"),
                    ({"classify": True, "session_type": "host", "apps": ["QUIC"]},
                     "'apps' needs flow or biflow sessions"),
                    ({"classify": True, "apps": "QUIC"}, "'apps' must be an array of at most 16"),
                    ({"classify": True, "apps": ["Q UIC"]},
                     "'apps' 'Q UIC' is not an application or service name"),
                    ({"classify": True, "apps": ["QUIC", "quic"]}, "'apps' 'quic' is named twice"),
                    ({"classify": True, "apps": ["QUIC"], "apps_undecided": "maybe"},
                     "'apps_undecided' must be keep or drop"),
                    ({"classify": True, "apps": ["QUIC"], "apps_packets": 256},
                     "'apps_packets' must be 1-255"),
                    ({"classify": True, "apps": ["QUIC"], "apps_wait": "6m"},
                     "'apps_wait' must be 1-300")):
                r = expect(c.post("/api/v1/jobs", dict(BASE, **extra)), 400, "invalid_field")
                assert r.json["error"]["message"].startswith(words), (extra, r.json)
            # a name the drone's classifier tables do not know: the dataplane's own words,
            # from the one --check-filter child that also compiles the filter
            r = expect(c.post("/api/v1/jobs", dict(BASE, classify=True, filter="udp",
                                                     apps=["QUIC", "QIUC"])), 400,
                       "invalid_field")
            assert r.json["error"]["message"].startswith(
                "'apps' 'QIUC' is neither an application (tide_apps.txt) nor a service"), r.json
            # a bad filter beside good names is still the filter's refusal
            r = expect(c.post("/api/v1/jobs", dict(BASE, classify=True, filter="udp prt 53",
                                                     apps=["QUIC"])), 422, "invalid_filter")
            assert "syntax error" in r.json["error"]["message"], r.json
            assert expect(c.get("/api/v1/jobs"), 200).json["items"] == []
            # POST /jobs/validate checks the names the same way, with or without a filter
            r = expect(c.post("/api/v1/jobs/validate", {"apps": ["QIUC"]}), 400,
                       "invalid_field")
            assert r.json["error"]["message"].startswith("'apps' 'QIUC' is neither"), r.json
            assert expect(c.post("/api/v1/jobs/validate", {"filter": "udp",
                                                           "apps": ["QUIC", "YouTube"]}),
                          200).json == {"valid": True}
            r = expect(c.post("/api/v1/jobs/validate", {"apps": ["a,b"]}), 400, "invalid_field")
            assert r.json["error"]["message"].startswith("'apps' must be an array of"), r.json
            expect(c.post("/api/v1/jobs/validate", {}), 400, "missing_field")
            # a good one: kept, shown as an array, sent to the drone with its bounds
            j = expect(c.post("/api/v1/jobs", dict(BASE, classify=True, session_type="flow",
                                                     apps=["QUIC", " YouTube "],
                                                     apps_undecided="keep", apps_packets=8,
                                                     apps_wait="1m")), 201).json
            want = {"apps": ["QUIC", "YouTube"], "apps_undecided": "keep", "apps_packets": 8,
                    "apps_wait": 60}
            assert {k: j[k] for k in want} == want, j
            assert {k: job(c, j["id"])[k] for k in want} == want
            start = d.wait_msg("start", j["id"], "p1")
            assert {k: start["params"][k] for k in want} == want, start
            assert start["params"]["classify"] is True, start
            wait_job(c, j["id"], ("running",))
            # what the drone reports of the selection reaches the link's counters; its
            # unselected packets are summed into the job's like every registry counter
            expect(c.post("/api/v1/jobs/%d/stop" % j["id"]), 200)
            d.wait_msg("stop", j["id"], "p1")
            d.end(j["id"], "p1", "done", "signal",
                  {"packets": 50, "bytes": 5000, "filtered": 1300, "unselected": 1234,
                   "drops": 0, "drops_by_reason": {}, "selection": SELECTION})
            done = wait_job(c, j["id"], ("done",))
            assert done["links"][0]["counters"]["selection"] == SELECTION, done["links"]
            assert done["counters"]["unselected"] == 1234, done["counters"]
            # no list, no selection: the defaults
            j = expect(c.post("/api/v1/jobs", dict(BASE, classify=True)), 201).json
            assert (j["apps"], j["apps_undecided"], j["apps_packets"], j["apps_wait"]) == \
                ([], "drop", 32, 5), j
        finally:
            d.stop()


def test_meta_counters_serves_the_registry():
    with Hive(BIN, args=ARGS) as h:
        expect(Client(h).get("/api/v1/meta/counters"), 401)
        m = expect(admin(h).get("/api/v1/meta/counters"), 200).json
        reasons = {r["name"]: r["hint"] for r in m["drop_reasons"]}
        assert set(reasons) >= {"nic_imissed", "mbuf_alloc", "ring_full", "disk_full",
                                "max_size", "io_error"}, reasons
        assert reasons["ring_full"].startswith("the writer could not keep up with the link"), m
        assert {c["name"] for c in m["counters"]} >= {"packets", "bytes", "drops"}, m
        assert "cancelled" in [s["name"] for s in m["job_states"]], m


def test_meta_tuning_serves_the_keys():
    with Hive(BIN, args=ARGS) as h:
        expect(Client(h).get("/api/v1/meta/tuning"), 401)
        c = admin(h)
        keys = {k["name"]: k for k in expect(c.get("/api/v1/meta/tuning"), 200).json["keys"]}
        assert set(keys) == {"workers", "rx_queues", "rx_desc", "tx_desc", "burst",
                             "mempool_size", "writer_cores", "numa_node", "hugepages",
                             "lookback_mib", "busy_poll"}, keys
        assert keys["lookback_mib"]["default"] == 64 and keys["workers"]["default"] == 1, keys
        assert keys["busy_poll"]["type"] == "boolean" and keys["hugepages"]["default"] is None
        assert keys["rx_desc"]["power_of_two"] and not keys["burst"]["power_of_two"], keys
        assert (keys["workers"]["limit"], keys["workers"]["limit_less"]) == ("cores", 1), keys
        base = "/api/v1/drones/%d/tuning" % register(c, "probe1")["id"]
        for name, k in keys.items():
            if k["type"] == "boolean":
                r = expect(c.request("PUT", base, {name: 1}), 400, "invalid_field")
                assert r.json["error"]["message"] == "'%s' must be a boolean" % name, r
                continue
            r = expect(c.request("PUT", base, {name: k["max"] + 1}), 400, "invalid_field")
            assert r.json["error"]["message"] == "'%s' must be from %d to %d" % (
                name, k["min"], k["max"]), r
            expect(c.request("PUT", base, {name: "1"}), 400, "invalid_field")
        r = expect(c.request("PUT", base, {"cores": 2}), 400, "unknown_field")
        assert r.json["error"]["message"] == "unknown field 'cores'", r
        expect(c.request("PUT", base, [1]), 400, "invalid_body")
        # within the bounds, the host decides: this drone never said what it has
        expect(c.request("PUT", base, {"lookback_mib": 0}), 409, "drone_unknown")


cplib.run_tests(globals())
