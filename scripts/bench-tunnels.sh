#!/usr/bin/env bash
# scripts/bench-tunnels.sh — identification inside tunnels (docs/BENCHMARKS.md): the labelled
# real-client capture (tests/data/labelled/test.pcap) re-sent through every encapsulation tide
# opens (scripts/encapsulate-pcap.py), plus, when given, a capture of real clients talking
# through a kernel VXLAN tunnel (scripts/make-labelled-traffic.sh --tunnel vxlan); for each,
# tide's and ndpiReader's accuracy against the inner ground truth (scripts/accuracy-report.py).
# Prints figures; never fails on them.
# Usage: scripts/bench-tunnels.sh [--tide PATH] [--vxlan DIR-with-vxlan.pcap-and-vxlan.truth.csv]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tide="$here/build/dataplane/tide-dataplane"
vxlan=""
while [ $# -gt 0 ]; do
	case "$1" in
	--tide) tide=$2; shift 2 ;;
	--vxlan) vxlan=$2; shift 2 ;;
	*) echo "bench-tunnels.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data="$here/tests/data/labelled"
report() {   # name json
	python3 -c '
import json, sys
r = json.load(open(sys.argv[2]))
print("%-16s %8d %7.1f%% %7.1f%% %9.1f%% %8.1f%%" % (sys.argv[1], r["tide"]["n"],
      100 * r["tide"]["accuracy"], 100 * r["nDPI"]["accuracy"],
      100 * r["tide"]["macro_f1"], 100 * r["nDPI"]["macro_f1"]))
' "$1" "$2" 2>/dev/null || printf '%-16s (failed)\n' "$1"
}
printf '%-16s %8s %8s %8s %10s %9s\n' "capture" "sessions" "tide" "nDPI" "tide F1" "nDPI F1"
for kind in none 4in4 4in6 gre4 gre6-key-csum eogre erspan2 erspan3 vxlan gtpu gtpu-ext mpls pppoe4; do
	pcap="$data/test.pcap"
	if [ "$kind" != none ]; then
		pcap="$work/$kind.pcap"
		python3 "$here/scripts/encapsulate-pcap.py" --kind "$kind" "$data/test.pcap" "$pcap" 2>/dev/null
	fi
	python3 "$here/scripts/accuracy-report.py" --pcap "$pcap" --truth "$data/test.truth.csv" \
		--tide "$tide" --json "$work/$kind.json" > /dev/null 2>&1 || true
	report "$kind" "$work/$kind.json"
done
if [ -n "$vxlan" ]; then
	python3 "$here/scripts/accuracy-report.py" --pcap "$vxlan/vxlan.pcap" --truth "$vxlan/vxlan.truth.csv" \
		--tide "$tide" --json "$work/kvx.json" > /dev/null 2>&1 || true
	report "vxlan (kernel)" "$work/kvx.json"
fi
