"""tiderun — run tide-dataplane as a user would and check the dataset it leaves behind.

Shared by the integration tests (run_cases.py, test_filter_equiv.py, test_live.py). It knows
the command-line and dataset contract (README.md, docs/ARCHITECTURE.md), not tide's internals:
  run(tide, opts, ...)          one run with a unique EAL --file-prefix, bounded by a timeout
  load_manifest(out)            manifest.json as a dict
  check_dataset(out, manifest)  every shard listed exists, is a sound tide shard (SHB, IDB,
                                EPBs, ISB last), has the listed size/packets/sha256/timestamps,
                                and no *.part or unlisted *.pcapng is left; returns the records
  invariant_errors(manifest)    received = matched + filtered, matched = written + sum(dropped)
Environment: TIDE_TEST_EAL adds EAL options to every run (e.g. "--no-huge -m 512").
"""

import hashlib
import itertools
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapio  # noqa: E402

_seq = itertools.count()


def tide_from_argv(argv=None):
    """Take --tide PATH out of argv (meson passes it); fall back to $TIDE or build/."""
    argv = sys.argv if argv is None else argv
    tide = os.environ.get("TIDE")
    if "--tide" in argv:
        i = argv.index("--tide")
        tide = argv[i + 1]
        del argv[i:i + 2]
    if not tide:
        here = os.path.dirname(os.path.abspath(__file__))
        tide = os.path.join(here, "..", "..", "build", "dataplane", "tide-dataplane")
    return os.path.abspath(tide)


def file_prefix(tag):
    """A unique EAL --file-prefix so parallel tests never share DPDK runtime state."""
    return "tidet-%s-%d-%d" % (tag, os.getpid(), next(_seq))


def eal_args(prefix, extra=()):
    return ["--file-prefix", prefix, "--no-pci"] + list(extra) + shlex.split(os.environ.get("TIDE_TEST_EAL", ""))


class Result:
    def __init__(self, cmd, rc, stdout, stderr, elapsed, prefix):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr
        self.elapsed, self.prefix = elapsed, prefix

    def describe(self):
        return "command: %s\nexit: %s (%.1f s)\nstderr (tail):\n%s" % (
            " ".join(shlex.quote(c) for c in self.cmd), self.rc, self.elapsed, self.stderr[-3000:])


def command(tide, opts, prefix, eal_extra=()):
    return [tide] + eal_args(prefix, eal_extra) + ["--"] + list(opts)


def run(tide, opts, tag="run", eal_extra=(), timeout=60):
    """Run tide to completion. A run that outlives `timeout` is killed and reported as rc None."""
    prefix = file_prefix(tag)
    cmd = command(tide, opts, prefix, eal_extra)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
        err += b"\n[tiderun: killed after %d s timeout]" % timeout
    cleanup_runtime(prefix)
    return Result(cmd, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  time.monotonic() - t0, prefix)


def cleanup_runtime(prefix):
    """DPDK leaves /var/run/dpdk/<prefix>/ behind; remove ours (the prefix is unique to us)."""
    import shutil
    for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent"), "dpdk")):
        d = os.path.join(base, prefix)
        if prefix.startswith("tidet-") and os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)


