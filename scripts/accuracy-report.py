#!/usr/bin/env python3
"""accuracy-report.py — how well tide identifies applications on a labelled capture, side by
side with nDPI (Debian's libndpi-bin, ndpiReader 4.2), per application.

  scripts/accuracy-report.py --pcap test.pcap --truth test.truth.csv [--markdown]
  scripts/accuracy-report.py --pcap test.pcap --truth test.truth.csv \\
      --train-pcap train.pcap --train-truth train.truth.csv        # + the stat classifier alone

What it does:
  1. tide-dataplane --pcap PCAP --flows F.csv --truth TRUTH (offline; the default classifier set
     from config/enabled_plugins unless --plugins);
  2. ndpiReader -i PCAP -C N.csv -q, and again with -v 1 (4.2's CSV holds only the detected flows,
     and with -v 1 only the undetected ones); protocol guessing on, as a user runs it
     (--ndpi-no-guess adds -d); its ndpi_proto names ("TLS", "PostgreSQL.HTTP", ...) are mapped to
     tide's application names (NDPI_MAP below; of master.app, the most specific known part);
  3. both tools' sessions are joined to the truth by the direction-independent 5-tuple (ICMP: by the
     address pair, since tide keys ICMP on type/code and nDPI on addresses) and the start time
     (the truth session's window, +-1 s); a truth session a tool does not report counts as wrong;
  4. per application of the truth: support, precision, recall, F1 for each tool, then overall
     accuracy, accuracy where the port table (config/ports.txt) would be right ("standard port")
     and where it would not ("non-standard port"), and tide's sub-application accuracy
     (TLS/HTTP2, QUIC/HTTP3, FTP/data, ...).
Sessions a tool reports that the truth does not label (truth unknown: kernel chatter, ...) are
excluded from every number and counted. --markdown prints the tables for docs/BENCHMARKS.md.

Train on one labelled capture, classify another: with --train-pcap/--train-truth, tide trains on
the train capture (--truth T --train --model-dir TMP), then classifies PCAP with ONLY the stat
classifier (--plugins file holding `stat`) and the report adds its numbers, next to chance
(the majority class's share, and the accuracy of guessing by the class frequencies).

python3 stdlib only. Exit status 0, or 1 if a tool failed to run.
"""

import argparse
import collections
import csv
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))

# nDPI 4.2 protocol name -> tide application name (config/tide_apps.txt), with a sub-application
# where nDPI tells the variant apart. nDPI names not listed (services such as Google, Skype_Teams)
# are kept as "nDPI:<name>" and count as a wrong answer for every tide application.
NDPI_MAP = {
    "Unknown": ("unknown", ""),
    "DNS": ("DNS", ""), "DoH_DoT": ("DoH", ""), "DNScrypt": ("DNS", ""),
    "HTTP": ("HTTP", ""), "HTTP_Connect": ("HTTP-Proxy", ""), "HTTP_Proxy": ("HTTP-Proxy", ""),
    "TLS": ("TLS", ""), "QUIC": ("QUIC", ""),
    "SSH": ("SSH", ""), "Telnet": ("Telnet", ""), "RDP": ("RDP", ""), "VNC": ("VNC", ""),
    "SMTP": ("SMTP", ""), "SMTPS": ("Submission", ""), "IMAP": ("IMAP", ""), "IMAPS": ("IMAPS", ""),
    "POP3": ("POP3", ""), "POPS": ("POP3S", ""),
    "FTP_CONTROL": ("FTP", ""), "FTP_DATA": ("FTP", "data"), "TFTP": ("TFTP", ""), "RSYNC": ("RSYNC", ""),
    "NTP": ("NTP", ""), "DHCP": ("DHCP", ""), "DHCPV6": ("DHCP", "DHCPv6"), "SNMP": ("SNMP", ""),
    "SIP": ("SIP", ""), "RTP": ("RTP", ""), "RTCP": ("RTP", ""), "RTSP": ("RTSP", ""), "STUN": ("STUN", ""),
    "BitTorrent": ("BitTorrent", ""), "SMBv1": ("SMB", ""), "SMBv23": ("SMB", ""), "NetBIOS": ("NetBIOS", ""),
    "Kerberos": ("Kerberos", ""), "LDAP": ("LDAP", ""), "Radius": ("RADIUS", ""),
    "MQTT": ("MQTT", ""), "COAP": ("CoAP", ""), "AMQP": ("AMQP", ""),
    "Modbus": ("Modbus", ""), "DNP3": ("DNP3", ""),
    "WireGuard": ("WireGuard", ""), "OpenVPN": ("OpenVPN", ""), "IPsec": ("IPsec", ""), "GRE": ("GRE", ""),
    "SCTP": ("SCTP", ""),
    "Syslog": ("Syslog", ""), "MDNS": ("mDNS", ""), "SSDP": ("SSDP", ""), "LLMNR": ("LLMNR", ""),
    "NetFlow": ("NetFlow", ""), "ICMP": ("ICMP", ""), "ICMPV6": ("ICMP", "ICMPv6"),
    "MySQL": ("MySQL", ""), "PostgreSQL": ("PostgreSQL", ""), "MsSQL-TDS": ("MS-SQL", ""),
    "Redis": ("Redis", ""), "Memcached": ("Memcached", ""), "MongoDB": ("MongoDB", ""),
    "IRC": ("IRC", ""), "Jabber": ("XMPP", ""), "NFS": ("NFS", ""), "Git": ("Git", ""),
}

