#!/usr/bin/env bash
# scripts/make-labelled-traffic.sh — a labelled capture from REAL programs, for measuring
# tide's identification (scripts/accuracy-report.py, tests/classifiers/test_identification.py).
#
# Two network namespaces joined by a veth pair (addresses exist only inside them: 10.77.0.1/24
# and fd77::1/64 for the servers, 10.77.0.2/24 and fd77::2/64 for the clients; no route leaves
# them). Real servers run in one, real clients in the other, tcpdump -s 0 captures the client's
# veth end, and every session the clients cause is labelled in a ground-truth CSV in tide's
# format (classifiers/engine/cls_truth.h): the 5-tuples are learnt afterwards from the capture itself,
# by the server port and the time window of the client action that caused them.
#
#   DNS     dnsmasq          <- dig (A/AAAA/TXT/MX/ANY; UDP and TCP; IPv4 and IPv6)  53, 5300
#   HTTP    python3 -m http.server <- curl (GET/HEAD)                           80, 8888, 5432
#   TLS     nginx (h2 + http/1.1 ALPN) <- curl --http1.1/--http2, openssl s_client -alpn h2
#           openssl s_server -www <- curl, openssl s_client                      443, 9443
#   QUIC    ngtcp2 gtlsserver (HTTP/3) <- ngtcp2 gtlsclient (SNI from HOST)    udp 443, 4433
#   SSH     OpenSSH sshd <- ssh with a key, running a command                22, 2222, 3389
#   SMTP    python3 -m aiosmtpd <- swaks                                           25, 2626
#   NTP     chronyd -x (serves, never sets the clock) <- chronyd -Q, ntpdig       123, 1123
#   FTP     vsftpd (anonymous, passive) <- curl, lftp  21, 2121; data 30000-30039 = FTP/data
#   MQTT    mosquitto <- mosquitto_pub, mosquitto_sub                            1883, 11883
#   Redis   redis-server <- redis-cli                                     6379, 7000, 11211
#   SNMP    snmpd <- snmpget, snmpwalk (v1, v2c)                                   161, 1161
#   ICMP    ping -4 / ping -6 (tide keys ICMP on type/code: request and reply are 2 sessions)
#   TFTP    tftpd-hpa -L <- tftp-hpa                                     69; data 31000-31019
#   Telnet  inetutils telnetd (behind a 30-line inetd) <- inetutils telnet         23, 2323
# The second and third ports are non-standard: absent from config/ports.txt, or registered to
# another application (5432 PostgreSQL, 3389 RDP, 11211 Memcached), so a port table is wrong.
# Nothing here is synthetic: every packet comes from the programs above.
#
# Tunnelled (--tunnel KIND): the same servers and clients talk through a tunnel between the
# namespaces (the addresses above live on the tunnel device; the veth carries the underlay,
# 10.78.0.0/24 and fd78::/64), and the capture is taken on the veth, so every packet is
# encapsulated: gre (IPv4 and IPv6 in GRE over IPv4), ip6gre (… over IPv6), sit (4in4 and 6in4),
# ip6tnl (4in6 and 6in6), vxlan (Ethernet in UDP 4789), gretap (Ethernet in GRE). The truth is
# built from a second capture on the tunnel device (the inner packets, same programs, same
# clock), so it names the inner 5-tuples tide must key on.
#
# Usage: scripts/make-labelled-traffic.sh [--variant NAME] [--seed N] [--budget SECS] [--scale X]
#        [--tunnel KIND] OUTDIR
#   writes OUTDIR/NAME.pcap and OUTDIR/NAME.truth.csv (NAME defaults to "train"; "test" uses
#   other DNS names/SNIs, sizes, order and timings; the seed defaults to one per variant).
#   --budget bounds the client actions (default 100 s); the whole run stays under 3 minutes.
#   --scale multiplies the number of client actions (default 1.5: ~250 sessions, ~1 MB, ~50 s).
# Needs root. Installs what it needs with apt-get when missing (list below, for setup.sh).
set -euo pipefail

# Debian 12 packages this script runs (iproute2 tcpdump python3 openssl openssh-client curl
# are usually there already):
PACKAGES="iproute2 tcpdump procps iputils-ping python3 openssl curl dnsmasq-base bind9-dnsutils
openssh-server openssh-client python3-aiosmtpd swaks chrony ntpsec-ntpdig vsftpd lftp mosquitto
mosquitto-clients redis-server redis-tools snmpd snmp tftpd-hpa tftp-hpa inetutils-telnetd
inetutils-telnet nginx-light ngtcp2-server ngtcp2-client"

