"""pcapio — read and write classic pcap and pcapng, and check pcapng block structure.

Test-side reference implementation, python3 stdlib only, written independently of tide's C
reader/writer so that the two can check each other. Everything is a list of `Record`s:
(ts_ns, caplen, wirelen, data, linktype, ifindex). Timestamps are integer nanoseconds since the
epoch whatever the file's resolution (pcapng if_tsresol and if_tsoffset are applied).

Reading:   read(path) -> Capture(format, records, interfaces, isbs, sections)
Writing:   write_pcap(path, records, linktype, ...), write_pcapng(path, records, interfaces, ...)
Checking:  check_pcapng(path) -> summary dict, raises PcapError("PATH: offset N: reason")
"""

import collections
import struct

__all__ = [
    "PcapError", "Record", "Interface", "Capture", "read", "read_records", "write_pcap",
    "write_pcapng", "check_pcapng", "ISB_OPTION_NAMES",
]

Record = collections.namedtuple("Record", "ts_ns caplen wirelen data linktype ifindex")
Record.__new__.__defaults__ = (0,)  # ifindex defaults to 0

# linktype, snaplen, tsresol (pcapng option value; 6 = µs, 9 = ns), name, tsoffset (seconds)
Interface = collections.namedtuple("Interface", "linktype snaplen tsresol name tsoffset")
Interface.__new__.__defaults__ = (6, None, 0)

Capture = collections.namedtuple("Capture", "format records interfaces isbs sections")

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D

BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_PB = 0x00000002  # obsolete Packet Block
BT_SPB = 0x00000003
BT_NRB = 0x00000004
BT_ISB = 0x00000005
BT_EPB = 0x00000006
BT_DSB = 0x0000000A
BYTE_ORDER_MAGIC = 0x1A2B3C4D

ISB_OPTION_NAMES = {
    2: "isb_starttime", 3: "isb_endtime", 4: "isb_ifrecv", 5: "isb_ifdrop",
    6: "isb_filteraccept", 7: "isb_osdrop", 8: "isb_usrdeliv",
}

# Upper bound on any single block we accept; real captures never come near it and a corrupt
# length field must not make us allocate gigabytes.
MAX_BLOCK = 64 << 20


class PcapError(Exception):
    """A malformed file; the message is "PATH: offset N: reason"."""


def _err(path, off, reason):
    return PcapError("%s: offset %d: %s" % (path, off, reason))


# ----------------------------------------------------------------------------- reading

def read(path, partial=False):
    """Read a pcap or pcapng file; raises PcapError on anything malformed. With partial=True
    a bad record ends the capture instead: the records before it are returned (a file whose
    header is bad still raises)."""
    with open(path, "rb") as f:
        buf = f.read()
    if partial:
        n = len(buf)
        while True:
            try:
                return read_bytes(path, buf[:n])
            except PcapError as e:
                off = int(str(e).split(": offset ")[1].split(":")[0])
                if off == 0 or off >= n:
                    raise
                n = off
    return read_bytes(path, buf)


def read_bytes(path, buf):
    if len(buf) < 4:
        raise _err(path, 0, "file too short for a header")
    magic_le = struct.unpack_from("<I", buf, 0)[0]
    if magic_le == BT_SHB:
        return _read_pcapng(path, buf)
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", buf, 0)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return _read_pcap(path, buf, endian, magic == PCAP_MAGIC_NS)
    raise _err(path, 0, "unknown file magic 0x%08x" % magic_le)


def read_records(path):
    return read(path).records


def _read_pcap(path, buf, e, nano):
    if len(buf) < 24:
        raise _err(path, 0, "truncated pcap file header")
    _, vmaj, vmin, _, _, snaplen, network = struct.unpack_from(e + "IHHiIII", buf, 0)
    linktype = network & 0x0FFFFFFF
    iface = Interface(linktype, snaplen, 9 if nano else 6, None, 0)
    recs = []
    off = 24
    while off < len(buf):
        if len(buf) - off < 16:
            raise _err(path, off, "truncated record header")
        sec, frac, caplen, wirelen = struct.unpack_from(e + "IIII", buf, off)
        if caplen > len(buf) - off - 16:
            raise _err(path, off, "record data truncated (caplen %d)" % caplen)
        if caplen > MAX_BLOCK:
            raise _err(path, off, "caplen %d too large" % caplen)
        data = buf[off + 16:off + 16 + caplen]
        ts = sec * 1000000000 + (frac if nano else frac * 1000)
        recs.append(Record(ts, caplen, wirelen, bytes(data), linktype, 0))
        off += 16 + caplen
    return Capture("pcap-ns" if nano else "pcap", recs, [iface], [], 1)