PROTO_NUM = {"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58, "sctp": 132}


def proto_num(p):
    p = str(p).strip().lower()
    return PROTO_NUM[p] if p in PROTO_NUM else int(p)


def canon(proto, a, pa, b, pb):
    """Direction-independent session key; ICMP by the address pair only."""
    a, b = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if proto in (1, 58):
        return (proto,) + tuple(sorted([str(a), str(b)]))
    x, y = (a.packed, int(pa), str(a)), (b.packed, int(pb), str(b))
    lo, hi = sorted([x, y])
    return (proto, lo[2], lo[1], hi[2], hi[1])


def load_truth(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if not r.get("proto") or r["proto"].startswith("#"):
                continue
            p = proto_num(r["proto"])
            app = r["app"].strip()
            sub = (r.get("sub_app") or "").strip()
            if "/" in sub:
                sub = sub.split("/", 1)[1]
            rows.append({"proto": p, "key": canon(p, r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]),
                         "first": float(r.get("first_ts") or 0), "last": float(r.get("last_ts") or 0),
                         "app": app, "sub": sub, "sport": int(r["src_port"]), "dport": int(r["dst_port"]),
                         "src": r["src_ip"], "dst": r["dst_ip"]})
    return rows


# ---- the port table (config/ports.txt): would a port lookup give the truth? -----------------
def load_ports(path):
    rules = []
    if not os.path.exists(path):
        return rules
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if len(line) < 4 or line[0] not in ("tcp", "udp", "sctp", "any"):
            continue
        proto, sp, dp, app = line[:4]

        def rng(s):
            lo, _, hi = s.partition("-")
            return int(lo), int(hi or lo)
        rules.append((proto, rng(sp), rng(dp), app.split("/")[0]))
    return rules


def port_app(rules, t):
    """The application a port lookup gives: exact pairs first, then the narrowest single port."""
    pn = {6: "tcp", 17: "udp", 132: "sctp"}.get(t["proto"])
    if not pn:
        return None
    best = None
    for proto, (slo, shi), (dlo, dhi), app in rules:
        if proto not in (pn, "any"):
            continue
        width = (dhi - dlo) + (shi - slo)
        if slo and dlo:  # a pair, either way round
            ok = (slo <= t["sport"] <= shi and dlo <= t["dport"] <= dhi) or (slo <= t["dport"] <= shi and dlo <= t["sport"] <= dhi)
            rank = (0, width, proto == "any")
        elif dlo:
            ok = dlo <= t["dport"] <= dhi or dlo <= t["sport"] <= dhi
            rank = (1, width, proto == "any")
        elif slo:
            ok = slo <= t["sport"] <= shi or slo <= t["dport"] <= shi
            rank = (1, width, proto == "any")
        else:
            continue
        if ok and (best is None or rank < best[0]):
            best = (rank, app)
    return best[1] if best else None


# ---- the tools --------------------------------------------------------------------------------
def run(cmd, timeout, what):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError:
        raise SystemExit("%s: %s not found" % (what, cmd[0]))
    except subprocess.TimeoutExpired:
        raise SystemExit("%s: timed out after %d s: %s" % (what, timeout, " ".join(cmd)))
    if p.returncode != 0:
        raise SystemExit("%s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(cmd),
                         p.stderr.decode("utf-8", "replace")[-2000:]))
    return p


