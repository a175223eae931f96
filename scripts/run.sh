#!/usr/bin/env bash
# scripts/run.sh — sets up a fresh machine and runs the appliance on its embedded default: the
# drone (tide-dataplane) captures the demo link (config/demo.pcap replayed in a loop through
# DPDK's net_pcap) into a dataset directory, then prints where it is.
#
# Usage: scripts/run.sh [OUT_DIR] [extra tide-dataplane options, e.g. --filter 'udp port 443']
# Defaults: 10 s or 200 MB, whichever comes first, into ./out/demo-<time>/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh
[ -f config/demo.pcap ] || python3 scripts/make-demo-pcap.py config/demo.pcap

out="${1:-out/demo-$(date +%Y%m%d-%H%M%S)}"
shift || true
./build/tide-dataplane --demo --out "$out" --max-duration 10 --max-size 200M --classify "$@"
echo
echo "dataset ready: $here/$out"
echo "  manifest: $out/manifest.json"
echo "  shards:   $(find "$out/shards" -name '*.pcapng' | wc -l) pcapng file(s) under $out/shards/"
echo "  flows:    $out/flows/ (one row per session, with its application)"
