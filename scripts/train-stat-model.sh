#!/usr/bin/env bash
# scripts/train-stat-model.sh — trains the statistical classifier that ships in config/stat.model.
#
# Reproducible: the same capture, ground truth and binary give the same model, byte for byte
# (one worker, so sessions are signed in file order). The input is the project's own labelled
# real-client traffic (tests/data/labelled/train.pcap and its truth, see the README there);
# test.pcap, from another run with other names and timings, is what accuracy is measured on
# (scripts/accuracy-report.py). tests/classifiers/test_identification.py retrains with this
# script and fails when config/stat.model is not what it produces, so the shipped model cannot
# drift from the features the code computes.
#
# Usage: scripts/train-stat-model.sh [--tide PATH] [--out DIR]   (default: build/, config/)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tide="$here/build/dataplane/tide-dataplane"
out="$here/config"
while [ $# -gt 0 ]; do
	case "$1" in
	--tide) tide=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "train-stat-model.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ -x "$tide" ] || { echo "train-stat-model.sh: no tide-dataplane at $tide (build first)" >&2; exit 2; }
data="$here/tests/data/labelled"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'stat\n' > "$work/plugins"
"$tide" --no-pci --no-huge -m 256 --file-prefix "tide-train-$$" -- \
	--pcap "$data/train.pcap" --truth "$data/train.truth.csv" --train \
	--plugins "$work/plugins" --config "$here/config" --model-dir "$work" \
	--flows /dev/null --workers 1 --quiet >&2
install -m 0644 "$work/stat.model" "$out/stat.model"
echo "train-stat-model.sh: wrote $out/stat.model ($(sed -n 1p "$out/stat.model"))"