def _parse_options(path, buf, off, end, e):
    """Yield (code, value) for the options in buf[off:end]; stop at opt_endofopt."""
    while off < end:
        if end - off < 4:
            raise _err(path, off, "truncated option header")
        code, length = struct.unpack_from(e + "HH", buf, off)
        if code == 0:
            return
        if off + 4 + length > end:
            raise _err(path, off, "option %d length %d past end of block" % (code, length))
        yield code, bytes(buf[off + 4:off + 4 + length])
        off += 4 + ((length + 3) & ~3)


def _tsresol_units(v):
    """Ticks per second for an if_tsresol byte."""
    if v & 0x80:
        return 1 << (v & 0x7F)
    return 10 ** v


def _ticks_to_ns(ticks, units):
    if units == 1000000000:
        return ticks
    return ticks * 1000000000 // units


def _walk_pcapng(path, buf):
    """Yield (offset, endian, type, body_start, body_end) for each block, validating framing."""
    off = 0
    e = None
    n = len(buf)
    while off < n:
        if n - off < 12:
            raise _err(path, off, "truncated block header")
        btype_le = struct.unpack_from("<I", buf, off)[0]
        if btype_le == BT_SHB:
            if n - off < 28:
                raise _err(path, off, "truncated section header block")
            bom = struct.unpack_from("<I", buf, off + 8)[0]
            if bom == BYTE_ORDER_MAGIC:
                e = "<"
            elif bom == 0x4D3C2B1A:
                e = ">"
            else:
                raise _err(path, off, "bad byte-order magic 0x%08x" % bom)
        elif e is None:
            raise _err(path, off, "file does not start with a section header block")
        btype, blen = struct.unpack_from(e + "II", buf, off)
        if blen < 12 or blen % 4:
            raise _err(path, off, "bad block total length %d" % blen)
        if blen > MAX_BLOCK:
            raise _err(path, off, "block total length %d too large" % blen)
        if off + blen > n:
            raise _err(path, off, "block of %d bytes runs past end of file (%d bytes left)"
                       % (blen, n - off))
        trailer = struct.unpack_from(e + "I", buf, off + blen - 4)[0]
        if trailer != blen:
            raise _err(path, off, "trailing block length %d != %d" % (trailer, blen))
        yield off, e, btype, off + 8, off + blen - 4
        off += blen


def _read_pcapng(path, buf):
    recs, all_ifaces, isbs = [], [], []
    sections = 0
    ifaces = []  # of the current section: (Interface, units, global index)
    for off, e, btype, body, end in _walk_pcapng(path, buf):
        if btype == BT_SHB:
            sections += 1
            ifaces = []
            vmaj, vmin = struct.unpack_from(e + "HH", buf, body + 4)
            if vmaj != 1:
                raise _err(path, off, "unsupported pcapng version %d.%d" % (vmaj, vmin))
        elif btype == BT_IDB:
            if end - body < 8:
                raise _err(path, off, "interface description block too short")
            lt, _, snap = struct.unpack_from(e + "HHI", buf, body)
            tsresol, tsoff, name = 6, 0, None
            for code, val in _parse_options(path, buf, body + 8, end, e):
                if code == 9 and len(val) >= 1:
                    tsresol = val[0]
                elif code == 14 and len(val) == 8:
                    tsoff = struct.unpack(e + "q", val)[0]
                elif code == 2:
                    name = val.rstrip(b"\0").decode("utf-8", "replace")
            iface = Interface(lt, snap, tsresol, name, tsoff)
            ifaces.append((iface, _tsresol_units(tsresol), len(all_ifaces)))
            all_ifaces.append(iface)
        elif btype in (BT_EPB, BT_PB):
            if end - body < 20:
                raise _err(path, off, "packet block too short")
            if btype == BT_EPB:
                ifid, tsh, tsl, caplen, wirelen = struct.unpack_from(e + "IIIII", buf, body)
            else:
                ifid, _drops, tsh, tsl, caplen, wirelen = struct.unpack_from(e + "HHIIII", buf, body)
            if ifid >= len(ifaces):
                raise _err(path, off, "packet for undeclared interface %d" % ifid)
            if body + 20 + caplen > end:
                raise _err(path, off, "captured length %d past end of block" % caplen)
            iface, units, gidx = ifaces[ifid]
            ts = _ticks_to_ns((tsh << 32) | tsl, units) + iface.tsoffset * 1000000000
            recs.append(Record(ts, caplen, wirelen, bytes(buf[body + 20:body + 20 + caplen]),
                               iface.linktype, gidx))
        elif btype == BT_SPB:
            if not ifaces:
                raise _err(path, off, "simple packet block before any interface")
            iface, _, gidx = ifaces[0]
            wirelen = struct.unpack_from(e + "I", buf, body)[0]
            caplen = wirelen if not iface.snaplen else min(wirelen, iface.snaplen)
            if body + 4 + caplen > end:
                raise _err(path, off, "simple packet data past end of block")
            if end - body - 4 != (caplen + 3) // 4 * 4:
                raise _err(path, off, "simple packet block holds %d data bytes, expected %d"
                           % (end - body - 4, caplen))
            recs.append(Record(None, caplen, wirelen, bytes(buf[body + 4:body + 4 + caplen]),
                               iface.linktype, gidx))
        elif btype == BT_ISB:
            if end - body < 12:
                raise _err(path, off, "interface statistics block too short")
            ifid, tsh, tsl = struct.unpack_from(e + "III", buf, body)
            if ifid >= len(ifaces):
                raise _err(path, off, "statistics for undeclared interface %d" % ifid)
            iface, units, gidx = ifaces[ifid]
            st = {"ifindex": gidx, "ts_ns": _ticks_to_ns((tsh << 32) | tsl, units)}
            for code, val in _parse_options(path, buf, body + 12, end, e):
                if code in ISB_OPTION_NAMES and len(val) == 8:
                    st[ISB_OPTION_NAMES[code]] = struct.unpack(e + "Q", val)[0]
            isbs.append(st)
    return Capture("pcapng", recs, all_ifaces, isbs, sections)


