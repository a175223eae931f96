#!/usr/bin/env python3
"""run_cases — runs every pcap case in tests/dataplane/cases/ through `tide-dataplane --pcap`.

A case is a directory (suricata-verify style):
  gen.py         writes the input (input.pcap / input.pcapng) and labels.json — the generator's
                 own account of what it wrote — into the directory given as its argument
  args           extra tide options, shell-quoted; {dir} is the generated-files directory
  expected.json  what must hold (keys below); its numbers come from the generator, never from a
                 tide run, and are cross-checked against labels.json so they cannot go stale
  README         one line: what the case proves

expected.json keys (all optional except exit):
  exit           exit status
  stderr         regexes that must all match stderr; {input} is the (escaped) input path and
                 {label:NAME} a value from labels.json
  stop_reason    manifest stop_reason
  counters       subset of manifest counters (nested) that must match exactly
  parameters     subset of manifest parameters
  links          list of subsets of manifest links (name, linktype, ...)
  packets        what the written packets must be, compared with the input read by pcapio:
                 "input"                  all of them, same order, bytes, timestamps, wirelen
                 "input-multiset"         all of them, any order (workers > 1)
                 {"prefix": N}            the first N ("written" for "as many as were written")
                 {"snaplen": N}           all, data cut to N bytes, wirelen kept
                 {"tcpdump": EXPR}        exactly what `tcpdump -r input -w - EXPR` keeps
                 {"duration_ns": D}       those within D ns of the first packet's time
                 {"anonymised": KEY}      all, Crypto-PAn anonymised with KEY (checked against
                                          the reference algorithm for IPv4, prefix preservation
                                          for IPv6, ARP and ND target addresses too, checksums valid, other bytes unchanged)
  shards         {"min": n, "max_bytes": n, "min_bytes_but_last": n, "max_span_ns": n,
                  "greedy_span_ns": n}
  flows          {"file": F, "match": [subset, ...]}: the flow records tide wrote to {dir}/F (CSV,
                 the case's args pass --flows {dir}/F); each subset (columns → values, compared
                 as text) must match exactly one record. "match" must equal labels.json's
                 "flows", the generator's own list of conversations
  max_total      upper bound on the sum of shard sizes
  not_early      the capture must not stop while the next packet would still have fit the
                 max_total (within the given slack in bytes)
Every case that writes a manifest is also checked for the manifest schema, the counter
invariants, and the dataset (shards sound, sha256/bytes/packets match, no .part left).

Usage: run_cases.py --tide PATH [-k NAME] [-v]
"""

import argparse
import collections
import csv
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcapio  # noqa: E402
import tiderun  # noqa: E402
import trafficgen  # noqa: E402

CASES = os.path.join(HERE, "cases")

# ----------------------------------------------------------------------------- reference Crypto-PAn
# AES-128 (encryption only) and Crypto-PAn (Xu, Fan, Ammar, Moon 2002) in pure python, so the
# anonymisation case checks tide's output against the published algorithm, not against itself.


def _make_sbox():
    sbox, p, q = [0] * 256, 1, 1
    while True:
        p = p ^ ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q ^ ((q << 1) | (q >> 7)) & 0xFF ^ ((q << 2) | (q >> 6)) & 0xFF ^ \
            ((q << 3) | (q >> 5)) & 0xFF ^ ((q << 4) | (q >> 4)) & 0xFF
        sbox[p] = (x ^ 0x63) & 0xFF
        if p == 1:
            break
    sbox[0] = 0x63
    return sbox


_SBOX = _make_sbox()