_runs = [0]


def tide_flows(tide, pcap, out, truth=None, extra=(), timeout=300):
    # our own EAL file prefix, removed afterwards: DPDK leaves /var/run/dpdk/<prefix>/ behind
    _runs[0] += 1
    prefix = "tidet-acc-%d-%d" % (os.getpid(), _runs[0])
    cmd = [tide, "--file-prefix", prefix, "--no-pci", "--", "--pcap", pcap, "--flows", out] + \
        (["--truth", truth] if truth else []) + list(extra)
    try:
        run(cmd, timeout, "tide-dataplane")
    finally:
        for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent"), "dpdk")):
            shutil.rmtree(os.path.join(base, prefix), ignore_errors=True)
    flows = []
    with open(out, newline="") as f:
        for r in csv.DictReader(f):
            p = proto_num(r["proto"]) if r["proto"] else 0
            if not r["src_ip"]:
                continue
            flows.append({"key": canon(p, r["src_ip"], r["src_port"] or 0, r["dst_ip"], r["dst_port"] or 0),
                          "first": float(r["first_ts"]), "app": r["app"] or "unknown", "sub": r["sub_app"],
                          "label": r.get("label", ""), "classifier": r.get("classifier", ""),
                          "truth_app": r.get("truth_app")})
    return flows


def ndpi_flows(ndpi, pcap, out, no_guess=False, timeout=300):
    """nDPI's sessions from two runs: ndpiReader 4.2's CSV (-C) holds only the flows it detected,
    and with -v 1 only those it did not ("Undetected flows"); together, every flow."""
    flows = []
    for verbose, path in ((False, out), (True, out + ".undetected.csv")):
        cmd = [ndpi, "-i", pcap, "-C", path, "-q"] + (["-v", "1"] if verbose else []) + (["-d"] if no_guess else [])
        run(cmd, timeout, "ndpiReader")
        with open(path, newline="") as f:
            rd = csv.reader(f)
            hdr = next(rd, None)
            if not hdr:
                continue
            hdr[0] = hdr[0].lstrip("#")
            ix = {h: i for i, h in enumerate(hdr)}
            for row in rd:
                if len(row) < len(hdr) - 5:
                    continue
                try:
                    p = int(row[ix["protocol"]])
                    key = canon(p, row[ix["src_ip"]], row[ix["src_port"]] or 0, row[ix["dst_ip"]], row[ix["dst_port"]] or 0)
                    first = float(row[ix["first_seen"]])
                except (ValueError, KeyError):
                    continue
                name = row[ix["ndpi_proto"]] if not verbose else "Unknown"
                app, sub = ndpi_to_tide(name)
                flows.append({"key": key, "first": first, "app": app, "sub": sub, "ndpi": name,
                              "label": row[ix["server_name_sni"]] if "server_name_sni" in ix else ""})
    return flows


def ndpi_to_tide(name):
    """'master.app' (e.g. TLS.Google, PostgreSQL.HTTP): the most specific part tide knows wins."""
    for part in reversed(name.split(".")):
        if part in NDPI_MAP:
            return NDPI_MAP[part]
    return ("nDPI:" + name, "")


# ---- join and score ----------------------------------------------------------------------------
def join(truth, flows, slack=1.0):
    """For each truth session, the tool's session with the same key starting closest to it
    within its window (+-slack); None when the tool has none. Also returns the number of tool
    sessions that no truth session claims (truth unknown: excluded)."""
    by_key = collections.defaultdict(list)
    for i, f in enumerate(flows):
        by_key[f["key"]].append(i)
    used = set()
    out = []
    for t in truth:
        best = None
        for i in by_key.get(t["key"], []):
            f = flows[i]
            if t["first"] and not (t["first"] - slack <= f["first"] <= (t["last"] or t["first"]) + slack):
                continue
            d = abs(f["first"] - t["first"])
            if best is None or d < best[0]:
                best = (d, i)
        if best:
            used.add(best[1])
            out.append(flows[best[1]])
        else:
            out.append(None)
    # ICMP: one nDPI flow may stand for tide's request and reply sessions: claimed once is enough
    unclaimed = sum(1 for i in range(len(flows)) if i not in used and not any(
        flows[i]["key"] == flows[j]["key"] for j in used))
    return out, unclaimed


