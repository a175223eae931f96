#!/usr/bin/env python3
"""make-demo-pcap.py — writes config/demo.pcap, the traffic behind `tide-dataplane --demo`.

A small office link seen from its uplink, a few hundred packets, deterministic (seeded):
workstations in 192.168.10.0/24 and 2001:db8:10::/64 resolve names (DNS over UDP 53, A and
AAAA), open HTTPS sessions with full TCP handshakes, a TLS ClientHello carrying the SNI of the
name they resolved, ServerHello, application data and FIN or RST teardown; browse over
QUIC-looking UDP 443 (long-header Initial/Handshake then short-header packets); sync clocks
over NTP; ping; and ARP for the gateway. net_pcap replays it in a loop (infinite_rx=1), so the
demo shows every counter and classifier moving without a NIC. Kept under 300 KB because it is
committed and embedded.

Usage: scripts/make-demo-pcap.py [OUTPUT]   (default: config/demo.pcap beside this script)
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import trafficgen as tg  # noqa: E402

GATEWAY4 = tg.ip4("192.168.10.1")
RESOLVER4 = tg.ip4("192.168.10.53")
RESOLVER6 = tg.ip6("2001:db8:10::53")
GATEWAY_MAC = tg.mac("00:1b:21:aa:10:01")

SITES = [  # name, IPv4 server, IPv6 server (documentation ranges only)
    ("www.example.com", "93.184.216.34", "2001:db8:5e::34"),
    ("api.example.org", "198.51.100.20", "2001:db8:c6::20"),
    ("cdn.example.net", "203.0.113.80", "2001:db8:cb::80"),
    ("mail.example.com", "198.51.100.25", None),
    ("updates.example.org", "203.0.113.140", "2001:db8:cb::140"),
    ("video.example.net", "203.0.113.200", "2001:db8:cb::200"),
]
NTP_SERVERS = ["192.0.2.123", "198.51.100.123"]


class Office(tg.Mix):
    """trafficgen's Mix with the office's own hosts, and every frame via the gateway MAC."""

    def __init__(self, seed):
        super().__init__(seed)
        rng = self.rng
        self.ws4 = [tg.ip4("192.168.10.%d" % h) for h in rng.sample(range(20, 200), 12)]
        self.ws6 = [tg.ip6("2001:db8:10::%x" % rng.randrange(0x100, 0xFFFF)) for _ in range(6)]

    def ip_packet(self, src, dst, proto, l4, kind, **kw):
        inside = src in self.ws4 or src in self.ws6 or src in (RESOLVER4, RESOLVER6)
        smac = tg.mac_for(src) if inside else GATEWAY_MAC
        dmac = GATEWAY_MAC if inside else tg.mac_for(dst)
        if len(src) == 4:
            l3 = tg.ipv4(src, dst, proto, l4, ident=self.rng.getrandbits(16), ttl=64 if inside else 52, **kw)
            self.add_l3(smac, dmac, tg.ETH_IPV4, l3, kind)
        else:
            self.add_l3(smac, dmac, tg.ETH_IPV6, tg.ipv6(src, dst, proto, l4, hlim=64 if inside else 55, **kw), kind)

    def resolve(self, client, name, server, v6):
        resolver = RESOLVER6 if v6 else RESOLVER4
        qid, sport = self.rng.getrandbits(16), self.rng.randrange(20000, 60000)
        qtype = 28 if v6 else 1
        self.udp_pkt(client, resolver, sport, 53, tg.dns_query(qid, name, qtype), kind="dns")
        self.udp_pkt(resolver, client, 53, sport, tg.dns_response(qid, name, [server], qtype), kind="dns")

    def https(self, client, server, name):
        rng = self.rng
        sport = rng.randrange(40000, 61000)
        c, s = rng.getrandbits(32), rng.getrandbits(32)
        mss = 1440 if len(client) == 16 else 1460
        self.tcp_pkt(client, server, sport, 443, c, 0, tg.SYN, options=tg.tcp_syn_options(mss))
        self.tcp_pkt(server, client, 443, sport, s, c + 1, tg.SYN | tg.ACK, options=tg.tcp_syn_options(mss))
        c, s = c + 1, s + 1
        self.tcp_pkt(client, server, sport, 443, c, s, tg.ACK)
        hello = tg.tls_client_hello(rng, name)
        self.tcp_pkt(client, server, sport, 443, c, s, tg.PSH | tg.ACK, hello)
        c += len(hello)
        shello = tg.tls_server_hello(rng) + tg.tls_app_data(rng, rng.randrange(800, 1200))
        self.tcp_pkt(server, client, 443, sport, s, c, tg.PSH | tg.ACK, shello)
        s += len(shello)
        self.tcp_pkt(client, server, sport, 443, c, s, tg.ACK)
        maxseg = 1514 - 14 - (40 if len(client) == 16 else 20) - 20
        for _ in range(rng.randrange(1, 4)):
            req = tg.tls_app_data(rng, rng.randrange(60, 500))
            self.tcp_pkt(client, server, sport, 443, c, s, tg.PSH | tg.ACK, req)
            c += len(req)
            for _ in range(rng.randrange(1, 4)):
                seg = tg.tls_app_data(rng, rng.randrange(200, maxseg - 5))
                self.tcp_pkt(server, client, 443, sport, s, c, tg.ACK, seg)
                s += len(seg)
            self.tcp_pkt(client, server, sport, 443, c, s, tg.ACK)
        if rng.random() < 0.85:
            self.tcp_pkt(client, server, sport, 443, c, s, tg.FIN | tg.ACK)
            self.tcp_pkt(server, client, 443, sport, s, c + 1, tg.FIN | tg.ACK)
            self.tcp_pkt(client, server, sport, 443, c + 1, s + 1, tg.ACK)
        else:
            self.tcp_pkt(client, server, sport, 443, c, s, tg.RST | tg.ACK)

    def quic_session(self, client, server):
        rng = self.rng
        sport = rng.randrange(40000, 61000)
        dcid, scid = bytes(rng.getrandbits(8) for _ in range(8)), bytes(rng.getrandbits(8) for _ in range(8))
        self.udp_pkt(client, server, sport, 443, tg.quic_long(rng, dcid, scid, 1200), kind="quic")
        self.udp_pkt(server, client, 443, sport, tg.quic_long(rng, scid, dcid, 1200), kind="quic")
        self.udp_pkt(server, client, 443, sport, tg.quic_long(rng, scid, dcid, rng.randrange(300, 900), ptype=2), kind="quic")
        self.udp_pkt(client, server, sport, 443, tg.quic_long(rng, dcid, scid, 1200, ptype=2), kind="quic")
        for _ in range(rng.randrange(3, 8)):
            if rng.random() < 0.35:
                self.udp_pkt(client, server, sport, 443, tg.quic_short(rng, scid, rng.randrange(30, 120)), kind="quic")
            else:
                self.udp_pkt(server, client, 443, sport, tg.quic_short(rng, dcid, rng.randrange(600, 1250)), kind="quic")

    def ntp_sync(self, client):
        server = tg.ip4(self.rng.choice(NTP_SERVERS))
        self.udp_pkt(client, server, 123, 123, tg.ntp(3, self.rng), kind="ntp")
        self.udp_pkt(server, client, 123, 123, tg.ntp(4, self.rng), kind="ntp")

    def ping_gateway(self, client, n=2):
        ident = self.rng.getrandbits(16)
        for seq in range(1, n + 1):
            self.ip_packet(client, GATEWAY4, tg.PROTO_ICMP, tg.icmp_echo(True, ident, seq), "icmp")
            self.ip_packet(GATEWAY4, client, tg.PROTO_ICMP, tg.icmp_echo(False, ident, seq), "icmp")

    def ping6(self, client, server):
        ident = self.rng.getrandbits(16)
        for a, b, req in ((client, server, True), (server, client, False)):
            seg = tg.with_l4_checksum(a, b, tg.PROTO_ICMPV6, tg.icmp6_echo(req, ident, 1))
            self.ip_packet(a, b, tg.PROTO_ICMPV6, seg, "icmp6")

    def arp_gateway(self, client):
        self.add_l3(tg.mac_for(client), tg.BROADCAST, tg.ETH_ARP,
                    tg.arp(1, tg.mac_for(client), client, b"\0" * 6, GATEWAY4), "arp", expect="non_ip")
        self.add_l3(GATEWAY_MAC, tg.mac_for(client), tg.ETH_ARP,
                    tg.arp(2, GATEWAY_MAC, GATEWAY4, tg.mac_for(client), client), "arp", expect="non_ip")


def build(seed=2024):
    o = Office(seed)
    rng = o.rng
    for step in range(40):
        v6 = rng.random() < 0.3
        client = rng.choice(o.ws6 if v6 else o.ws4)
        name, s4, s6 = rng.choice(SITES)
        if v6 and not s6:
            v6, client = False, rng.choice(o.ws4)
        server = tg.ip6(s6) if v6 else tg.ip4(s4)
        r = rng.random()
        if r < 0.55:
            o.resolve(client, name, server, v6)
            o.https(client, server, name)
        elif r < 0.8:
            o.resolve(client, name, server, v6)
            o.quic_session(client, server)
        elif r < 0.9 and not v6:
            o.ntp_sync(client)
        elif not v6:
            o.arp_gateway(client)
            o.ping_gateway(client)
        else:
            o.ping6(client, server)
    return o.pkts


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "config", "demo.pcap")
    pkts = build()
    tg.write(out, pkts)
    size = os.path.getsize(out)
    if size >= 300 * 1024:
        sys.exit("make-demo-pcap: %s is %d bytes, over the 300 KB budget" % (out, size))
    print("%s: %d packets, %d bytes" % (out, len(pkts), size))


if __name__ == "__main__":
    main()
