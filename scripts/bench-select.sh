#!/usr/bin/env bash
# scripts/bench-select.sh — "capture only QUIC": a job that keeps sessions by application
# (tide-dataplane --apps QUIC) against the port filter a capture tool offers instead
# (`tcpdump -r F -w OUT 'udp port 443'`, and tide's own --filter), on the same capture in the
# same run: whole-process wall time (median of RUNS) and what each kept of the capture's QUIC.
# Prints figures; never fails on them (docs/BENCHMARKS.md).
#
# The capture: the project's labelled real-client traffic (tests/data/labelled/test.pcap: QUIC
# to UDP 443 and 4433, TLS, DNS, HTTP, SSH... 258 sessions) replicated with new addresses per
# copy to BENCH_BYTES (scripts/replicate-pcap.py). QUIC truth: 14 sessions and 148 packets per
# copy, 6 of the sessions on port 4433.
# Env: RUNS (default 5), BENCH_DIR (default /tmp/tide-bench), BENCH_BYTES (default 1G).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
RUNS="${RUNS:-5}"
BENCH_DIR="${BENCH_DIR:-/tmp/tide-bench}"
BENCH_BYTES="${BENCH_BYTES:-1G}"

bash scripts/setup.sh >/dev/null
mkdir -p "$BENCH_DIR"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pcap="$BENCH_DIR/labelled-$BENCH_BYTES.pcap"
[ -f "$pcap" ] || python3 scripts/replicate-pcap.py --bytes "$BENCH_BYTES" \
	tests/data/labelled/test.pcap "$pcap"
copies=$(python3 -c "import os,sys; print(-(-(os.path.getsize(sys.argv[1]) - 24) // (os.path.getsize(sys.argv[2]) - 24)))" \
	"$pcap" tests/data/labelled/test.pcap)
quic_truth=$((copies * 148))
cat "$pcap" > /dev/null
tide=./build/dataplane/tide-dataplane
out="$BENCH_DIR/select-out"
for k in apps classify portfilter tcpdump; do : > "$BENCH_DIR/t-$k"; done
for _ in $(seq "$RUNS"); do
	rm -rf "$out"
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-apps" "$tide" --pcap "$pcap" --out "$out" \
		--classify --apps QUIC --quiet > /dev/null 2>&1
	apps_written=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counters']['written'])" \
		"$out/manifest.json")
	rm -rf "$out"
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-classify" "$tide" --pcap "$pcap" \
		--flows "$BENCH_DIR/select-flows.csv" --quiet > /dev/null 2>&1
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-portfilter" "$tide" --pcap "$pcap" --out "$out" \
		--filter 'udp port 443' --quiet > /dev/null 2>&1
	port_written=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counters']['written'])" \
		"$out/manifest.json")
	rm -rf "$out"
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-tcpdump" tcpdump -r "$pcap" -w "$BENCH_DIR/tcpdump.pcap" \
		'udp port 443' > /dev/null 2>&1
	tcpdump_written=$(tcpdump -n -r "$BENCH_DIR/tcpdump.pcap" 2>/dev/null | wc -l)
done
apps=$(median < "$BENCH_DIR/t-apps")
classify=$(median < "$BENCH_DIR/t-classify")
portfilter=$(median < "$BENCH_DIR/t-portfilter")
td=$(median < "$BENCH_DIR/t-tcpdump")
echo "== capture only QUIC: $(du -h "$pcap" | cut -f1) capture ($copies copies of the labelled traffic), median of $RUNS =="
printf "  tide --classify --apps QUIC          %6.2f s  kept %7d packets of %d QUIC (%5.1f %%)\n" \
	"$apps" "$apps_written" "$quic_truth" "$(echo "100 * $apps_written / $quic_truth" | bc -l)"
printf "  tide --filter 'udp port 443'         %6.2f s  kept %7d packets               (%5.1f %%)\n" \
	"$portfilter" "$port_written" "$(echo "100 * $port_written / $quic_truth" | bc -l)"
printf "  tcpdump -w 'udp port 443'            %6.2f s  kept %7d packets               (%5.1f %%)\n" \
	"$td" "$tcpdump_written" "$(echo "100 * $tcpdump_written / $quic_truth" | bc -l)"
printf "  tide --flows (classification only)   %6.2f s\n" "$classify"
printf "  ratios: tcpdump / tide --apps %.2fx; tide --apps / tide classification only %.2fx\n" \
	"$(echo "$td / $apps" | bc -l)" "$(echo "$apps / $classify" | bc -l)"
