"""trafficgen — deterministic packet builders and named traffic mixes for tide's tests.

python3 stdlib only (struct). Every builder returns bytes with correct checksums (IPv4 header,
TCP/UDP/ICMP/ICMPv6 with the IPv4/IPv6 pseudo-header, SCTP CRC32c), so a test can check that a
transform (anonymisation) kept them valid. Every generated packet carries the parse status tide
is expected to give it ("ok", "truncated", "malformed", "non_ip"), decided here from how the
packet was built, never from a tide run, so tests can compare tide's parse counters to it.

Mixes (all deterministic for a given seed, < 1 MB):
  ethernet_mix   TCP sessions (handshake, data, FIN/RST, ECN, URG), DNS, QUIC-like 443, NTP,
                 random high-port UDP, ICMP/ICMPv6 echo, ND, SCTP, ARP, LLDP, IPv4 options and
                 IPv4 fragments, hosts in several /24s and /64s
  vlan_mix       the same kinds of traffic, 802.1Q tagged, QinQ (0x88a8 outer) and untagged
  ipv6_mix       IPv6 with hop-by-hop, routing (SRH), destination options and fragment headers
  malformed_mix  good packets interleaved with truncated and malformed frames
Link-type conversions: to_linktype(pkts, LINKTYPE_*) re-frames Ethernet packets as Linux SLL,
SLL2, raw IP or BSD loopback, dropping what that link type cannot carry.
"""

import collections
import random
import struct

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ, ETH_LLDP = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8, 0x88CC
PROTO_HOPOPT, PROTO_ICMP, PROTO_TCP, PROTO_UDP = 0, 1, 6, 17
PROTO_ROUTING, PROTO_FRAGMENT, PROTO_ICMPV6, PROTO_NONE, PROTO_DSTOPTS, PROTO_SCTP = 43, 44, 58, 59, 60, 132

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

BASE_TS_NS = 1700000000 * 1000000000  # 2023-11-14T22:13:20Z

# A generated packet. `data` is what was captured (caplen = len(data)), `wirelen` the length on
# the wire. `l3_off`/`l3_len` locate the network-layer packet (without Ethernet padding) in the
# full frame so it can be re-framed for another link type; `ethertype` is the innermost one.
Pkt = collections.namedtuple("Pkt", "ts_ns data wirelen expect kind ethertype l3_off l3_len")

# ----------------------------------------------------------------------------- checksums


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def l4_checksum(src, dst, proto, segment):
    """Checksum of a TCP/UDP/ICMPv6 segment whose checksum field is zero."""
    c = csum16(_pseudo(src, dst, proto, len(segment)) + segment)
    if proto == PROTO_UDP and c == 0:
        c = 0xFFFF
    return c


_CSUM_OFF = {PROTO_TCP: 16, PROTO_UDP: 6, PROTO_ICMPV6: 2}


def with_l4_checksum(src, dst, proto, segment):
    off = _CSUM_OFF[proto]
    seg = bytearray(segment)
    seg[off:off + 2] = b"\0\0"
    seg[off:off + 2] = struct.pack("!H", l4_checksum(src, dst, proto, bytes(seg)))
    return bytes(seg)


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

# ----------------------------------------------------------------------------- addresses


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def ip6(s):
    if "::" in s:
        head, tail = s.split("::")
        h = [x for x in head.split(":") if x]
        t = [x for x in tail.split(":") if x]
        groups = h + ["0"] * (8 - len(h) - len(t)) + t
    else:
        groups = s.split(":")
    return b"".join(struct.pack("!H", int(g, 16)) for g in groups)


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def mac_for(addr):
    """A stable locally-administered unicast MAC for an IP address."""
    h = sum(addr) * 7919 + len(addr)
    return bytes([0x02, 0x10 + len(addr)]) + addr[-4:] if len(addr) == 4 else \
        bytes([0x02, 0x66, (h >> 8) & 0xFF]) + addr[-3:]


BROADCAST = b"\xff" * 6


def ipv6_mcast_mac(addr):
    return b"\x33\x33" + addr[-4:]


def solicited_node(addr):
    return ip6("ff02::1:ff00:0")[:13] + addr[13:]

# ----------------------------------------------------------------------------- link layer


def eth(dst, src, ethertype, payload, vlans=(), pad=True):
    """Ethernet II frame (no FCS). vlans: ((tpid, vid[, pcp]), ...) outermost first."""
    hdr = dst + src
    for v in vlans:
        tpid, vid = v[0], v[1]
        pcp = v[2] if len(v) > 2 else 0
        hdr += struct.pack("!HH", tpid, (pcp << 13) | vid)
    frame = hdr + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def eth_payload(frame):
    """(ethertype, offset of the payload) of an Ethernet II frame, its VLAN tags (802.1Q, QinQ)
    skipped: where a reader of a capture finds the IP header."""
    off = 12
    et = struct.unpack_from("!H", frame, off)[0]
    while et in (ETH_VLAN, ETH_QINQ):
        off += 4
        et = struct.unpack_from("!H", frame, off)[0]
    return et, off + 2


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, op) + sha + spa + tha + tpa


def lldp(chassis_mac, port_name, ttl=120, sysname=b"sw-core-1"):
    def tlv(t, v):
        return struct.pack("!H", (t << 9) | len(v)) + v
    return (tlv(1, b"\x04" + chassis_mac) + tlv(2, b"\x05" + port_name) +
            tlv(3, struct.pack("!H", ttl)) + tlv(5, sysname) + tlv(0, b""))

# ----------------------------------------------------------------------------- IPv4