def _xt(a):
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def aes128_round_keys(key):
    w = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = [_SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xt(rcon)
        w.append([a ^ b for a, b in zip(w[i - 4], t)])
    return [sum(w[r * 4:r * 4 + 4], []) for r in range(11)]


def aes128_encrypt(rk, block):
    s = [a ^ b for a, b in zip(block, rk[0])]
    for r in range(1, 11):
        s = [_SBOX[b] for b in s]
        s = [s[(i + 4 * (i % 4)) % 16] for i in range(16)]
        if r != 10:
            n = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                t = a[0] ^ a[1] ^ a[2] ^ a[3]
                n += [a[i] ^ t ^ _xt(a[i] ^ a[(i + 1) % 4]) for i in range(4)]
            s = n
        s = [a ^ b for a, b in zip(s, rk[r])]
    return bytes(s)


class CryptoPAn:
    """IPv4 Crypto-PAn exactly as the reference implementation (key = AES key || pad seed)."""

    def __init__(self, key):
        self.rk = aes128_round_keys(key[:16])
        self.pad = aes128_encrypt(self.rk, key[16:32])
        self.cache = {}

    def ip4(self, addr):
        if addr in self.cache:
            return self.cache[addr]
        orig = int.from_bytes(addr, "big")
        pad4 = int.from_bytes(self.pad[:4], "big")
        res = 0
        for pos in range(32):
            mask = (0xFFFFFFFF << (32 - pos)) & 0xFFFFFFFF
            blk = ((orig & mask) | (pad4 & ~mask & 0xFFFFFFFF)).to_bytes(4, "big") + self.pad[4:]
            res |= (aes128_encrypt(self.rk, blk)[0] >> 7) << (31 - pos)
        out = (res ^ orig).to_bytes(4, "big")
        self.cache[addr] = out
        return out


def _selftest_cryptopan():
    """Known answers from the Crypto-PAn distribution's sample trace (and FIPS-197 for AES)."""
    rk = aes128_round_keys(bytes(range(16)))
    assert aes128_encrypt(rk, bytes.fromhex("00112233445566778899aabbccddeeff")).hex() == \
        "69c4e0d86a7b0430d8cdb78070b4c55a", "AES-128 self-test failed"
    cp = CryptoPAn(bytes([21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143,
                          131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2]))
    for a, b in [("128.11.68.132", "135.242.180.132"), ("129.118.74.4", "134.136.186.123"),
                 ("130.132.252.244", "133.68.164.234"), ("141.223.7.43", "141.167.8.160"),
                 ("192.102.249.13", "252.138.62.131")]:
        assert cp.ip4(trafficgen.ip4(a)) == trafficgen.ip4(b), "Crypto-PAn self-test failed for " + a


def common_prefix_bits(a, b):
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return len(a) * 8 - x.bit_length()


def fmt_ip(a):
    if len(a) == 4:
        return ".".join(map(str, a))
    return ":".join("%x" % int.from_bytes(a[i:i + 2], "big") for i in range(0, 16, 2))

# ----------------------------------------------------------------------------- checks


def subset_errors(want, got, path="counters"):
    errs = []
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ["%s: expected an object, manifest has %r" % (path, got)]
        for k, v in want.items():
            if k not in got:
                errs.append("%s.%s: missing from manifest (want %r)" % (path, k, v))
            else:
                errs += subset_errors(v, got[k], path + "." + k)
    elif want != got:
        errs.append("%s: manifest has %r, expected %r" % (path, got, want))
    return errs


def frame_addresses(data):
    """The IPv4/IPv6 source and destination of an Ethernet frame (after VLAN tags), as text."""
    off, et = 12, None
    while off + 2 <= len(data):
        et = int.from_bytes(data[off:off + 2], "big")
        if et in (0x8100, 0x88A8):
            off += 4
            continue
        break
    off += 2
    if et == 0x0800 and len(data) >= off + 20:
        return {socket.inet_ntop(socket.AF_INET, data[off + 12:off + 16]),
                socket.inet_ntop(socket.AF_INET, data[off + 16:off + 20])}
    if et == 0x86DD and len(data) >= off + 40:
        return {socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24]),
                socket.inet_ntop(socket.AF_INET6, data[off + 24:off + 40])}
    return set()


def anonymised_flow_errors(outdir, inp, out):
    """An anonymising job's flow records carry the anonymised addresses: each is one of the
    written packets', and none is an input address that anonymisation changed."""
    flows_dir = os.path.join(outdir, "flows")
    if not os.path.isdir(flows_dir):
        return []
    before = set().union(*(frame_addresses(r.data) for r in inp)) if inp else set()
    after = set().union(*(frame_addresses(r.data) for r in out)) if out else set()
    errs, seen = [], 0
    for name in sorted(os.listdir(flows_dir)):
        with open(os.path.join(flows_dir, name), newline="") as f:
            for row in csv.DictReader(f):
                for col in ("src_ip", "dst_ip"):
                    a = row.get(col, "")
                    if not a:
                        continue
                    seen += 1
                    if a in before and a not in after:
                        errs.append("flows/%s: %s %s is a real address (anonymisation changed it "
                                    "in the packets)" % (name, col, a))
                    elif a not in after:
                        errs.append("flows/%s: %s %s is none of the written packets' addresses"
                                    % (name, col, a))
    if not seen:
        errs.append("flows/: no flow record with an address")
    return errs[:5]