def load_manifest(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def invariant_errors(m, input_count=None):
    errs = []
    try:
        c = m["counters"]
        dropped = sum(c["dropped"].values())
        if c["received"] != c["matched"] + c["filtered"]:
            errs.append("received %d != matched %d + filtered %d" % (c["received"], c["matched"], c["filtered"]))
        if c["matched"] != c["written"] + dropped:
            errs.append("matched %d != written %d + dropped %d %s" % (c["matched"], c["written"], dropped, c["dropped"]))
        if input_count is not None and c["received"] != input_count:
            errs.append("received %d != %d packets in the input" % (c["received"], input_count))
        links_written = sum(l["written"] for l in m["links"])
        if links_written != c["written"]:
            errs.append("sum of links[].written %d != counters.written %d" % (links_written, c["written"]))
        shard_pk = sum(s["packets"] for l in m["links"] for s in l["shards"] if not s.get("earlier_run"))
        if shard_pk != c["written"]:
            errs.append("sum of shards[].packets %d != counters.written %d" % (shard_pk, c["written"]))
        if sum(c["parse"].values()) != c["received"]:
            errs.append("parse counters %s sum to %d, not received %d" % (c["parse"], sum(c["parse"].values()), c["received"]))
    except (KeyError, TypeError) as e:
        errs.append("manifest lacks a contract field: %r" % (e,))
    return errs


REQUIRED_TOP = ["tide_version", "format", "drone", "started", "ended", "parameters", "stop_reason",
                "counters", "links"]


def schema_errors(m):
    errs = ["missing top-level key %r" % k for k in REQUIRED_TOP if k not in m]
    if errs:
        return errs
    for k in ["input", "filter", "snaplen", "anonymised", "shard_size", "shard_time", "max_size", "max_duration"]:
        if k not in m["parameters"]:
            errs.append("parameters lacks %r" % k)
    c = m["counters"]
    for k in ["received", "matched", "filtered", "written", "bytes_written", "dropped", "parse"]:
        if k not in c:
            errs.append("counters lacks %r" % k)
    for k in ["nic_imissed", "mbuf_alloc", "ring_full", "disk_full", "max_size"]:
        if k not in c.get("dropped", {}):
            errs.append("counters.dropped lacks %r" % k)
    for k in ["ok", "truncated", "malformed", "non_ip", "unsupported"]:
        if k not in c.get("parse", {}):
            errs.append("counters.parse lacks %r" % k)
    for l in m["links"]:
        for k in ["name", "linktype", "received", "written", "shards"]:
            if k not in l:
                errs.append("link lacks %r" % k)
        for s in l.get("shards", []):
            keys = ["file", "bytes", "sha256"] if s.get("earlier_run") else \
                ["file", "bytes", "packets", "sha256", "first_ts", "last_ts"]
            for k in keys:
                if k not in s:
                    errs.append("shard entry lacks %r" % k)
    if m["format"] != 1:
        errs.append("format is %r, not 1" % m["format"])
    return errs


def check_dataset(out, m, allow_unlisted=()):
    """Verify the shards against the manifest; returns (records per link name, problems)."""
    problems = []
    recs = {}
    listed = set()
    for l in m.get("links", []):
        lrecs = []
        for s in l.get("shards", []):
            rel = s["file"]
            listed.add(os.path.normpath(rel))
            path = os.path.join(out, rel)
            if not os.path.isfile(path):
                problems.append("%s: listed in manifest but missing" % rel)
                continue
            earlier = bool(s.get("earlier_run"))  # a shard of a previous run on this --out
            try:
                pcapio.check_pcapng(path, tide_shard=not earlier)
                cap = pcapio.read(path)
            except pcapio.PcapError as e:
                problems.append("%s: not a sound shard: %s" % (rel, e))
                continue
            size = os.path.getsize(path)
            if size != s["bytes"]:
                problems.append("%s: %d bytes on disk, manifest says %d" % (rel, size, s["bytes"]))
            digest = sha256_file(path)
            if digest != s["sha256"].lower():
                problems.append("%s: sha256 %s, manifest says %s" % (rel, digest, s["sha256"]))
            if earlier:
                continue
            if len(cap.records) != s["packets"]:
                problems.append("%s: %d packets, manifest says %d" % (rel, len(cap.records), s["packets"]))
            if cap.records:
                ts = [r.ts_ns for r in cap.records]
                if (min(ts), max(ts)) != (s["first_ts"], s["last_ts"]) and (ts[0], ts[-1]) != (s["first_ts"], s["last_ts"]):
                    problems.append("%s: packet times %d..%d, manifest says %d..%d" % (rel, ts[0], ts[-1], s["first_ts"], s["last_ts"]))
            if cap.interfaces and cap.interfaces[0].linktype != l.get("linktype"):
                problems.append("%s: IDB link type %d, manifest says %s" % (rel, cap.interfaces[0].linktype, l.get("linktype")))
            lrecs.extend(cap.records)
        recs[l.get("name")] = lrecs
    for root, _, files in os.walk(out):
        for f in files:
            rel = os.path.normpath(os.path.relpath(os.path.join(root, f), out))
            if f.endswith(".part"):
                problems.append("%s: temporary shard left behind" % rel)
            elif f.endswith(".pcapng") and rel not in listed and rel not in allow_unlisted:
                problems.append("%s: shard on disk but not in the manifest" % rel)
    return recs, problems


def all_records(recs_by_link):
    return [r for rs in recs_by_link.values() for r in rs]


def first_difference(got, want, key=lambda r: (r.ts_ns, r.wirelen, r.data)):
    """Describe the first position where two ordered record lists differ (None if equal)."""
    for i, (g, w) in enumerate(zip(got, want)):
        if key(g) != key(w):
            return "packet #%d differs: got ts=%s caplen=%d wirelen=%d data[:32]=%s; want ts=%s caplen=%d wirelen=%d data[:32]=%s" % (
                i, g.ts_ns, g.caplen, g.wirelen, g.data[:32].hex(), w.ts_ns, w.caplen, w.wirelen, w.data[:32].hex())
    if len(got) != len(want):
        i = min(len(got), len(want))
        extra = (got if len(got) > len(want) else want)[i]
        return "count differs: got %d packets, want %d; first unmatched (%s) at #%d: ts=%s len=%d data[:32]=%s" % (
            len(got), len(want), "extra in tide" if len(got) > len(want) else "missing from tide",
            i, extra.ts_ns, extra.caplen, extra.data[:32].hex())
    return None


def multiset_difference(got, want, key=lambda r: (r.ts_ns, r.data)):
    import collections
    g, w = collections.Counter(map(key, got)), collections.Counter(map(key, want))
    if g == w:
        return None
    extra, missing = g - w, w - g
    msg = "multisets differ: %d extra in tide, %d missing from tide" % (sum(extra.values()), sum(missing.values()))
    for k in list(extra)[:2]:
        msg += "\n  extra: ts=%s data[:32]=%s" % (k[0], k[-1][:32].hex())
    for k in list(missing)[:2]:
        msg += "\n  missing: ts=%s data[:32]=%s" % (k[0], k[-1][:32].hex())
    return msg


def tcpdump_records(path, expr, timeout=60):
    """Packets `tcpdump -r path -w - EXPR` keeps (ns timestamps)."""
    p = subprocess.run(["tcpdump", "--time-stamp-precision=nano", "-r", path, "-w", "-", expr],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("tcpdump failed on %r: %s" % (expr, p.stderr.decode()))
    tmp = path + ".tcpdump.%d.pcap" % next(_seq)
    with open(tmp, "wb") as f:
        f.write(p.stdout)
    try:
        return pcapio.read(tmp).records
    finally:
        os.unlink(tmp)