# ----------------------------------------------------------------------------- checking

def check_pcapng(path, tide_shard=False):
    """Validate a pcapng file's block structure.

    Checks the framing of every block (type, equal leading and trailing lengths, multiple of 4,
    nothing past end of file), that the file starts with an SHB, that every EPB/PB/ISB names an
    interface declared earlier in its section, that packet data and options fit their block, and
    that SPBs come after an IDB. With tide_shard=True also checks tide's shard layout: one
    section, SHB then exactly one IDB first, packets only on interface 0, an ISB last.
    Returns a summary {"blocks": {type: n}, "packets": n, "isbs": [...]}; raises PcapError.
    """
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 28:
        raise _err(path, 0, "file too short (%d bytes) for a section header block" % len(buf))
    if struct.unpack_from("<I", buf, 0)[0] != BT_SHB:
        raise _err(path, 0, "file does not start with a section header block")
    counts = collections.Counter()
    order = []
    for off, e, btype, body, end in _walk_pcapng(path, buf):
        counts[btype] += 1
        order.append((off, btype))
        if btype == BT_SHB:
            vmaj = struct.unpack_from(e + "H", buf, body + 4)[0]
            if vmaj != 1:
                raise _err(path, off, "section header major version %d" % vmaj)
            if end - body < 16:
                raise _err(path, off, "section header block too short")
            list(_parse_options(path, buf, body + 16, end, e))
        elif btype == BT_IDB:
            list(_parse_options(path, buf, body + 8, end, e))
    # _read_pcapng re-walks with semantic checks (interfaces, lengths, options of packets).
    cap = _read_pcapng(path, buf)
    if tide_shard:
        types = [t for _, t in order]
        if types[:2] != [BT_SHB, BT_IDB]:
            raise _err(path, 0, "shard does not start with SHB then IDB")
        if counts[BT_SHB] != 1 or counts[BT_IDB] != 1:
            raise _err(path, 0, "shard has %d sections and %d interfaces, expected 1 and 1"
                       % (counts[BT_SHB], counts[BT_IDB]))
        if types[-1] != BT_ISB:
            raise _err(path, order[-1][0], "shard does not end with an interface statistics block")
        for off, t in order[2:-1]:
            if t not in (BT_EPB, BT_ISB, BT_SPB):
                raise _err(path, off, "unexpected block type 0x%x inside a shard" % t)
    return {"blocks": dict(counts), "packets": len(cap.records), "isbs": cap.isbs,
            "interfaces": cap.interfaces}


# ----------------------------------------------------------------------------- writing

def _rec_fields(r):
    """Accept Records or (ts_ns, data[, wirelen]) tuples."""
    if isinstance(r, Record):
        return r.ts_ns, r.data, r.wirelen, r.ifindex
    ts, data = r[0], r[1]
    wirelen = r[2] if len(r) > 2 and r[2] is not None else len(data)
    return ts, data, wirelen, 0