def anonymisation_errors(inp, out, key_hex, notes):
    cp = CryptoPAn(bytes.fromhex(key_hex))
    errs = []
    map6 = {}
    map4 = {}
    leaks = collections.Counter()
    for i, (a, b) in enumerate(zip(inp, out)):
        if len(errs) > 10:
            break
        if (a.ts_ns, a.wirelen, a.caplen) != (b.ts_ns, b.wirelen, b.caplen):
            errs.append("packet #%d: timestamp/length changed by anonymisation" % i)
            continue
        da, db = trafficgen.dissect(a.data), trafficgen.dissect(b.data)
        if not da:
            # ARP (after any VLAN tags) must carry anonymised sender/target addresses, exactly
            # as the IP header would; every other non-IP byte stays as it was
            et_off = 12
            while a.data[et_off:et_off + 2] in (b"\x81\x00", b"\x88\xa8"):
                et_off += 4
            ma, mb = bytearray(a.data), bytearray(b.data)
            if a.data[et_off:et_off + 2] == b"\x08\x06" and len(a.data) >= et_off + 30:
                arp = et_off + 2
                for s_, e_ in ((arp + 14, arp + 18), (arp + 24, arp + 28)):
                    want = cp.ip4(bytes(a.data[s_:e_]))
                    if bytes(b.data[s_:e_]) != want:
                        if bytes(b.data[s_:e_]) == bytes(a.data[s_:e_]):
                            leaks["ARP sender/target IPv4 addresses"] += 1
                        else:
                            errs.append("packet #%d: ARP address %s anonymised to %s, reference gives %s" % (
                                i, fmt_ip(bytes(a.data[s_:e_])), fmt_ip(bytes(b.data[s_:e_])), fmt_ip(want)))
                    ma[s_:e_] = mb[s_:e_] = b"\0" * 4
            if ma != mb:
                errs.append("packet #%d: non-IP frame was modified beyond ARP addresses" % i)
            continue
        if not db or db["l3"] != da["l3"]:
            errs.append("packet #%d: output is no longer an IPv%s packet" % (i, da["l3"]))
            continue
        for f in ("src", "dst"):
            orig, new = da[f], db[f]
            if da["l3"] == "4":
                want = cp.ip4(orig)
                if new != want:
                    errs.append("packet #%d: %s %s anonymised to %s, reference Crypto-PAn gives %s" % (
                        i, f, fmt_ip(orig), fmt_ip(new), fmt_ip(want)))
                map4.setdefault(orig, new)
            else:
                if map6.setdefault(orig, new) != new:
                    errs.append("packet #%d: %s %s mapped inconsistently (%s, earlier %s)" % (
                        i, f, fmt_ip(orig), fmt_ip(new), fmt_ip(map6[orig])))
                if new == orig:
                    errs.append("packet #%d: IPv6 %s %s left unchanged" % (i, f, fmt_ip(orig)))
        # everything but addresses and checksums must be byte-identical
        ma, mb = bytearray(a.data), bytearray(b.data)
        o = da["l3_off"]
        spans = [(o + 12, o + 20), (o + 10, o + 12)] if da["l3"] == "4" else [(o + 8, o + 40)]
        if not da["frag"] or da["first_frag"]:
            ck = {6: 16, 17: 6, 58: 2}.get(da["proto"])
            if ck is not None:
                spans.append((da["l4_off"] + ck, da["l4_off"] + ck + 2))
            if da["proto"] == 58 and len(a.data) > da["l4_off"] + 24 and a.data[da["l4_off"]] in (135, 136):
                spans.append((da["l4_off"] + 8, da["l4_off"] + 24))  # ND target, checked below
        for s, e in spans:
            ma[s:e] = mb[s:e] = b"\0" * (e - s)
        if ma != mb:
            first = next(j for j in range(len(ma)) if ma[j] != mb[j])
            errs.append("packet #%d: byte %d changed, which is neither an address nor a checksum" % (i, first))
        ea, eb = trafficgen.checksum_errors(a.data), trafficgen.checksum_errors(b.data)
        if not ea and eb:
            errs.append("packet #%d: checksums valid in the input, invalid after anonymisation: %s" % (i, eb))
        if da["proto"] == 58 and len(a.data) > da["l4_off"] + 24 and a.data[da["l4_off"]] in (135, 136):
            t_in = bytes(a.data[da["l4_off"] + 8:da["l4_off"] + 24])
            t_out = bytes(b.data[da["l4_off"] + 8:da["l4_off"] + 24])
            if t_in == t_out:
                leaks["ICMPv6 ND target addresses"] += 1
            elif map6.setdefault(t_in, t_out) != t_out:
                errs.append("packet #%d: ND target %s mapped inconsistently with the IPv6 header" % (
                    i, fmt_ip(t_in)))
    if len(inp) != len(out):
        errs.append("anonymised output has %d packets, input %d" % (len(out), len(inp)))
    for m, bits in ((map4, 32), (map6, 128)):
        items = sorted(m.items())
        for x in range(len(items)):
            for y in range(x + 1, len(items)):
                (a1, b1), (a2, b2) = items[x], items[y]
                p, q = common_prefix_bits(a1, a2), common_prefix_bits(b1, b2)
                if p != q and len(errs) < 20:
                    errs.append("prefix not preserved: %s and %s share %d bits, anonymised %s and %s share %d" % (
                        fmt_ip(a1), fmt_ip(a2), p, fmt_ip(b1), fmt_ip(b2), q))
    same24 = [(a1, a2) for a1 in map4 for a2 in map4 if a1 < a2 and a1[:3] == a2[:3]]
    if not same24:
        errs.append("test input has no two hosts in one /24: prefix check proves nothing")
    if any(k == v for k, v in map4.items()):
        errs.append("some IPv4 addresses were left unchanged")
    for what, n in leaks.items():
        errs.append("%s are not anonymised (%d frames): addresses outside IP headers leak" % (what, n))
    return errs