def ipv4(src, dst, proto, payload, ttl=64, ident=0, tos=0, df=True, mf=False, frag_off=0,
         options=b"", ihl=None, total_len=None):
    """IPv4 packet with a correct header checksum. frag_off in bytes (multiple of 8).
    ihl/total_len override the computed values (to build malformed headers)."""
    options += b"\0" * ((-len(options)) % 4)
    hl = 20 + len(options)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl if ihl is not None else hl // 4), tos,
                      total_len if total_len is not None else hl + len(payload), ident, flags,
                      ttl, proto, 0, src, dst) + options
    c = csum16(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ip4_opt_router_alert():
    return b"\x94\x04\x00\x00"


def ip4_opt_record_route(n=3):
    return bytes([7, 3 + 4 * n, 4]) + b"\0" * (4 * n) + b"\x01"  # + NOP to align


def ip4_opt_timestamp(n=2):
    return bytes([68, 4 + 4 * n, 5, 0]) + b"\0" * (4 * n)


def ipv4_fragments(src, dst, proto, l4, ident, mtu=1500, ttl=64):
    """Split an L4 datagram (checksum already set) into IPv4 fragments."""
    chunk = (mtu - 20) // 8 * 8
    out = []
    for off in range(0, len(l4), chunk):
        part = l4[off:off + chunk]
        more = off + chunk < len(l4)
        out.append(ipv4(src, dst, proto, part, ttl=ttl, ident=ident, df=False, mf=more, frag_off=off))
    return out

# ----------------------------------------------------------------------------- IPv6


def ipv6(src, dst, nh, payload, hlim=64, flow=0, tclass=0):
    return struct.pack("!IHBB", (6 << 28) | (tclass << 20) | flow, len(payload), nh, hlim) + src + dst + payload


def ext_hop_by_hop(nh, options=b"\x05\x02\x00\x00"):
    """Hop-by-hop options (default: router alert MLD) padded with PadN to 8 bytes."""
    body = options
    rem = (-(len(body) + 2)) % 8
    if rem == 1:
        body += b"\x00"
    elif rem:
        body += bytes([1, rem - 2]) + b"\0" * (rem - 2)
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body


def ext_dest_opts(nh, options=b""):
    return ext_hop_by_hop(nh, options or b"\x01\x04\x00\x00\x00\x00")


def ext_srh(nh, segments, segments_left):
    """Segment routing header (routing type 4). segments: final destination first (RFC 8754)."""
    body = struct.pack("!BBBBBBH", nh, 2 * len(segments), 4, segments_left, len(segments) - 1, 0, 0)
    return body + b"".join(segments)


def ext_fragment(nh, frag_off, more, ident):
    return struct.pack("!BBHI", nh, 0, (frag_off & 0xFFF8) | (1 if more else 0), ident)


def ipv6_chain(src, dst, exts, proto, l4, hlim=64):
    """IPv6 packet: exts is a list of (kind, args) with kind in hbh/dst/srh; the chain is built
    back to front so each header names the next. The L4 checksum must already be set."""
    nh, body = proto, l4
    for kind, args in reversed(exts):
        if kind == "hbh":
            hdr, code = ext_hop_by_hop(nh, *args), PROTO_HOPOPT
        elif kind == "dst":
            hdr, code = ext_dest_opts(nh, *args), PROTO_DSTOPTS
        elif kind == "srh":
            hdr, code = ext_srh(nh, *args), PROTO_ROUTING
        else:
            raise ValueError(kind)
        nh, body = code, hdr + body
    return ipv6(src, dst, nh, body, hlim=hlim)


def ipv6_fragments(src, dst, proto, l4, ident, chunk=1232, before=()):
    """Fragment an L4 datagram with IPv6 fragment headers (before: unfragmentable exts)."""
    out = []
    for off in range(0, len(l4), chunk):
        part = l4[off:off + chunk]
        more = off + chunk < len(l4)
        fh = ext_fragment(proto, off, more, ident)
        nh, body = PROTO_FRAGMENT, fh + part
        for kind, args in reversed(before):
            hdr = ext_hop_by_hop(nh, *args) if kind == "hbh" else ext_dest_opts(nh, *args)
            nh, body = (PROTO_HOPOPT if kind == "hbh" else PROTO_DSTOPTS), hdr + body
        out.append(ipv6(src, dst, nh, body))
    return out

# ----------------------------------------------------------------------------- transport


def tcp(sport, dport, seq, ack, flags, payload=b"", win=64240, urg=0, options=b"", doff=None):
    options += b"\x01" * ((-len(options)) % 4)
    off = doff if doff is not None else (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                       flags, win, 0, urg) + options + payload


def tcp_syn_options(mss=1460):
    return struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + b"\x08\x0a" + b"\0" * 8 + b"\x01\x03\x03\x07"


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp_echo(req, ident, seq, payload=b"abcdefghijklmnopqrstuvwabcdefghi"):
    hdr = struct.pack("!BBHHH", 8 if req else 0, 0, 0, ident, seq) + payload
    return hdr[:2] + struct.pack("!H", csum16(hdr)) + hdr[4:]


def icmp6_echo(req, ident, seq, payload=b"\x00" * 56):
    return struct.pack("!BBHHH", 128 if req else 129, 0, 0, ident, seq) + payload


def icmp6_ns(target, src_mac):
    return struct.pack("!BBHI", 135, 0, 0, 0) + target + b"\x01\x01" + src_mac


def icmp6_na(target, tgt_mac):
    return struct.pack("!BBHI", 136, 0, 0, 0x60000000) + target + b"\x02\x01" + tgt_mac


def sctp(sport, dport, vtag, chunks):
    pkt = struct.pack("!HHII", sport, dport, vtag, 0) + chunks
    return pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]


def sctp_init(tag, ack=False):
    body = struct.pack("!IIHHI", tag, 106496, 10, 10, tag ^ 0x5A5A)
    return struct.pack("!BBH", 2 if ack else 1, 0, 4 + len(body)) + body


def sctp_data(tsn, payload):
    c = struct.pack("!BBHIHHI", 0, 3, 16 + len(payload), tsn, 0, 0, 46) + payload
    return c + b"\0" * ((-len(c)) % 4)

# ----------------------------------------------------------------------------- application payloads


def dns_query(qid, name, qtype=1):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def dns_response(qid, name, addrs, qtype=1):
    q = dns_query(qid, name, qtype)[12:]
    ans = b""
    for a in addrs:
        ans += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(a)) + a
    return struct.pack("!HHHHHH", qid, 0x8180, 1, len(addrs), 0, 0) + q + ans


def ntp(mode, rng):
    li_vn_mode = (0 << 6) | (4 << 3) | mode
    return struct.pack("!BBbb", li_vn_mode, 2 if mode == 4 else 0, 6, -20) + bytes(rng.getrandbits(8) for _ in range(44))


def quic_long(rng, dcid, scid, size, ptype=0):
    """A QUIC v1 long-header packet (Initial by default), payload random, padded to `size`."""
    first = 0xC0 | (ptype << 4) | 0x03
    hdr = bytes([first]) + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    if ptype == 0:
        hdr += b"\x00"  # token length
    rest = max(size - len(hdr) - 2, 20)
    hdr += struct.pack("!H", 0x4000 | rest)
    return hdr + bytes(rng.getrandbits(8) for _ in range(rest))


def quic_short(rng, dcid, size):
    return bytes([0x40 | rng.randrange(0, 4)]) + dcid + bytes(rng.getrandbits(8) for _ in range(max(size - 1 - len(dcid), 1)))