def write_pcap(path, records, linktype, snaplen=262144, nano=False, big_endian=False):
    """Classic pcap. Timestamps are truncated to µs unless nano=True."""
    e = ">" if big_endian else "<"
    out = [struct.pack(e + "IHHiIII", PCAP_MAGIC_NS if nano else PCAP_MAGIC_US, 2, 4, 0, 0,
                       snaplen, linktype)]
    for r in records:
        ts, data, wirelen, _ = _rec_fields(r)
        sec, ns = divmod(ts, 1000000000)
        out.append(struct.pack(e + "IIII", sec, ns if nano else ns // 1000, len(data), wirelen))
        out.append(data)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def _opt(e, code, val):
    pad = (-len(val)) % 4
    return struct.pack(e + "HH", code, len(val)) + val + b"\0" * pad


def _block(e, btype, body):
    body += b"\0" * ((-len(body)) % 4)
    blen = len(body) + 12
    return struct.pack(e + "II", btype, blen) + body + struct.pack(e + "I", blen)


def shb(e="<", app=None):
    opts = b""
    if app:
        opts = _opt(e, 4, app.encode()) + _opt(e, 0, b"")
    return _block(e, BT_SHB, struct.pack(e + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts)


def idb(iface, e="<"):
    opts = _opt(e, 9, bytes([iface.tsresol]))
    if iface.name:
        opts = _opt(e, 2, iface.name.encode()) + opts
    if iface.tsoffset:
        opts += _opt(e, 14, struct.pack(e + "q", iface.tsoffset))
    opts += _opt(e, 0, b"")
    return _block(e, BT_IDB, struct.pack(e + "HHI", iface.linktype, 0, iface.snaplen or 0) + opts)


def _ticks(ts_ns, iface):
    units = _tsresol_units(iface.tsresol)
    ts_ns -= iface.tsoffset * 1000000000
    return ts_ns * units // 1000000000


def epb(ts_ns, data, wirelen, ifindex, iface, e="<"):
    t = _ticks(ts_ns, iface)
    return _block(e, BT_EPB, struct.pack(e + "IIIII", ifindex, t >> 32, t & 0xFFFFFFFF,
                                         len(data), wirelen) + data)


def spb(data, wirelen, e="<"):
    return _block(e, BT_SPB, struct.pack(e + "I", wirelen) + data)


def isb(ifindex, ts_ns, iface, counters, e="<"):
    """counters: {"isb_ifrecv": n, "isb_ifdrop": n, ...}"""
    t = _ticks(ts_ns, iface)
    codes = {v: k for k, v in ISB_OPTION_NAMES.items()}
    opts = b"".join(_opt(e, codes[k], struct.pack(e + "Q", v)) for k, v in sorted(counters.items()))
    opts += _opt(e, 0, b"")
    return _block(e, BT_ISB, struct.pack(e + "III", ifindex, t >> 32, t & 0xFFFFFFFF) + opts)


def write_pcapng(path, records, interfaces, big_endian=False, use_spb=False, isbs=None,
                 extra_blocks=None, app="tide-tests pcapio"):
    """One section: SHB, one IDB per Interface, then one EPB per record on record.ifindex
    (or SPBs when use_spb and there is a single interface), then ISBs ((ifindex, ts_ns,
    {counter: value}) tuples). extra_blocks: list of (position, raw block bytes) inserted
    before the record at that position (to test that readers skip unknown blocks)."""
    e = ">" if big_endian else "<"
    out = [shb(e, app)] + [idb(i, e) for i in interfaces]
    extra = collections.defaultdict(list)
    for pos, blk in extra_blocks or []:
        extra[pos].append(blk)
    for n, r in enumerate(records):
        out.extend(extra.pop(n, []))
        ts, data, wirelen, ifx = _rec_fields(r)
        if use_spb:  # an SPB holds min(wirelen, snaplen) bytes and no timestamp
            snap = interfaces[0].snaplen
            out.append(spb(data[:snap] if snap else data, wirelen, e))
        else:
            out.append(epb(ts, data, wirelen, ifx, interfaces[ifx], e))
    for blks in extra.values():
        out.extend(blks)
    for ifx, ts, counters in isbs or []:
        out.append(isb(ifx, ts, interfaces[ifx], counters, e))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def raw_block(btype, body, big_endian=False):
    """A raw pcapng block (for unknown/custom block tests)."""
    return _block(">" if big_endian else "<", btype, body)


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        c = read(p)
        print("%s: %s, %d records, interfaces %s, %d isbs" % (p, c.format, len(c.records),
                                                              [i.linktype for i in c.interfaces],
                                                              len(c.isbs)))
        if c.format == "pcapng":
            print("  check:", check_pcapng(p)["blocks"])