def expected_packets(spec, inp, input_path, written):
    """Returns (records, compare mode) for a `packets` spec."""
    if spec == "input":
        return inp, "ordered"
    if spec == "input-multiset":
        return inp, "multiset"
    (kind, val), = spec.items()
    if kind == "prefix":
        n = written if val == "written" else val
        return inp[:n], "ordered"
    if kind == "snaplen":
        return [r._replace(data=r.data[:val], caplen=min(r.caplen, val)) for r in inp], "ordered"
    if kind == "tcpdump":
        return tiderun.tcpdump_records(input_path, val), "ordered"
    if kind == "duration_ns":
        t0 = inp[0].ts_ns
        return [r for r in inp if r.ts_ns - t0 < val], "ordered"
    if kind == "anonymised":
        return inp, "anonymised"
    raise ValueError("unknown packets spec %r" % (spec,))


def shard_errors(spec, m, recs_by_link):
    errs = []
    shards = [s for l in m["links"] for s in l["shards"]]
    if len(shards) < spec.get("min", 0):
        errs.append("%d shards, expected at least %d" % (len(shards), spec["min"]))
    for i, s in enumerate(shards):
        if "max_bytes" in spec and s["bytes"] > spec["max_bytes"]:
            errs.append("%s: %d bytes > %d" % (s["file"], s["bytes"], spec["max_bytes"]))
        if "min_bytes_but_last" in spec and i < len(shards) - 1 and s["bytes"] < spec["min_bytes_but_last"]:
            errs.append("%s: rotated early at %d bytes (< %d)" % (s["file"], s["bytes"], spec["min_bytes_but_last"]))
        if "max_span_ns" in spec and s["last_ts"] - s["first_ts"] >= spec["max_span_ns"]:
            errs.append("%s: spans %d ns >= %d" % (s["file"], s["last_ts"] - s["first_ts"], spec["max_span_ns"]))
    if "greedy_span_ns" in spec:
        # a new shard starts exactly when a packet is >= T after the current shard's first one
        ts = sorted(r.ts_ns for r in tiderun.all_records(recs_by_link))
        want, first = 0, None
        for t in ts:
            if first is None or t - first >= spec["greedy_span_ns"]:
                want, first = want + 1, t
        if len(shards) != want:
            errs.append("%d shards, rotating every %d ns of packet time gives %d" % (len(shards), spec["greedy_span_ns"], want))
    names = [s["file"] for s in shards]
    if names != sorted(names) or len(set(names)) != len(names):
        errs.append("shard names not unique and increasing: %s" % names)
    return errs


