#!/usr/bin/env bash
# scripts/bench-dataplane.sh — the dataplane benchmark (docs/BENCHMARKS.md). Prints figures;
# never fails on them.
#
#  1. pipeline: tide-bench feeds pre-built mbufs (64 B and IMIX, >= 1M distinct flows) through a
#     net_ring port to one worker lcore running the real worker code with one filter active
#     (parse + BPF JIT + hand-off to the writer ring); Mpps and Gbps per worker core.
#  2. offline: tide-dataplane --pcap on a >= 1 GB capture with many flows and a selective filter
#     (udp port 443, the "QUIC only" job), against `tcpdump -r FILE -w OUT EXPR` on the same
#     file in the same run; whole-process wall time, EAL start-up included; median and ratio.
#
# Needs root for hugepages (512 x 2 MiB are reserved and hugetlbfs mounted if missing).
# Env: RUNS (default 5), BENCH_DIR (default /tmp/tide-bench), BENCH_BYTES (default 1G).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
RUNS="${RUNS:-5}"
BENCH_DIR="${BENCH_DIR:-/tmp/tide-bench}"
BENCH_BYTES="${BENCH_BYTES:-1G}"
FILTER='udp port 443'

bash scripts/setup.sh >/dev/null
if [ "$(id -u)" -eq 0 ]; then
	cur=$(cat /proc/sys/vm/nr_hugepages)
	[ "$cur" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages
	mkdir -p /dev/hugepages
	mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
fi
echo "hugepages free: $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) x 2 MiB"
mkdir -p "$BENCH_DIR"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== pipeline (1 worker core, filter '$FILTER', $RUNS runs of 3 s) =="
for size in 64 imix; do
	: > "$BENCH_DIR/pipe-$size"
	for _ in $(seq "$RUNS"); do
		./build/dataplane/bench/tide-bench pipeline -l 0-1 -- --size "$size" --flows 1000000 --seconds 3 \
			--filter "$FILTER" 2>/dev/null | grep '^RESULT' >> "$BENCH_DIR/pipe-$size"
	done
	mpps=$(sed -n 's/.*mpps=\([0-9.]*\).*/\1/p' "$BENCH_DIR/pipe-$size" | median)
	gbps=$(sed -n 's/.*gbps_l1=\([0-9.]*\).*/\1/p' "$BENCH_DIR/pipe-$size" | median)
	cpp=$(sed -n 's/.*cycles_per_pkt=\([0-9.]*\).*/\1/p' "$BENCH_DIR/pipe-$size" | median)
	printf "  %-5s median %6s Mpps  %7s Gbps (L1)  %6s cycles/packet per worker core\n" \
		"$size" "$mpps" "$gbps" "$cpp"
done

echo "== offline: $BENCH_BYTES capture, filter '$FILTER', $RUNS runs each =="
pcap="$BENCH_DIR/offline-$BENCH_BYTES.pcap"
[ -f "$pcap" ] || ./build/dataplane/bench/tide-bench make-pcap "$pcap" --bytes "$BENCH_BYTES" --flows 1000000
cat "$pcap" > /dev/null # page cache warm for both tools alike
: > "$BENCH_DIR/t-tide"
: > "$BENCH_DIR/t-tcpdump"
for _ in $(seq "$RUNS"); do
	rm -rf "$BENCH_DIR/out-tide" "$BENCH_DIR/out-tcpdump.pcap"
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-tide" ./build/dataplane/tide-dataplane --pcap "$pcap" \
		--filter "$FILTER" --out "$BENCH_DIR/out-tide" --quiet > /dev/null 2>&1
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-tcpdump" tcpdump -r "$pcap" \
		-w "$BENCH_DIR/out-tcpdump.pcap" "$FILTER" > /dev/null 2>&1
done
tide_pkts=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counters']['written'])" \
	"$BENCH_DIR/out-tide/manifest.json")
tcpd_pkts=$(capinfos -c -M "$BENCH_DIR/out-tcpdump.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
t_tide=$(median < "$BENCH_DIR/t-tide")
t_tcpd=$(median < "$BENCH_DIR/t-tcpdump")
size_b=$(stat -c %s "$pcap")
printf "  tide-dataplane  median %5s s  (%s packets written, %.2f GB/s read)\n" "$t_tide" "$tide_pkts" \
	"$(awk -v a="$size_b" -v b="$t_tide" 'BEGIN {print a / b / 1e9}')"
printf "  tcpdump         median %5s s  (%s packets written)\n" "$t_tcpd" "$tcpd_pkts"
printf "  ratio tcpdump/tide: %.2fx (above 1: tide is faster)\n" \
	"$(awk -v a="$t_tcpd" -v b="$t_tide" 'BEGIN {print a / b}')"
rm -rf "$BENCH_DIR/out-tide" "$BENCH_DIR/out-tcpdump.pcap"