def score(truth, preds, sub=False):
    """Per truth class: support, precision, recall, F1; overall accuracy."""
    def lab(app, s):
        return app + ("/" + s if sub and s else "")
    y = [lab(t["app"], t["sub"]) for t in truth]
    p = [lab(f["app"], f["sub"]) if f else "(missing)" for f in preds]
    classes = sorted(set(y))
    res = {}
    for c in classes:
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        pc = sum(1 for b in p if b == c)
        sc = sum(1 for a in y if a == c)
        prec = tp / pc if pc else 0.0
        rec = tp / sc if sc else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        res[c] = {"support": sc, "precision": prec, "recall": rec, "f1": f1, "predicted": pc}
    correct = sum(1 for a, b in zip(y, p) if a == b)
    acc = correct / len(y) if y else 0.0
    macro = sum(r["f1"] for r in res.values()) / len(res) if res else 0.0
    return {"classes": res, "accuracy": acc, "correct": correct, "n": len(y), "macro_f1": macro,
            "unknown": sum(1 for b in p if b == "unknown"), "missing": sum(1 for b in p if b == "(missing)"),
            "confusion": collections.Counter((a, b) for a, b in zip(y, p) if a != b)}


def subset_acc(truth, preds, mask):
    n = c = 0
    for t, f, m in zip(truth, preds, mask):
        if m:
            n += 1
            c += bool(f and f["app"] == t["app"])
    return (c / n if n else 0.0), n


def chance(truth):
    cnt = collections.Counter(t["app"] for t in truth)
    n = sum(cnt.values())
    if not n:
        return 0.0, 0.0, ""
    maj, k = cnt.most_common(1)[0]
    return k / n, sum((v / n) ** 2 for v in cnt.values()), maj


# ---- output ------------------------------------------------------------------------------------
def pct(x):
    return "%.1f" % (100 * x)