def tls_client_hello(rng, sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    groups = struct.pack("!HHHHH", 10, 6, 4, 0x001d, 0x0017)
    versions = struct.pack("!HHBHH", 43, 5, 4, 0x0304, 0x0303)
    alpn = struct.pack("!HHHB", 16, 5, 3, 2) + b"h2"
    exts = sni_ext + groups + versions + alpn
    suites = struct.pack("!HHHHH", 8, 0x1301, 0x1302, 0x1303, 0xC02F)
    body = (struct.pack("!H", 0x0303) + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x20" +
            bytes(rng.getrandbits(8) for _ in range(32)) + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = struct.pack("!I", (1 << 24) | len(body)) + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def tls_server_hello(rng):
    body = (struct.pack("!H", 0x0303) + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x20" +
            bytes(rng.getrandbits(8) for _ in range(32)) + struct.pack("!HB", 0x1301, 0) +
            struct.pack("!H", 6) + struct.pack("!HHH", 43, 2, 0x0304))
    hs = struct.pack("!I", (2 << 24) | len(body)) + body
    return struct.pack("!BHH", 22, 0x0303, len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


def tls_app_data(rng, n):
    return struct.pack("!BHH", 23, 0x0303, n) + bytes(rng.getrandbits(8) for _ in range(n))

# ----------------------------------------------------------------------------- hosts

V4_NETS = ["10.1.1", "10.1.2", "192.168.7", "172.16.30"]
V4_SERVERS = ["198.51.100", "203.0.113"]
V6_NETS = ["2001:db8:1:1", "2001:db8:1:2", "2001:db8:ff:0"]
V6_SERVERS = ["2001:db8:cafe:1"]


class Hosts:
    """Hosts spread over several /24s and /64s, picked deterministically."""

    def __init__(self, rng):
        self.rng = rng
        self.v4_clients = [ip4("%s.%d" % (n, h)) for n in V4_NETS for h in rng.sample(range(2, 254), 6)]
        self.v4_servers = [ip4("%s.%d" % (n, h)) for n in V4_SERVERS for h in rng.sample(range(1, 254), 5)]
        self.v6_clients = [ip6("%s::%x" % (n, rng.randrange(1, 0xFFFF))) for n in V6_NETS for _ in range(4)]
        self.v6_servers = [ip6("%s::%x" % (n, rng.randrange(1, 0x1FF))) for n in V6_SERVERS for _ in range(4)]

    def pair4(self):
        return self.rng.choice(self.v4_clients), self.rng.choice(self.v4_servers)

    def pair6(self):
        return self.rng.choice(self.v6_clients), self.rng.choice(self.v6_servers)

    def local_pair4(self):
        net = self.rng.choice(V4_NETS)
        same = [a for a in self.v4_clients if a[:3] == ip4(net + ".0")[:3]]
        a, b = self.rng.sample(same, 2)
        return a, b


# ----------------------------------------------------------------------------- mix builder

class Mix:
    """Accumulates packets with increasing timestamps (µs granularity, so a classic µs pcap
    holds them exactly) and per-packet expected parse status."""

    def __init__(self, seed, vlan_policy=None):
        self.rng = random.Random(seed)
        self.hosts = Hosts(self.rng)
        self.ts = BASE_TS_NS
        self.pkts = []
        self.vlan_policy = vlan_policy  # callable(rng) -> vlans tuple

    def _tick(self):
        self.ts += self.rng.randrange(5, 20000) * 1000
        return self.ts

    def _vlans(self):
        return self.vlan_policy(self.rng) if self.vlan_policy else ()

    def add_l3(self, src_mac, dst_mac, ethertype, l3, kind, expect="ok", vlans=None):
        vl = self._vlans() if vlans is None else vlans
        frame = eth(dst_mac, src_mac, ethertype, l3, vl)
        self.pkts.append(Pkt(self._tick(), frame, len(frame), expect, kind, ethertype,
                             14 + 4 * len(vl), len(l3)))

    def add_frame(self, frame, kind, expect, wirelen=None, ethertype=0, l3_off=None, l3_len=None):
        self.pkts.append(Pkt(self._tick(), frame, wirelen or len(frame), expect, kind, ethertype,
                             l3_off, l3_len))

    # --- IP helpers choosing addresses, MACs
    def ip_packet(self, src, dst, proto, l4, kind, **kw):
        if len(src) == 4:
            self.add_l3(mac_for(src), mac_for(dst), ETH_IPV4,
                        ipv4(src, dst, proto, l4, ident=self.rng.getrandbits(16), **kw), kind)
        else:
            self.add_l3(mac_for(src), mac_for(dst), ETH_IPV6, ipv6(src, dst, proto, l4, **kw), kind)

    def tcp_pkt(self, src, dst, sport, dport, seq, ack, flags, payload=b"", kind="tcp", **kw):
        seg = with_l4_checksum(src, dst, PROTO_TCP, tcp(sport, dport, seq, ack, flags, payload, **kw))
        self.ip_packet(src, dst, PROTO_TCP, seg, kind)

    def udp_pkt(self, src, dst, sport, dport, payload, kind="udp"):
        seg = with_l4_checksum(src, dst, PROTO_UDP, udp(sport, dport, payload))
        self.ip_packet(src, dst, PROTO_UDP, seg, kind)

    # --- conversations
    def tcp_session(self, v6=False, dport=None, ecn=False, urg=False, end="fin", data_sizes=None,
                    sni=None):
        rng = self.rng
        c, s = self.hosts.pair6() if v6 else self.hosts.pair4()
        sport = rng.randrange(32768, 61000)
        dport = dport or rng.choice([80, 443, 22, 8080, 25, 993, rng.randrange(1024, 32768)])
        cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
        mss = 1440 if v6 else 1460
        self.tcp_pkt(c, s, sport, dport, cseq, 0, SYN | ((ECE | CWR) if ecn else 0),
                     options=tcp_syn_options(mss), kind="tcp-syn")
        self.tcp_pkt(s, c, dport, sport, sseq, cseq + 1, SYN | ACK | (ECE if ecn else 0),
                     options=tcp_syn_options(mss), kind="tcp-synack")
        cseq += 1
        sseq += 1
        self.tcp_pkt(c, s, sport, dport, cseq, sseq, ACK, kind="tcp-ack")
        sizes = data_sizes or [rng.choice([0, 40, 200, 517, rng.randrange(1, 1400)])
                               for _ in range(rng.randrange(1, 5))]
        first = True
        for n in sizes:
            if first and sni:
                req = tls_client_hello(rng, sni)
            else:
                req = bytes(rng.getrandbits(8) for _ in range(n))
            first = False
            fl = PSH | ACK
            if urg and n:
                fl |= URG
            self.tcp_pkt(c, s, sport, dport, cseq, sseq, fl, req, urg=min(len(req), 1) if urg else 0,
                         kind="tcp-data")
            cseq += len(req)
            maxpay = 1514 - 14 - (40 if v6 else 20) - 20
            resp_len = rng.choice([0, rng.randrange(100, maxpay + 1), maxpay])
            if resp_len:
                self.tcp_pkt(s, c, dport, sport, sseq, cseq, ACK | (CWR if ecn else 0),
                             bytes(rng.getrandbits(8) for _ in range(resp_len)), kind="tcp-data")
                sseq += resp_len
                self.tcp_pkt(c, s, sport, dport, cseq, sseq, ACK | (ECE if ecn else 0), kind="tcp-ack")
        if end == "fin":
            self.tcp_pkt(c, s, sport, dport, cseq, sseq, FIN | ACK, kind="tcp-fin")
            self.tcp_pkt(s, c, dport, sport, sseq, cseq + 1, FIN | ACK, kind="tcp-fin")
            self.tcp_pkt(c, s, sport, dport, cseq + 1, sseq + 1, ACK, kind="tcp-ack")
        else:
            self.tcp_pkt(s, c, dport, sport, sseq, 0, RST, kind="tcp-rst")

    def tcp_rejected(self):
        c, s = self.hosts.pair4()
        sport, dport = self.rng.randrange(32768, 61000), self.rng.randrange(1, 1024)
        seq = self.rng.getrandbits(32)
        self.tcp_pkt(c, s, sport, dport, seq, 0, SYN, options=tcp_syn_options(), kind="tcp-syn")
        self.tcp_pkt(s, c, dport, sport, 0, seq + 1, RST | ACK, kind="tcp-rst")

    def dns(self, v6=False):
        c = self.rng.choice(self.hosts.v6_clients if v6 else self.hosts.v4_clients)
        r = ip6("2001:db8:53::53") if v6 else ip4(self.rng.choice(["10.1.1.53", "192.168.7.1"]))
        name = self.rng.choice(["www.example.com", "mail.example.org", "cdn.example.net",
                                "api.tide.test", "ntp.pool.example"])
        qid, sport = self.rng.getrandbits(16), self.rng.randrange(1024, 65535)
        qtype = 28 if v6 else 1
        addrs = [self.rng.choice(self.hosts.v6_servers) if v6 else self.rng.choice(self.hosts.v4_servers)
                 for _ in range(self.rng.randrange(1, 4))]
        self.udp_pkt(c, r, sport, 53, dns_query(qid, name, qtype), kind="dns")
        self.udp_pkt(r, c, 53, sport, dns_response(qid, name, addrs, qtype), kind="dns")

    def quic(self, v6=False, n=4):
        c, s = self.hosts.pair6() if v6 else self.hosts.pair4()
        sport = self.rng.randrange(32768, 61000)
        dcid, scid = bytes(self.rng.getrandbits(8) for _ in range(8)), bytes(self.rng.getrandbits(8) for _ in range(8))
        self.udp_pkt(c, s, sport, 443, quic_long(self.rng, dcid, scid, 1200), kind="quic")
        self.udp_pkt(s, c, 443, sport, quic_long(self.rng, scid, dcid, 1200), kind="quic")
        self.udp_pkt(s, c, 443, sport, quic_long(self.rng, scid, dcid, self.rng.randrange(200, 1200), ptype=2), kind="quic")
        for _ in range(n):
            if self.rng.random() < 0.5:
                self.udp_pkt(c, s, sport, 443, quic_short(self.rng, dcid, self.rng.randrange(30, 200)), kind="quic")
            else:
                self.udp_pkt(s, c, 443, sport, quic_short(self.rng, dcid, self.rng.randrange(300, 1350)), kind="quic")

    def ntp(self):
        c, s = self.hosts.pair4()
        sport = self.rng.choice([123, self.rng.randrange(1024, 65535)])
        self.udp_pkt(c, s, sport, 123, ntp(3, self.rng), kind="ntp")
        self.udp_pkt(s, c, 123, sport, ntp(4, self.rng), kind="ntp")

    def udp_random(self, v6=False):
        c, s = self.hosts.pair6() if v6 else self.hosts.pair4()
        n = self.rng.randrange(1, 1400 if v6 else 1450)
        self.udp_pkt(c, s, self.rng.randrange(1024, 65535), self.rng.randrange(1024, 65535),
                     bytes(self.rng.getrandbits(8) for _ in range(n)), kind="udp")

    def ping(self, v6=False, n=2):
        c, s = self.hosts.pair6() if v6 else self.hosts.pair4()
        ident = self.rng.getrandbits(16)
        for seq in range(1, n + 1):
            for req in (True, False):
                a, b = (c, s) if req else (s, c)
                if v6:
                    seg = with_l4_checksum(a, b, PROTO_ICMPV6, icmp6_echo(req, ident, seq))
                    self.ip_packet(a, b, PROTO_ICMPV6, seg, "icmp6")
                else:
                    self.ip_packet(a, b, PROTO_ICMP, icmp_echo(req, ident, seq), "icmp")

    def neighbour_discovery(self):
        a, b = self.rng.sample(self.hosts.v6_clients, 2)
        ll_a = ip6("fe80::") [:8] + a[8:]
        ll_b = ip6("fe80::")[:8] + b[8:]
        sn = solicited_node(ll_b)
        seg = with_l4_checksum(ll_a, sn, PROTO_ICMPV6, icmp6_ns(ll_b, mac_for(a)))
        self.add_l3(mac_for(a), ipv6_mcast_mac(sn), ETH_IPV6, ipv6(ll_a, sn, PROTO_ICMPV6, seg, hlim=255), "icmp6-nd")
        seg = with_l4_checksum(ll_b, ll_a, PROTO_ICMPV6, icmp6_na(ll_b, mac_for(b)))
        self.add_l3(mac_for(b), mac_for(a), ETH_IPV6, ipv6(ll_b, ll_a, PROTO_ICMPV6, seg, hlim=255), "icmp6-nd")

    def sctp_assoc(self):
        c, s = self.hosts.pair4()
        sport, dport = self.rng.randrange(1024, 65535), self.rng.randrange(29000, 29100)
        tag_c, tag_s = self.rng.getrandbits(32) | 1, self.rng.getrandbits(32) | 1
        self.ip_packet(c, s, PROTO_SCTP, sctp(sport, dport, 0, sctp_init(tag_c)), "sctp")
        self.ip_packet(s, c, PROTO_SCTP, sctp(dport, sport, tag_c, sctp_init(tag_s, ack=True)), "sctp")
        for i in range(self.rng.randrange(1, 4)):
            n = self.rng.randrange(20, 900)
            self.ip_packet(c, s, PROTO_SCTP, sctp(sport, dport, tag_s, sctp_data(i, bytes(self.rng.getrandbits(8) for _ in range(n)))), "sctp")

    def arp_exchange(self):
        a, b = self.hosts.local_pair4()
        self.add_l3(mac_for(a), BROADCAST, ETH_ARP, arp(1, mac_for(a), a, b"\0" * 6, b), "arp", expect="non_ip")
        self.add_l3(mac_for(b), mac_for(a), ETH_ARP, arp(2, mac_for(b), b, mac_for(a), a), "arp", expect="non_ip")

    def lldp(self):
        sw = mac("00:1b:21:3a:4f:%02x" % self.rng.randrange(256))
        self.add_l3(sw, mac("01:80:c2:00:00:0e"), ETH_LLDP,
                    lldp(sw, ("ge-0/0/%d" % self.rng.randrange(48)).encode()), "lldp", expect="non_ip",
                    vlans=())

    def ipv4_with_options(self):
        c, s = self.hosts.pair4()
        opts = self.rng.choice([ip4_opt_router_alert(), ip4_opt_record_route(), ip4_opt_timestamp()])
        if self.rng.random() < 0.5:
            l4, proto = with_l4_checksum(c, s, PROTO_UDP, udp(self.rng.randrange(1024, 65535), 9, b"opt" * 10)), PROTO_UDP
        else:
            l4, proto = icmp_echo(True, 77, 1), PROTO_ICMP
        self.ip_packet(c, s, proto, l4, "ipv4-options", options=opts)

    def ipv4_fragmented(self, proto=PROTO_UDP, size=3500):
        c, s = self.hosts.pair4()
        body = bytes(self.rng.getrandbits(8) for _ in range(size))
        if proto == PROTO_UDP:
            l4 = with_l4_checksum(c, s, PROTO_UDP, udp(self.rng.randrange(1024, 65535), self.rng.randrange(30000, 31000), body))
        else:
            l4 = icmp_echo(True, 99, 1, body)
        for frag in ipv4_fragments(c, s, proto, l4, self.rng.getrandbits(16)):
            self.add_l3(mac_for(c), mac_for(s), ETH_IPV4, frag, "ipv4-frag")

    def ipv6_ext(self, exts, proto=PROTO_UDP):
        c, s = self.hosts.pair6()
        final = s
        for kind, args in exts:
            if kind == "srh" and args[1] > 0:
                final = args[0][0]
        if proto == PROTO_UDP:
            l4 = with_l4_checksum(c, final, PROTO_UDP, udp(self.rng.randrange(1024, 65535), 443,
                                                           bytes(self.rng.getrandbits(8) for _ in range(self.rng.randrange(10, 600)))))
        elif proto == PROTO_TCP:
            l4 = with_l4_checksum(c, final, PROTO_TCP, tcp(self.rng.randrange(32768, 61000), 80, 1, 0, SYN,
                                                           options=tcp_syn_options(1440)))
        else:
            l4 = with_l4_checksum(c, final, PROTO_ICMPV6, icmp6_echo(True, 5, 1))
        self.add_l3(mac_for(c), mac_for(s), ETH_IPV6, ipv6_chain(c, s, exts, proto, l4), "ipv6-ext")

    def ipv6_fragmented(self, size=3000, before=()):
        c, s = self.hosts.pair6()
        l4 = with_l4_checksum(c, s, PROTO_UDP, udp(self.rng.randrange(1024, 65535), self.rng.randrange(30000, 31000),
                                                   bytes(self.rng.getrandbits(8) for _ in range(size))))
        for frag in ipv6_fragments(c, s, PROTO_UDP, l4, self.rng.getrandbits(32), before=before):
            self.add_l3(mac_for(c), mac_for(s), ETH_IPV6, frag, "ipv6-frag")

    # --- broken frames
    def truncated(self, kind):
        """caplen < wirelen with the cut inside a header: tide must say "truncated"."""
        c, s = self.hosts.pair4()
        seg = with_l4_checksum(c, s, PROTO_TCP, tcp(40000, 443, 1, 2, ACK, b"x" * 300))
        v4 = ipv4(c, s, PROTO_TCP, seg)
        full = eth(mac_for(s), mac_for(c), ETH_IPV4, v4)
        if kind == "eth":
            cut = 10
        elif kind == "ipv4":
            cut = 14 + 12
        elif kind == "tcp":
            cut = 14 + 20 + 10
        elif kind == "udp":
            useg = with_l4_checksum(c, s, PROTO_UDP, udp(5000, 53, b"q" * 200))
            full = eth(mac_for(s), mac_for(c), ETH_IPV4, ipv4(c, s, PROTO_UDP, useg))
            cut = 14 + 20 + 4
        elif kind == "ipv6":
            a, b = self.hosts.pair6()
            useg = with_l4_checksum(a, b, PROTO_UDP, udp(5000, 53, b"q" * 200))
            full = eth(mac_for(b), mac_for(a), ETH_IPV6, ipv6(a, b, PROTO_UDP, useg))
            cut = 14 + 30
        elif kind == "ipv6-ext":
            a, b = self.hosts.pair6()
            useg = with_l4_checksum(a, b, PROTO_UDP, udp(5000, 53, b"q" * 200))
            full = eth(mac_for(b), mac_for(a), ETH_IPV6,
                       ipv6_chain(a, b, [("hbh", ()), ("dst", ())], PROTO_UDP, useg))
            cut = 14 + 40 + 8 + 4  # inside the destination options header
        elif kind == "vlan":
            full = eth(mac_for(s), mac_for(c), ETH_IPV4, v4, vlans=((ETH_VLAN, 10),))
            cut = 14 + 1  # inside the 802.1Q tag
        else:
            raise ValueError(kind)
        et = ETH_IPV6 if kind.startswith("ipv6") else ETH_IPV4
        l3_off = 18 if kind == "vlan" else 14
        self.add_frame(full[:cut], "truncated-" + kind, "truncated", wirelen=len(full),
                       ethertype=et, l3_off=l3_off, l3_len=len(full) - l3_off)

    def truncated_payload(self):
        """caplen < wirelen but every header present (like a snaplen): still "ok"."""
        c, s = self.hosts.pair4()
        seg = with_l4_checksum(c, s, PROTO_TCP, tcp(40001, 80, 1, 2, PSH | ACK, b"y" * 1000))
        full = eth(mac_for(s), mac_for(c), ETH_IPV4, ipv4(c, s, PROTO_TCP, seg))
        self.add_frame(full[:128], "snapped", "ok", wirelen=len(full), ethertype=ETH_IPV4, l3_off=14,
                       l3_len=len(full) - 14)

    def malformed(self, kind):
        c, s = self.hosts.pair4()
        seg = with_l4_checksum(c, s, PROTO_TCP, tcp(40002, 443, 1, 2, ACK, b"z" * 64))
        if kind == "ihl3":
            l3 = ipv4(c, s, PROTO_TCP, seg, ihl=3)
        elif kind == "ihl0":
            l3 = ipv4(c, s, PROTO_UDP, udp(1, 2, b"w" * 30), ihl=0)
        elif kind == "tcp-doff2":
            l3 = ipv4(c, s, PROTO_TCP, tcp(40003, 80, 1, 2, ACK, b"z" * 64, doff=2))
        elif kind == "tcp-doff4":
            l3 = ipv4(c, s, PROTO_TCP, tcp(40004, 22, 1, 2, PSH | ACK, b"z" * 64, doff=4))
        else:
            raise ValueError(kind)
        self.add_l3(mac_for(c), mac_for(s), ETH_IPV4, l3, "malformed-" + kind, expect="malformed",
                    vlans=())


def _shuffle_conversations(mix, actions, count):
    rng = mix.rng
    for _ in range(count):
        fn, weight = actions[rng.randrange(len(actions))]
        fn()


def ethernet_mix(seed=1, conversations=90):
    """The plain Ethernet mix: every traffic kind tide should parse, IPv4 and IPv6."""
    m = Mix(seed)
    actions = [
        (lambda: m.tcp_session(), 1), (lambda: m.tcp_session(v6=True), 1),
        (lambda: m.tcp_session(dport=443, sni="www.example.com"), 1),
        (lambda: m.tcp_session(ecn=True, end="rst"), 1), (lambda: m.tcp_session(urg=True), 1),
        (m.tcp_rejected, 1), (m.dns, 1), (lambda: m.dns(v6=True), 1), (m.quic, 1),
        (lambda: m.quic(v6=True, n=2), 1), (m.ntp, 1), (m.udp_random, 1),
        (lambda: m.udp_random(v6=True), 1), (m.ping, 1), (lambda: m.ping(v6=True), 1),
        (m.neighbour_discovery, 1), (m.sctp_assoc, 1), (m.arp_exchange, 1), (m.lldp, 1),
        (m.ipv4_with_options, 1), (m.ipv4_fragmented, 1),
        (lambda: m.ipv4_fragmented(PROTO_ICMP, 2000), 1),
    ]
    # every kind once in a fixed order, then a seeded random sequence
    for fn, _ in actions:
        fn()
    _shuffle_conversations(m, actions, conversations - len(actions))
    return m.pkts


def _vlan_policy(rng):
    r = rng.random()
    if r < 0.25:
        return ()
    if r < 0.6:
        return ((ETH_VLAN, rng.choice([10, 20, 100])),)
    if r < 0.85:
        return ((ETH_QINQ, rng.choice([1000, 2000])), (ETH_VLAN, rng.choice([10, 20, 300])))
    return ((ETH_VLAN, 200), (ETH_VLAN, rng.choice([10, 30])))  # 0x8100/0x8100 double tag


def vlan_mix(seed=2, conversations=70):
    """802.1Q, QinQ (0x88a8 outer) and double-0x8100 tagged traffic, plus some untagged."""
    m = Mix(seed, vlan_policy=_vlan_policy)
    actions = [
        (lambda: m.tcp_session(), 1), (lambda: m.tcp_session(v6=True), 1), (m.tcp_rejected, 1),
        (m.dns, 1), (m.quic, 1), (m.ntp, 1), (m.udp_random, 1), (m.ping, 1),
        (lambda: m.ping(v6=True), 1), (m.sctp_assoc, 1), (m.arp_exchange, 1),
        (m.ipv4_with_options, 1), (m.ipv4_fragmented, 1), (m.lldp, 1),
    ]
    for fn, _ in actions:
        fn()
    _shuffle_conversations(m, actions, conversations - len(actions))
    return m.pkts


def ipv6_mix(seed=3):
    """IPv6 extension header chains and fragments (first/middle/last), plus plain IPv6."""
    m = Mix(seed)
    rng = m.rng
    seg = lambda: [ip6("2001:db8:ff:0::%x" % rng.randrange(1, 0xFFFF)) for _ in range(rng.randrange(1, 4))]
    for _ in range(6):
        m.ipv6_ext([("hbh", ())])
        m.ipv6_ext([("dst", ())], proto=PROTO_TCP)
        m.ipv6_ext([("srh", (seg(), 0))])
        m.ipv6_ext([("srh", (seg(), 1))], proto=PROTO_TCP)
        m.ipv6_ext([("hbh", ()), ("srh", (seg(), 0)), ("dst", ())], proto=PROTO_ICMPV6)
        m.ipv6_ext([("hbh", ()), ("dst", ())])
        m.ipv6_fragmented(size=rng.randrange(2500, 3600))
        m.ipv6_fragmented(size=rng.randrange(1300, 2400), before=[("hbh", ())])
        m.tcp_session(v6=True)
        m.ping(v6=True, n=1)
        m.dns(v6=True)
        m.neighbour_discovery()
    for _ in range(4):
        m.ipv4_fragmented(size=rng.randrange(3000, 4000))  # first / middle / last
    return m.pkts


def malformed_mix(seed=4):
    """Good packets with truncated (header cut by caplen) and malformed (impossible field)
    frames between them; tide must count them and, without a filter, still write them."""
    m = Mix(seed)
    kinds_t = ["eth", "ipv4", "tcp", "udp", "ipv6", "ipv6-ext", "vlan"]
    kinds_m = ["ihl3", "ihl0", "tcp-doff2", "tcp-doff4"]
    for i in range(6):
        m.tcp_session()
        m.dns()
        for k in kinds_t:
            m.truncated(k)
        for k in kinds_m:
            m.malformed(k)
        m.truncated_payload()
        m.arp_exchange()
        m.ping(v6=True, n=1)
    return m.pkts


# ----------------------------------------------------------------------------- tunnels

ETH_TEB, ETH_ERSPAN2, ETH_ERSPAN3, ETH_MPLS, ETH_PPPOE_SES = 0x6558, 0x88BE, 0x22EB, 0x8847, 0x8864
PROTO_IPIP, PROTO_IPV6, PROTO_GRE = 4, 41, 47


def gre(proto, payload, key=None, seq=None, csum=False):
    """GRE v0 (RFC 2784/2890): C, K, S words when asked; the checksum covers header + payload."""
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    opt = (b"\0\0\0\0" if csum else b"") + (struct.pack("!I", key) if key is not None else b"") + \
        (struct.pack("!I", seq) if seq is not None else b"")
    hdr = struct.pack("!HH", flags, proto) + opt
    if csum:
        c = csum16(hdr + payload)
        hdr = hdr[:4] + struct.pack("!H", c) + hdr[6:]
    return hdr + payload


def erspan2(session, frame):
    """ERSPAN type II header (version 1) + the mirrored frame; sent with a GRE sequence."""
    return struct.pack("!II", (1 << 28) | session, 0) + frame


def erspan3(session, frame, platform=True):
    """ERSPAN type III (version 2): 12 bytes, + an 8-byte platform subheader when O is set."""
    return struct.pack("!III", (2 << 28) | session, 0x01020304, 1 if platform else 0) + \
        (b"\0" * 8 if platform else b"") + frame


def vxlan(vni, frame):
    return struct.pack("!II", 0x08000000, vni << 8) + frame


def gtpu(teid, payload, seq=None, exts=()):
    """GTPv1-U G-PDU; seq or extension headers ((type, body), ...) add the optional fields.
    Each extension body is 4n - 2 bytes; the chain ends with next type 0."""
    if seq is None and not exts:
        return struct.pack("!BBHI", 0x30, 0xFF, len(payload), teid) + payload
    flags = 0x30 | (0x04 if exts else 0) | (0x02 if seq is not None else 0)
    opt = struct.pack("!HB", seq or 0, 0)
    chain = b""
    for i, (t, body) in enumerate(exts):
        nxt = exts[i + 1][0] if i + 1 < len(exts) else 0
        chain += struct.pack("!B", (len(body) + 2) // 4) + body + struct.pack("!B", nxt)
    opt += struct.pack("!B", exts[0][0] if exts else 0) + chain
    return struct.pack("!BBHI", flags, 0xFF, len(opt) + len(payload), teid) + opt + payload


def mpls(labels, payload):
    out = b""
    for i, label in enumerate(labels):
        out += struct.pack("!I", (label << 12) | (0x100 if i == len(labels) - 1 else 0) | 64)
    return out + payload


def pppoe_session(sid, ppp_proto, payload):
    return struct.pack("!BBHHH", 0x11, 0, sid, len(payload) + 2, ppp_proto) + payload


# (variant, tunnel name as flow records show it, inner family)
TUNNEL_VARIANTS = [
    ("4in4", "ipip", 4), ("6in4", "ipip", 6), ("4in6", "ipip", 4), ("6in6", "ipip", 6),
    ("gre4", "gre", 4), ("gre6-key-csum", "gre", 6), ("eogre", "gre", 4),
    ("erspan2", "erspan", 4), ("erspan3", "erspan", 6), ("vxlan", "vxlan", 4),
    ("gtpu", "gtpu", 4), ("gtpu-ext", "gtpu", 6), ("mpls", "mpls", 4), ("pppoe4", "pppoe", 4),
    ("pppoe6", "pppoe", 6),
]

_TUN_A4, _TUN_B4 = ip4("192.0.2.1"), ip4("192.0.2.2")
_TUN_A6, _TUN_B6 = ip6("2001:db8:7::1"), ip6("2001:db8:7::2")


def encapsulate(variant, inner, fwd, rng, seq=0):
    """An Ethernet frame carrying the inner IP packet `inner` in `variant`; fwd: from the
    tunnel's A side. Outer checksums are right (GRE/UDP where present)."""
    v6 = inner[0] >> 4 == 6
    et_in = ETH_IPV6 if v6 else ETH_IPV4
    a4, b4 = (_TUN_A4, _TUN_B4) if fwd else (_TUN_B4, _TUN_A4)
    a6, b6 = (_TUN_A6, _TUN_B6) if fwd else (_TUN_B6, _TUN_A6)
    ma, mb = (mac("02:00:00:00:07:01"), mac("02:00:00:00:07:02"))
    ma, mb = (ma, mb) if fwd else (mb, ma)
    inner_eth = eth(mac("02:00:00:00:08:01") if fwd else mac("02:00:00:00:08:02"),
                    mac("02:00:00:00:08:02") if fwd else mac("02:00:00:00:08:01"), et_in, inner, pad=False)
    ident = rng.getrandbits(16)

    def over4(proto, payload):
        return eth(mb, ma, ETH_IPV4, ipv4(a4, b4, proto, payload, ident=ident))

    def over6(nh, payload):
        return eth(mb, ma, ETH_IPV6, ipv6(a6, b6, nh, payload))

    def udp4(sport, dport, payload):
        return over4(PROTO_UDP, with_l4_checksum(a4, b4, PROTO_UDP, udp(sport, dport, payload)))

    if variant in ("4in4", "6in4"):
        return over4(PROTO_IPV6 if v6 else PROTO_IPIP, inner)
    if variant in ("4in6", "6in6"):
        return over6(PROTO_IPV6 if v6 else PROTO_IPIP, inner)
    if variant == "gre4":
        return over4(PROTO_GRE, gre(et_in, inner))
    if variant == "gre6-key-csum":
        return over6(PROTO_GRE, gre(et_in, inner, key=0x1234, seq=seq, csum=True))
    if variant == "eogre":
        return over4(PROTO_GRE, gre(ETH_TEB, inner_eth, key=7))
    if variant == "erspan2":
        return over4(PROTO_GRE, gre(ETH_ERSPAN2, erspan2(100, inner_eth), seq=seq))
    if variant == "erspan3":
        return over4(PROTO_GRE, gre(ETH_ERSPAN3, erspan3(200, inner_eth), seq=seq))
    if variant == "vxlan":
        # RFC 7348: the outer UDP checksum SHOULD be zero over IPv4
        return over4(PROTO_UDP, udp(49152 + (seq % 1000), 4789, vxlan(42, inner_eth)))
    if variant == "gtpu":
        return udp4(2152, 2152, gtpu(0x1000 + fwd, inner))
    if variant == "gtpu-ext":
        return udp4(2152, 2152, gtpu(0x2000 + fwd, inner, seq=seq, exts=((0x85, b"\x00\x09"),)))
    if variant == "mpls":
        return eth(mb, ma, ETH_MPLS, mpls([100 + fwd, 16], inner))
    if variant in ("pppoe4", "pppoe6"):
        return eth(mb, ma, ETH_PPPOE_SES, pppoe_session(0x42, 0x0057 if v6 else 0x0021, inner))
    raise ValueError(variant)


def tunnel_mix(seed=5):
    """Each encapsulation of TUNNEL_VARIANTS carrying a TCP conversation (8 packets: 5 from the
    client, 3 from the server) and a DNS exchange; plus ARP inside VXLAN (non_ip) and a VXLAN
    frame cut inside its inner Ethernet header (truncated). Returns (pkts, flows): flows are
    the flow records tide must write, one per inner conversation, keyed on the inner 5-tuple."""
    m = Mix(seed)
    rng = m.rng
    flows = []
    for k, (variant, tname, fam) in enumerate(TUNNEL_VARIANTS):
        if fam == 4:
            c, s = ip4("10.99.%d.1" % k), ip4("10.98.%d.2" % k)
            pkt = lambda a, b, proto, seg: ipv4(a, b, proto, seg, ident=rng.getrandbits(16))  # noqa: E731
        else:
            c, s = ip6("fd99::%x:1" % k), ip6("fd98::%x:2" % k)
            pkt = ipv6
        sport, dport = 40000 + k, 443
        cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
        conv = [(True, SYN, b""), (False, SYN | ACK, b""), (True, ACK, b""), (True, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n"),
                (False, PSH | ACK, b"HTTP/1.1 200 OK\r\n\r\n"), (True, FIN | ACK, b""), (False, FIN | ACK, b""),
                (True, ACK, b"")]
        for i, (fwd, flags, data) in enumerate(conv):
            a, b = (c, s) if fwd else (s, c)
            sp, dp = (sport, dport) if fwd else (dport, sport)
            seg = with_l4_checksum(a, b, PROTO_TCP, tcp(sp, dp, cseq if fwd else sseq, 0 if i == 0 else (sseq if fwd else cseq), flags, data))
            m.add_frame(encapsulate(variant, pkt(a, b, PROTO_TCP, seg), fwd, rng, seq=i), "tunnel-" + variant, "ok")
        flows.append({"proto": "tcp", "src_ip": _addr_str(c), "src_port": sport, "dst_ip": _addr_str(s),
                      "dst_port": dport, "pkts_fwd": 5, "pkts_bwd": 3, "tunnel": tname})
        qid, dsport = rng.getrandbits(16), 53000 + k
        name = "tunnel%d.example.com" % k
        q = with_l4_checksum(c, s, PROTO_UDP, udp(dsport, 53, dns_query(qid, name)))
        r = with_l4_checksum(s, c, PROTO_UDP, udp(53, dsport, dns_response(qid, name, [ip4("198.51.100.%d" % (k + 1))])))
        m.add_frame(encapsulate(variant, pkt(c, s, PROTO_UDP, q), True, rng, seq=8), "tunnel-" + variant, "ok")
        m.add_frame(encapsulate(variant, pkt(s, c, PROTO_UDP, r), False, rng, seq=9), "tunnel-" + variant, "ok")
        flows.append({"proto": "udp", "src_ip": _addr_str(c), "src_port": dsport, "dst_ip": _addr_str(s),
                      "dst_port": 53, "pkts_fwd": 1, "pkts_bwd": 1, "tunnel": tname})
    # ARP inside VXLAN: the tunnel is opened, the inner frame is not IP
    ha, hb = ip4("10.97.0.1"), ip4("10.97.0.2")
    arp_eth = eth(b"\xff" * 6, mac_for(ha), ETH_ARP, arp(1, mac_for(ha), ha, b"\0" * 6, hb), pad=False)
    m.add_frame(eth(mac("02:00:00:00:07:02"), mac("02:00:00:00:07:01"), ETH_IPV4,
                    ipv4(_TUN_A4, _TUN_B4, PROTO_UDP, udp(49999, 4789, vxlan(42, arp_eth)))), "tunnel-vxlan-arp", "non_ip")
    # snapped inside the inner Ethernet header: the outer is whole, the inner truncated
    full = encapsulate("vxlan", ipv4(ha, hb, PROTO_UDP, udp(1, 2, b"x" * 40)), True, rng)
    cut = 14 + 20 + 8 + 8 + 10
    m.add_frame(full[:cut], "tunnel-vxlan-cut", "truncated", wirelen=len(full))
    return m.pkts, flows


def _addr_str(a):
    import socket
    return socket.inet_ntop(socket.AF_INET6 if len(a) == 16 else socket.AF_INET, a)


def icmp_pairing_mix(seed=6):
    """ICMP exchanges that must each be one biflow: echo v4 (3 rounds), echo v6 (2 rounds), a
    v4 timestamp request/reply, a v6 neighbour solicitation/advertisement, and a port unreachable
    (not paired: type/code ports, one direction). Returns (pkts, flows)."""
    m = Mix(seed)
    flows = []
    c4, s4 = ip4("10.60.0.1"), ip4("10.61.0.2")
    for seq in range(1, 4):
        m.ip_packet(c4, s4, PROTO_ICMP, icmp_echo(True, 0x77, seq), "icmp")
        m.ip_packet(s4, c4, PROTO_ICMP, icmp_echo(False, 0x77, seq), "icmp")
    flows.append({"proto": "icmp", "src_ip": "10.60.0.1", "src_port": 8, "dst_ip": "10.61.0.2", "dst_port": 0,
                  "pkts_fwd": 3, "pkts_bwd": 3, "tunnel": ""})
    c6, s6 = ip6("fd60::1"), ip6("fd61::2")
    for seq in range(1, 3):
        m.ip_packet(c6, s6, PROTO_ICMPV6, with_l4_checksum(c6, s6, PROTO_ICMPV6, icmp6_echo(True, 0x78, seq)), "icmp6")
        m.ip_packet(s6, c6, PROTO_ICMPV6, with_l4_checksum(s6, c6, PROTO_ICMPV6, icmp6_echo(False, 0x78, seq)), "icmp6")
    flows.append({"proto": "icmp6", "src_ip": "fd60::1", "src_port": 128, "dst_ip": "fd61::2", "dst_port": 129,
                  "pkts_fwd": 2, "pkts_bwd": 2, "tunnel": ""})
    t4 = ip4("10.62.0.3")
    for req in (True, False):
        body = struct.pack("!BBHHHIII", 13 if req else 14, 0, 0, 0x79, 1, 1000, 1001 if not req else 0, 1002 if not req else 0)
        body = body[:2] + struct.pack("!H", csum16(body)) + body[4:]
        m.ip_packet(c4 if req else t4, t4 if req else c4, PROTO_ICMP, body, "icmp")
    flows.append({"proto": "icmp", "src_ip": "10.60.0.1", "src_port": 13, "dst_ip": "10.62.0.3", "dst_port": 14,
                  "pkts_fwd": 1, "pkts_bwd": 1, "tunnel": ""})
    na, nb = ip6("fd60::1"), ip6("fd60::5")
    seg = with_l4_checksum(na, nb, PROTO_ICMPV6, icmp6_ns(nb, mac_for(na)))
    m.ip_packet(na, nb, PROTO_ICMPV6, seg, "icmp6-nd", hlim=255)
    seg = with_l4_checksum(nb, na, PROTO_ICMPV6, icmp6_na(nb, mac_for(nb)))
    m.ip_packet(nb, na, PROTO_ICMPV6, seg, "icmp6-nd", hlim=255)
    flows.append({"proto": "icmp6", "src_ip": "fd60::1", "src_port": 135, "dst_ip": "fd60::5", "dst_port": 136,
                  "pkts_fwd": 1, "pkts_bwd": 1, "tunnel": ""})
    r4 = ip4("10.60.0.254")
    quote = ipv4(c4, s4, PROTO_UDP, udp(5000, 9, b""))[:28]
    body = struct.pack("!BBHI", 3, 3, 0, 0) + quote
    body = body[:2] + struct.pack("!H", csum16(body)) + body[4:]
    m.ip_packet(r4, c4, PROTO_ICMP, body, "icmp")
    flows.append({"proto": "icmp", "src_ip": "10.60.0.254", "src_port": 3, "dst_ip": "10.60.0.1", "dst_port": 3,
                  "pkts_fwd": 1, "pkts_bwd": 0, "tunnel": ""})
    return m.pkts, flows


MIXES = {"ethernet": ethernet_mix, "vlan": vlan_mix, "ipv6": ipv6_mix, "malformed": malformed_mix}

# ----------------------------------------------------------------------------- link types

AF_INET = 2


def to_linktype(pkts, linktype, af_inet6=30):
    """Re-frame Ethernet packets for another link type. Packets the target cannot carry are
    dropped: for raw IP / loopback everything not IPv4/IPv6; for all of them VLAN-tagged frames
    and frames cut inside the Ethernet header. af_inet6 is the loopback AF_INET6 value (24
    NetBSD/OpenBSD, 28 FreeBSD, 30 macOS; libpcap accepts all three)."""
    if linktype == LINKTYPE_ETHERNET:
        return list(pkts)
    out = []
    for i, p in enumerate(pkts):
        if p.l3_off != 14 or len(p.data) < 14:
            continue
        et = p.ethertype
        if linktype in (LINKTYPE_RAW, LINKTYPE_NULL) and et not in (ETH_IPV4, ETH_IPV6):
            continue
        l3 = p.data[14:14 + p.l3_len]
        wire_l3 = p.l3_len
        src_mac = p.data[6:12]
        dst_mac = p.data[0:6]
        if linktype == LINKTYPE_LINUX_SLL:
            ptype = 1 if dst_mac == BROADCAST else (2 if dst_mac[0] & 1 else i % 2 * 4)  # 0 host / 4 outgoing
            hdr = struct.pack("!HHH", ptype, 1, 6) + src_mac + b"\0\0" + struct.pack("!H", et)
        elif linktype == LINKTYPE_LINUX_SLL2:
            ptype = 1 if dst_mac == BROADCAST else (2 if dst_mac[0] & 1 else i % 2 * 4)
            hdr = struct.pack("!HHIHBB", et, 0, 3, 1, ptype, 6) + src_mac + b"\0\0"
        elif linktype == LINKTYPE_RAW:
            hdr = b""
        elif linktype == LINKTYPE_NULL:
            hdr = struct.pack("<I", AF_INET if et == ETH_IPV4 else af_inet6)
        else:
            raise ValueError("unsupported target link type %d" % linktype)
        data = hdr + l3
        out.append(p._replace(data=data, wirelen=len(hdr) + wire_l3, l3_off=len(hdr)))
    return out


def records(pkts):
    """(ts_ns, data, wirelen) tuples for pcapio writers."""
    return [(p.ts_ns, p.data, p.wirelen) for p in pkts]


def write(path, pkts, linktype=LINKTYPE_ETHERNET, fmt="pcap", **kw):
    """Write pkts (already framed for `linktype`) as pcap, pcap-ns or pcapng."""
    import pcapio
    if fmt == "pcap":
        pcapio.write_pcap(path, records(pkts), linktype, **kw)
    elif fmt == "pcap-ns":
        pcapio.write_pcap(path, records(pkts), linktype, nano=True, **kw)
    elif fmt == "pcapng":
        pcapio.write_pcapng(path, records(pkts), [pcapio.Interface(linktype, 262144, 9, "gen0")], **kw)
    else:
        raise ValueError(fmt)


def write_case(outdir, pkts, linktype=LINKTYPE_ETHERNET, fmt="pcap", name=None, **labels):
    """For tests/dataplane/cases/*/gen.py: write the input file and its labels.json."""
    import os
    name = name or ("input.pcapng" if fmt == "pcapng" else "input.pcap")
    write(os.path.join(outdir, name), pkts, linktype, fmt)
    return write_labels(outdir, name, pkts, linktype, **labels)


def write_labels(outdir, name, pkts, linktype=LINKTYPE_ETHERNET, **labels):
    """labels.json: the generator's own account of what it wrote (input file name, packet
    count, expected parse counters, plus `labels`), which expected.json is checked against."""
    import json
    import os
    info = {"input": name, "packets": len(pkts), "linktype": linktype, "parse": expected_parse(pkts)}
    info.update(labels)
    with open(os.path.join(outdir, "labels.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return info


def expected_parse(pkts):
    """Parse counters tide should report for these packets."""
    c = collections.Counter(p.expect for p in pkts)
    return {k: c.get(k, 0) for k in ("ok", "truncated", "malformed", "non_ip", "unsupported")}

# ----------------------------------------------------------------------------- dissection (for checks)


def dissect(frame, linktype=LINKTYPE_ETHERNET):
    """Minimal independent dissector for test checks: returns a dict with l3 ("4"/"6"/None),
    l3_off, src, dst, proto, l4_off, frag (bool: non-first fragment or fragmented), or {} if
    the frame is not IP or too short. Understands VLAN/QinQ and the link types above."""
    n = len(frame)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return {}
        off, et = 12, struct.unpack_from("!H", frame, 12)[0]
        while et in (ETH_VLAN, ETH_QINQ) and off + 6 <= n:
            off += 4
            et = struct.unpack_from("!H", frame, off)[0]
        off += 2
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return {}
        off, et = 16, struct.unpack_from("!H", frame, 14)[0]
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return {}
        off, et = 20, struct.unpack_from("!H", frame, 0)[0]
    elif linktype == LINKTYPE_RAW:
        if n < 1:
            return {}
        off, et = 0, ETH_IPV4 if frame[0] >> 4 == 4 else ETH_IPV6
    elif linktype == LINKTYPE_NULL:
        if n < 4:
            return {}
        af = struct.unpack_from("<I", frame, 0)[0]
        off, et = 4, ETH_IPV4 if af == AF_INET else ETH_IPV6
    else:
        return {}
    d = {"l3_off": off}
    if et == ETH_IPV4:
        if n < off + 20 or frame[off] >> 4 != 4 or (frame[off] & 15) < 5:
            return {}
        ihl = (frame[off] & 15) * 4
        tot = struct.unpack_from("!H", frame, off + 2)[0]
        fl = struct.unpack_from("!H", frame, off + 6)[0]
        d.update(l3="4", src=frame[off + 12:off + 16], dst=frame[off + 16:off + 20], proto=frame[off + 9],
                 l4_off=off + ihl, l3_end=off + tot, frag=bool(fl & 0x3FFF), first_frag=(fl & 0x1FFF) == 0,
                 pseudo_dst=frame[off + 16:off + 20])
        return d
    if et == ETH_IPV6:
        if n < off + 40 or frame[off] >> 4 != 6:
            return {}
        plen = struct.unpack_from("!H", frame, off + 4)[0]
        nh, p = frame[off + 6], off + 40
        d.update(l3="6", src=frame[off + 8:off + 24], dst=frame[off + 24:off + 40], frag=False,
                 first_frag=True, l3_end=off + 40 + plen, pseudo_dst=frame[off + 24:off + 40])
        while nh in (PROTO_HOPOPT, PROTO_ROUTING, PROTO_DSTOPTS, PROTO_FRAGMENT) and p + 8 <= n:
            if nh == PROTO_FRAGMENT:
                fo = struct.unpack_from("!H", frame, p + 2)[0]
                d["frag"] = True
                d["first_frag"] = (fo & 0xFFF8) == 0
                nh, p = frame[p], p + 8
                continue
            if nh == PROTO_ROUTING and frame[p + 3] > 0 and frame[p + 2] == 4:
                d["pseudo_dst"] = frame[p + 8:p + 24]  # segment list[0] = final destination
            nh, p = frame[p], p + (frame[p + 1] + 1) * 8
        d.update(proto=nh, l4_off=p)
        return d
    return {}


def checksum_errors(frame, linktype=LINKTYPE_ETHERNET):
    """Checksum problems in one frame (only what is fully captured and unfragmented)."""
    d = dissect(frame, linktype)
    errs = []
    if not d:
        return errs
    if d["l3"] == "4":
        hdr = frame[d["l3_off"]:d["l4_off"]]
        if len(hdr) == d["l4_off"] - d["l3_off"] and csum16(hdr) != 0:
            errs.append("ipv4 header checksum")
    if d["frag"] or d["l3_end"] > len(frame):
        return errs
    seg = frame[d["l4_off"]:d["l3_end"]]
    proto = d["proto"]
    if proto in (PROTO_TCP, PROTO_UDP, PROTO_ICMPV6):
        if proto == PROTO_UDP and len(seg) >= 8 and seg[6:8] == b"\0\0":
            return errs
        if csum16(_pseudo(d["src"], d["pseudo_dst"], proto, len(seg)) + seg) != 0:
            errs.append("%s checksum" % {6: "tcp", 17: "udp", 58: "icmpv6"}[proto])
    elif proto == PROTO_ICMP and csum16(seg) != 0:
        errs.append("icmp checksum")
    elif proto == PROTO_SCTP and len(seg) >= 12:
        z = seg[:8] + b"\0\0\0\0" + seg[12:]
        if struct.pack("<I", crc32c(z)) != seg[8:12]:
            errs.append("sctp crc32c")
    return errs


if __name__ == "__main__":
    import sys
    for name, fn in MIXES.items():
        p = fn()
        sizes = [p_.wirelen for p_ in p]
        print("%-10s %4d packets, %7d bytes, sizes %d..%d, %s" % (name, len(p), sum(len(x.data) for x in p),
                                                               min(sizes), max(sizes), expected_parse(p)),
              file=sys.stderr)