here=$(cd "$(dirname "$0")" && pwd)
variant=train seed="" budget=100 scale=1.5 outdir="" tunnel=""
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant="$2"; shift 2 ;;
	--seed) seed="$2"; shift 2 ;;
	--budget) budget="$2"; shift 2 ;;
	--scale) scale="$2"; shift 2 ;;
	--tunnel) tunnel="$2"; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) outdir="$1"; shift ;;
	esac
done
[ -n "$outdir" ] || { echo "usage: $0 [--variant NAME] [--seed N] [--budget SECS] OUTDIR" >&2; exit 2; }
case "$variant" in *[!A-Za-z0-9_-]*|"") echo "bad variant name '$variant'" >&2; exit 2 ;; esac
case "$tunnel" in ""|gre|ip6gre|sit|ip6tnl|vxlan|gretap) ;;
	*) echo "bad --tunnel '$tunnel' (gre ip6gre sit ip6tnl vxlan gretap)" >&2; exit 2 ;; esac
if [ -z "$seed" ]; then
	case "$variant" in train) seed=1 ;; test) seed=2 ;; *) seed=$(printf '%s' "$variant" | cksum | cut -d' ' -f1) ;; esac
fi
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces, servers on low ports)" >&2; exit 1; }

# ---- packages: install only what is missing (idempotent) ----
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d /tmp/tide-labelled.XXXXXX)
ns_s="tlt-s-$$" ns_c="tlt-c-$$"
srv4=10.77.0.1 cli4=10.77.0.2 srv6=fd77::1 cli6=fd77::2
tcpdump_pid="" inner_pid="" runner_pid=""

cleanup() {
	set +e
	if [ -n "${runner_pid:-}" ] && kill -0 "$runner_pid" 2>/dev/null; then
		kill -TERM "$runner_pid"  # timeout passes it on; the runner stops its servers
		for _ in $(seq 50); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	for pid in $tcpdump_pid $inner_pid; do
		kill -0 "$pid" 2>/dev/null || continue
		kill -INT "$pid"; sleep 0.5; kill -KILL "$pid" 2>/dev/null
	done
	for ns in "$ns_s" "$ns_c"; do
		ip netns list 2>/dev/null | grep -qw "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=$( (ip netns pids "$ns_s"; ip netns pids "$ns_c") 2>/dev/null | wc -l)
		[ "$left" = 0 ] && break
		sleep 0.2
	done
	for ns in "$ns_s" "$ns_c"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
		case "$ns" in tlt-[sc]-[0-9]*) rm -rf "/etc/netns/$ns" ;; esac
	done
	rmdir /etc/netns 2>/dev/null
	[ -n "${KEEP_WORK:-}" ] && echo "work dir kept: $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- namespaces and the veth pair (static neighbours: no ARP/ND in the capture) ----
ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add lt0 netns "$ns_c" address 02:77:00:00:00:02 type veth peer name lt1 netns "$ns_s" address 02:77:00:00:00:01
for side in s c; do
	ns=$([ $side = s ] && echo "$ns_s" || echo "$ns_c")
	dev=$([ $side = s ] && echo lt1 || echo lt0)
	ipx() { ip netns exec "$ns" "$@"; }
	ipx sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.default.mldv2_unsolicited_report_interval=1 net.ipv6.conf.default.mldv1_unsolicited_report_interval=1 \
		net.ipv4.ping_group_range="0 2147483647"
	ipx sysctl -qw "net.ipv6.conf.$dev.accept_ra=0" "net.ipv6.conf.$dev.router_solicitations=0" \
		"net.ipv6.conf.$dev.mldv2_unsolicited_report_interval=1" "net.ipv6.conf.$dev.mldv1_unsolicited_report_interval=1"
	ipx ip link set lo up
	if [ -n "$tunnel" ]; then
		me=$([ $side = s ] && echo 1 || echo 2) peer=$([ $side = s ] && echo 2 || echo 1)
		ipx ip addr add 10.78.0.$me/24 dev $dev
		ipx ip -6 addr add fd78::$me/64 dev $dev nodad
		ipx ip link set $dev up
		ipx ip neigh replace 10.78.0.$peer lladdr 02:77:00:00:00:0$peer dev $dev nud permanent
		ipx ip -6 neigh replace fd78::$peer lladdr 02:77:00:00:00:0$peer dev $dev nud permanent
		case "$tunnel" in
		gre) ipx ip link add tt0 type gre local 10.78.0.$me remote 10.78.0.$peer ;;
		ip6gre) ipx ip link add tt0 type ip6gre local fd78::$me remote fd78::$peer ;;
		sit) ipx ip link add tt0 type sit mode any local 10.78.0.$me remote 10.78.0.$peer ;;
		ip6tnl) ipx ip link add tt0 type ip6tnl mode any local fd78::$me remote fd78::$peer ;;
		vxlan) ipx ip link add tt0 address 02:78:00:00:00:0$me type vxlan id 77 \
			local 10.78.0.$me remote 10.78.0.$peer dstport 4789 ;;
		gretap) ipx ip link add tt0 address 02:78:00:00:00:0$me type gretap \
			local 10.78.0.$me remote 10.78.0.$peer ;;
		esac
		ipx sysctl -qw net.ipv6.conf.tt0.accept_ra=0 net.ipv6.conf.tt0.router_solicitations=0 \
			net.ipv6.conf.tt0.mldv2_unsolicited_report_interval=1 2>/dev/null || true
		ov4=$([ $side = s ] && echo $srv4 || echo $cli4) ov6=$([ $side = s ] && echo $srv6 || echo $cli6)
		pv4=$([ $side = s ] && echo $cli4 || echo $srv4) pv6=$([ $side = s ] && echo $cli6 || echo $srv6)
		ipx ip addr add $ov4/24 dev tt0
		ipx ip -6 addr add $ov6/64 dev tt0 nodad
		ipx ip link set tt0 up
		case "$tunnel" in vxlan|gretap)
			ipx ip neigh replace $pv4 lladdr 02:78:00:00:00:0$peer dev tt0 nud permanent
			ipx ip -6 neigh replace $pv6 lladdr 02:78:00:00:00:0$peer dev tt0 nud permanent ;;
		esac
	elif [ $side = s ]; then
		ipx ip addr add $srv4/24 dev $dev
		ipx ip -6 addr add $srv6/64 dev $dev nodad
		ipx ip link set $dev up
		ipx ip neigh replace $cli4 lladdr 02:77:00:00:00:02 dev $dev nud permanent
		ipx ip -6 neigh replace $cli6 lladdr 02:77:00:00:00:02 dev $dev nud permanent
	else
		ipx ip addr add $cli4/24 dev $dev
		ipx ip -6 addr add $cli6/64 dev $dev nodad
		ipx ip link set $dev up
		ipx ip neigh replace $srv4 lladdr 02:77:00:00:00:01 dev $dev nud permanent
		ipx ip -6 neigh replace $srv6 lladdr 02:77:00:00:00:01 dev $dev nud permanent
	fi