def table(rows, header, markdown):
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(out)
    w = [max(len(str(x)) for x in [h] + [r[i] for r in rows]) for i, h in enumerate(header)]
    fmt = "  ".join("%-" + str(w[0]) + "s" if i == 0 else "%" + str(w[i]) + "s" for i in range(len(header)))
    return "\n".join([fmt % tuple(header)] + [fmt % tuple(r) for r in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap", required=True, help="the capture to classify")
    ap.add_argument("--truth", required=True, help="its ground truth (tide's truth CSV)")
    ap.add_argument("--tide", default=os.path.join(ROOT, "build", "dataplane", "tide-dataplane"))
    ap.add_argument("--plugins", help="tide --plugins FILE (default: config/enabled_plugins)")
    ap.add_argument("--ndpi", default="ndpiReader", help="ndpiReader binary (Debian: libndpi-bin)")
    ap.add_argument("--no-ndpi", action="store_true", help="tide only")
    ap.add_argument("--ndpi-no-guess", action="store_true", help="ndpiReader -d: DPI only, no port guess")
    ap.add_argument("--train-pcap", help="train tide's stat classifier on this capture ...")
    ap.add_argument("--train-truth", help="... labelled by this truth, then report stat alone on --pcap")
    ap.add_argument("--markdown", action="store_true", help="Markdown tables (docs/BENCHMARKS.md)")
    ap.add_argument("--json", help="also write the numbers as JSON here")
    ap.add_argument("--keep", help="keep the tools' outputs in this directory")
    ap.add_argument("--mistakes", type=int, default=8, help="list this many confusions per tool")
    a = ap.parse_args()
    if bool(a.train_pcap) != bool(a.train_truth):
        ap.error("--train-pcap and --train-truth go together")
    if not a.no_ndpi and not shutil.which(a.ndpi):
        ap.error("%s not found: apt-get install libndpi-bin, or --no-ndpi" % a.ndpi)

    work = a.keep or tempfile.mkdtemp(prefix="tide-accuracy-")
    os.makedirs(work, exist_ok=True)
    try:
        truth = load_truth(a.truth)
        extra = ["--plugins", a.plugins] if a.plugins else []
        tide = tide_flows(a.tide, a.pcap, os.path.join(work, "tide-flows.csv"), a.truth, extra)
        tide_pred, tide_unclaimed = join(truth, tide)
        results = {"tide": score(truth, tide_pred)}
        tide_sub = score(truth, tide_pred, sub=True)
        preds = {"tide": tide_pred}
        unclaimed = {"tide": tide_unclaimed}
        if not a.no_ndpi:
            nd = ndpi_flows(a.ndpi, a.pcap, os.path.join(work, "ndpi.csv"), a.ndpi_no_guess)
            preds["nDPI"], unclaimed["nDPI"] = join(truth, nd)
            results["nDPI"] = score(truth, preds["nDPI"])
        stat = None
        if a.train_pcap:
            mdir = os.path.join(work, "model")
            os.makedirs(mdir, exist_ok=True)
            tide_flows(a.tide, a.train_pcap, os.path.join(work, "train-flows.csv"), a.train_truth,
                       ["--train", "--model-dir", mdir])
            if not os.path.exists(os.path.join(mdir, "stat.model")):
                raise SystemExit("tide --train wrote no %s" % os.path.join(mdir, "stat.model"))
            pl = os.path.join(work, "stat-only.plugins")
            with open(pl, "w") as f:
                f.write("stat\n")
            sf = tide_flows(a.tide, a.pcap, os.path.join(work, "stat-flows.csv"), a.truth,
                            ["--plugins", pl, "--model-dir", mdir])
            preds["tide stat"], unclaimed["tide stat"] = join(truth, sf)
            stat = results["tide stat"] = score(truth, preds["tide stat"])

        tools = list(results)
        rules = load_ports(os.path.join(ROOT, "config", "ports.txt"))
        std = [port_app(rules, t) == t["app"] for t in truth]
        md = a.markdown
        p = print
        title = "Identification accuracy: %s (%d labelled sessions)" % (os.path.basename(a.pcap), len(truth))
        p(("### " if md else "") + title)
        p()
        header = ["application", "support"]
        for t in tools:
            header += ["%s P" % t, "%s R" % t, "%s F1" % t]
        rows = []
        for c in sorted(results["tide"]["classes"], key=lambda c: (-results["tide"]["classes"][c]["support"], c)):
            r = [c, results["tide"]["classes"][c]["support"]]
            for t in tools:
                m = results[t]["classes"][c]
                r += [pct(m["precision"]), pct(m["recall"]), pct(m["f1"])]
            rows.append(r)
        p(table(rows, header, md))
        p()
        header2 = ["", "sessions"] + tools
        srows = [["accuracy (all)", len(truth)] + [pct(results[t]["accuracy"]) for t in tools]]
        for name, mask in (("accuracy, standard port", std), ("accuracy, non-standard port", [not s for s in std])):
            srows.append([name, sum(mask)] + [pct(subset_acc(truth, preds[t], mask)[0]) for t in tools])
        srows.append(["macro F1", len(truth)] + [pct(results[t]["macro_f1"]) for t in tools])
        srows.append(["answered unknown", ""] + [results[t]["unknown"] for t in tools])
        srows.append(["session not reported", ""] + [results[t]["missing"] for t in tools])
        srows.append(["sessions with unknown truth (excluded)", ""] + [unclaimed[t] for t in tools])
        p(table(srows, header2, md))
        p()
        p(("" if md else "") + "tide sub-application accuracy (TLS/HTTP2, QUIC/HTTP3, FTP/data, ...): %s%% (%d/%d)" % (
            pct(tide_sub["accuracy"]), tide_sub["correct"], tide_sub["n"]))
        p()
        if stat:
            maj, prior, majname = chance(truth)
            p(("#### " if md else "") + "Train on one capture, classify another: tide's stat classifier alone")
            p()
            p("trained on %s (%d labelled sessions), classifying %s:" % (
                os.path.basename(a.train_pcap), len(load_truth(a.train_truth)), os.path.basename(a.pcap)))
            p()
            p(table([["stat alone", pct(stat["accuracy"]), pct(stat["macro_f1"]), stat["unknown"]],
                     ["chance: always the majority class (%s)" % majname, pct(maj), "", ""],
                     ["chance: guess by class frequencies", pct(prior), "", ""]],
                    ["", "accuracy %", "macro F1 %", "unknown"], md))
            p()
        for t in tools:
            conf = results[t]["confusion"].most_common(a.mistakes)
            if conf:
                p(("" if md else "") + "%s's most frequent mistakes (truth -> answer): %s" % (
                    t, "; ".join("%s -> %s x%d" % (x, y, n) for (x, y), n in conf)))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({t: {k: v for k, v in r.items() if k != "confusion"} for t, r in results.items()},
                          f, indent=1)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