def epb_size(caplen):
    return 32 + (caplen + 3) // 4 * 4


def flow_errors(want, labels, work):
    """Each expected record (a subset of columns) matches exactly one row of the flows CSV."""
    if want["match"] != labels.get("flows"):
        return ["expected.json flows differ from the generator's labels.json flows"]
    path = os.path.join(work, want["file"])
    if not os.path.exists(path):
        return ["no flow records at %s" % want["file"]]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    errs = []
    for sub in want["match"]:
        hits = [r for r in rows if all(r.get(k) == str(v) for k, v in sub.items())]
        if len(hits) != 1:
            errs.append("flow %s: %d matching records (want 1) among %d" % (sub, len(hits), len(rows)))
    return errs


def run_case(tide, name, verbose=False):
    cdir = os.path.join(CASES, name)
    with open(os.path.join(cdir, "expected.json")) as f:
        exp = json.load(f)
    work = tempfile.mkdtemp(prefix="tide-case-%s-" % name)
    errs, notes = [], []
    try:
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "lib"))
        g = subprocess.run([sys.executable, os.path.join(cdir, "gen.py"), work], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if g.returncode != 0:
            return ["gen.py failed: " + g.stderr.decode()], notes
        with open(os.path.join(work, "labels.json")) as f:
            labels = json.load(f)
        inpath = os.path.join(work, labels["input"])
        outdir = os.path.join(work, "out")
        with open(os.path.join(cdir, "args")) as f:
            args = [a.replace("{dir}", work) for a in shlex.split(f.read(), comments=True)]
        opts = ["--pcap", inpath, "--out", outdir, "--drone", "casedrone"] + args
        if "--workers" not in args:
            opts += ["--workers", "1"]
        res = tiderun.run(tide, opts, tag=name[:12], timeout=90)
        ctx = "\n" + res.describe()

        # expected.json must agree with the generator (its numbers come from there)
        c_exp = exp.get("counters", {})
        if "parse" in c_exp and c_exp["parse"] != labels["parse"]:
            return ["expected.json counters.parse %s disagrees with gen.py's labels %s: stale case" % (
                c_exp["parse"], labels["parse"])], notes
        if "received" in c_exp and exp.get("stop_reason") == "end of input" and c_exp["received"] != labels["packets"]:
            return ["expected.json received %d but gen.py wrote %d packets: stale case" % (
                c_exp["received"], labels["packets"])], notes

        if res.rc != exp["exit"]:
            errs.append("exit status %s, expected %d" % (res.rc, exp["exit"]))
        for rx in exp.get("stderr", []):
            rx = rx.replace("{input}", re.escape(inpath))
            rx = re.sub(r"\{label:(\w+)\}", lambda mo: str(labels[mo.group(1)]), rx)
            if not re.search(rx, res.stderr):
                errs.append("stderr does not match /%s/" % rx)
        if exp.get("manifest", res.rc in (0, 1)) is False:
            return [e + ctx for e in errs[:1]] + errs[1:], notes
        mpath = os.path.join(outdir, "manifest.json")
        if not os.path.exists(mpath):
            errs.append("no manifest.json written")
            return [errs[0] + ctx] + errs[1:], notes
        m = tiderun.load_manifest(outdir)
        errs += tiderun.schema_errors(m)
        if errs and any("lacks" in e or "missing top-level" in e for e in errs):
            return [errs[0] + ctx] + errs[1:], notes
        errs += tiderun.invariant_errors(m)
        if "stop_reason" in exp and m["stop_reason"] != exp["stop_reason"]:
            errs.append("stop_reason %r, expected %r" % (m["stop_reason"], exp["stop_reason"]))
        errs += subset_errors(c_exp, m["counters"])
        errs += subset_errors(exp.get("parameters", {}), m["parameters"], "parameters")
        for i, lw in enumerate(exp.get("links", [])):
            if i >= len(m["links"]):
                errs.append("manifest has %d links, expected at least %d" % (len(m["links"]), i + 1))
            else:
                errs += subset_errors(lw, m["links"][i], "links[%d]" % i)
        if m.get("drone") != "casedrone":
            errs.append("drone %r, expected 'casedrone' (--drone)" % m.get("drone"))
        recs_by_link, problems = tiderun.check_dataset(outdir, m)
        errs += problems
        for l in m["links"]:
            for s in l["shards"]:
                if not s["file"].startswith("shards/casedrone/%s/" % l["name"]):
                    errs.append("shard %s not under shards/casedrone/%s/" % (s["file"], l["name"]))
        got = tiderun.all_records(recs_by_link)
        # bytes_written: packet bytes (sum of captured lengths) or file bytes, either reading
        file_bytes = sum(s["bytes"] for l in m["links"] for s in l["shards"])
        if m["counters"]["bytes_written"] not in (sum(r.caplen for r in got), file_bytes):
            errs.append("bytes_written %d is neither the written packets' %d bytes nor the shards' %d" % (
                m["counters"]["bytes_written"], sum(r.caplen for r in got), file_bytes))
        inp = pcapio.read(inpath, partial=True).records if exp.get("exit") != 2 else []
        if "packets" in exp:
            want, mode = expected_packets(exp["packets"], inp, inpath, m["counters"]["written"])
            if mode == "ordered":
                d = tiderun.first_difference(got, want)
                if d:
                    errs.append("written packets differ from expected: " + d)
            elif mode == "multiset":
                d = tiderun.multiset_difference(got, want, key=lambda r: (r.ts_ns, r.wirelen, r.data))
                if d:
                    errs.append("written packets differ from expected: " + d)
            else:
                errs += anonymisation_errors(want, got, exp["packets"]["anonymised"], notes)
                errs += anonymised_flow_errors(outdir, inp, got)
        if "flows" in exp:
            errs += flow_errors(exp["flows"], labels, work)
        if "shards" in exp:
            errs += shard_errors(exp["shards"], m, recs_by_link)
        if "max_total" in exp:
            total = sum(s["bytes"] for l in m["links"] for s in l["shards"])
            if total > exp["max_total"]:
                errs.append("shards total %d bytes > limit %d" % (total, exp["max_total"]))
            dirsize = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(outdir) for f in fs)
            if dirsize > exp["max_total"]:
                notes.append("NOTE: dataset directory with manifest is %d bytes > --max-size %d" % (dirsize, exp["max_total"]))
            if "not_early" in exp and m["counters"]["written"] < len(inp):
                nxt = inp[m["counters"]["written"]]
                if total + epb_size(nxt.caplen) + exp["not_early"] <= exp["max_total"]:
                    errs.append("stopped early: %d bytes written, next packet needs %d, limit %d" % (
                        total, epb_size(nxt.caplen), exp["max_total"]))
            if m["counters"]["written"] >= len(inp):
                errs.append("max size never reached: the case proves nothing")
        if errs:
            errs[0] += ctx
        if verbose:
            print(res.describe())
        return errs, notes
    finally:
        if os.environ.get("TIDE_KEEP_CASES"):
            print("  kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    tide = tiderun.tide_from_argv()
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", help="run only cases whose name contains this")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    _selftest_cryptopan()
    if not os.access(tide, os.X_OK):
        print("tide-dataplane not found at %s" % tide)
        return 1
    names = sorted(d for d in os.listdir(CASES) if os.path.isfile(os.path.join(CASES, d, "expected.json")))
    if a.k:
        names = [n for n in names if any(k in n for k in a.k)]
    failed = 0
    for n in names:
        with open(os.path.join(CASES, n, "README")) as f:
            what = f.read().strip().splitlines()[0]
        errs, notes = run_case(tide, n, a.v)
        print("%s %s — %s" % ("ok  " if not errs else "FAIL", n, what))
        for e in errs:
            print("     " + e.replace("\n", "\n     "))
        for nt in notes:
            print("     " + nt)
        failed += bool(errs)
    print("%d/%d cases passed" % (len(names) - failed, len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
