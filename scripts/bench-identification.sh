#!/usr/bin/env bash
# scripts/bench-identification.sh — the identification benchmark (docs/BENCHMARKS.md). Prints
# figures; never fails on them.
#
#  1. pipeline: tide-bench feeds pre-built IMIX mbufs over >= 1M flows to one worker lcore with
#     sessions (biflow, 1M table) and classifiers: port + payload (Hyperscan), then every
#     built-in; Mpps and Gbps per worker core (hugepages).
#  2. offline: `tide-dataplane --pcap FILE --flows OUT` (sessions + every enabled classifier,
#     the nDPI plugin included when built; and again without it) against `ndpiReader -i FILE`
#     on the same >= 1 GB capture with > 100k flows, in the same run; whole-process wall time;
#     median of RUNS and the ratios.
# Env: RUNS (default 3), BENCH_DIR (default /tmp/tide-bench), BENCH_BYTES (default 1G).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
RUNS="${RUNS:-3}"
BENCH_DIR="${BENCH_DIR:-/tmp/tide-bench}"
BENCH_BYTES="${BENCH_BYTES:-1G}"

bash scripts/setup.sh >/dev/null
if [ "$(id -u)" -eq 0 ]; then
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages
	mkdir -p /dev/hugepages
	mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
fi
mkdir -p "$BENCH_DIR"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf 'port\npayload\n' > "$BENCH_DIR/port-payload.plugins"
echo "== pipeline with sessions + classifiers (1 worker core, IMIX, ~1M flows, $RUNS runs of 3 s"
echo "   after a 2 s warm-up; train = packets of one flow in a row: 1 is the worst case, every"
echo "   packet among its session's first, undecided ones) =="
for set in port-payload all; do
	plugins=()
	[ "$set" = all ] || plugins=(--plugins "$BENCH_DIR/$set.plugins")
	for train in 1 16; do
		: > "$BENCH_DIR/cls-$set-$train"
		for _ in $(seq "$RUNS"); do
			./build/dataplane/bench/tide-bench pipeline -l 0-1 -- --size imix --flows 1000000 --seconds 3 \
				--filter ip --classify --config config --train "$train" "${plugins[@]}" \
				2>/dev/null | grep '^RESULT' >> "$BENCH_DIR/cls-$set-$train"
		done
		mpps=$(sed -n 's/.*mpps=\([0-9.]*\).*/\1/p' "$BENCH_DIR/cls-$set-$train" | median)
		gbps=$(sed -n 's/.*gbps_l1=\([0-9.]*\).*/\1/p' "$BENCH_DIR/cls-$set-$train" | median)
		printf "  %-13s train %-3s median %6s Mpps  %7s Gbps (L1) per worker core\n" \
			"$set" "$train" "$mpps" "$gbps"
	done
done

echo "== offline: $BENCH_BYTES capture, tide --flows vs ndpiReader -i, $RUNS runs each =="
pcap="$BENCH_DIR/offline-$BENCH_BYTES.pcap"
[ -f "$pcap" ] || ./build/dataplane/bench/tide-bench make-pcap "$pcap" --bytes "$BENCH_BYTES" --flows 1000000
cat "$pcap" > /dev/null
: > "$BENCH_DIR/t-tide-cls"
: > "$BENCH_DIR/t-tide-nondpi"
: > "$BENCH_DIR/t-ndpi"
grep -v '^ndpi' config/enabled_plugins > "$BENCH_DIR/no-ndpi.plugins"
for _ in $(seq "$RUNS"); do
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-tide-cls" ./build/dataplane/tide-dataplane --pcap "$pcap" \
		--flows "$BENCH_DIR/flows.csv" --quiet > /dev/null 2>&1
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-tide-nondpi" ./build/dataplane/tide-dataplane --pcap "$pcap" \
		--flows "$BENCH_DIR/flows-nondpi.csv" --plugins "$BENCH_DIR/no-ndpi.plugins" --quiet \
		> /dev/null 2>&1
	/usr/bin/time -f %e -a -o "$BENCH_DIR/t-ndpi" ndpiReader -i "$pcap" -q \
		> /dev/null 2>&1 || true
done
sessions=$(($(wc -l < "$BENCH_DIR/flows.csv") - 1))
t_tide=$(median < "$BENCH_DIR/t-tide-cls")
t_nondpi=$(median < "$BENCH_DIR/t-tide-nondpi")
t_ndpi=$(median < "$BENCH_DIR/t-ndpi")
printf "  tide-dataplane --flows  median %6s s  (%s sessions; with the nDPI plugin if built)\n" \
	"$t_tide" "$sessions"
printf "  ... without nDPI        median %6s s\n" "$t_nondpi"
printf "  ndpiReader -i           median %6s s\n" "$t_ndpi"
printf "  ratio ndpiReader/tide: %.2fx with the plugin, %.2fx without (above 1: tide is faster)\n" \
	"$(awk -v a="$t_ndpi" -v b="$t_tide" 'BEGIN {print a / b}')" \
	"$(awk -v a="$t_ndpi" -v b="$t_nondpi" 'BEGIN {print a / b}')"