done
# the link-up MLD reports and any other kernel chatter happen before the capture starts
sleep 1.5

# ---- capture ----
ip netns exec "$ns_c" tcpdump -i lt0 -s 0 -U -n -Z root -w "$work/capture.pcap" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do
	grep -q "listening on" "$work/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "listening on" "$work/tcpdump.log" || { cat "$work/tcpdump.log" >&2; echo "tcpdump did not start" >&2; exit 1; }
truth_pcap="$work/capture.pcap"
if [ -n "$tunnel" ]; then
	# the inner packets, for the truth: the same sessions as tide must find inside the tunnel
	truth_pcap="$work/inner.pcap"
	ip netns exec "$ns_c" tcpdump -i tt0 -s 0 -U -n -Z root -w "$truth_pcap" 2>"$work/inner.log" &
	inner_pid=$!
	for _ in $(seq 50); do
		grep -q "listening on" "$work/inner.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "listening on" "$work/inner.log" || { cat "$work/inner.log" >&2; echo "tcpdump (inner) did not start" >&2; exit 1; }
fi

# ---- servers and clients (bounded inside; the timeout is a backstop) ----
# in the background so that a signal reaches the trap at once (bash defers traps while a
# foreground child runs)
timeout -k 5 $((${budget%.*} + 60)) python3 "$here/labelled_traffic.py" run --work "$work" --events "$work/events.json" \
	--variant "$variant" --seed "$seed" --budget "$budget" --scale "$scale" --srv-ns "$ns_s" --cli-ns "$ns_c" \
	--srv4 $srv4 --cli4 $cli4 --srv6 $srv6 --cli6 $cli6 &
runner_pid=$!
wait "$runner_pid" || { rc=$?; runner_pid=""; echo "traffic run failed (exit $rc)" >&2; exit 1; }
runner_pid=""

for pid in $tcpdump_pid $inner_pid; do
	kill -INT "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null || true
done
tcpdump_pid="" inner_pid=""
tail -n 3 "$work/tcpdump.log" >&2

python3 "$here/labelled_traffic.py" truth --pcap "$truth_pcap" --events "$work/events.json" \
	--out "$work/truth.csv"
cp "$work/capture.pcap" "$outdir/$variant.pcap"
cp "$work/truth.csv" "$outdir/$variant.truth.csv"
cp "$work/events.json" "$outdir/$variant.events.json"
echo "wrote $outdir/$variant.pcap ($(stat -c %s "$outdir/$variant.pcap") bytes), $outdir/$variant.truth.csv ($(($(wc -l <"$outdir/$variant.truth.csv") - 1)) sessions)" >&2
