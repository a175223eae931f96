#!/usr/bin/env bash
# tests/fuzz/run.sh — configures a clang build with -Dfuzz=true (ASan + UBSan, every finding
# fatal), compiles the fuzz targets that tests/fuzz/meson.build declares, and runs each for a
# fixed time from its seed corpus; exit 1 if a target fails to build or finds a crash.
# Seeds (tests/fuzz/seeds/fuzz_<name>/) are copied to a scratch corpus inside the build dir, so
# the repo is never modified. FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the usual convention,
# set by the fuzz build) makes the file readers use heap copies instead of mmap, so ASan sees
# reads past the end.
#
# Usage: tests/fuzz/run.sh [BUILD_DIR]   (default build-fuzz at the repo root)
#   FUZZ_SECONDS  seconds per target (default 20)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-fuzz}
secs=${FUZZ_SECONDS:-20}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ ! -f "$out/build.ninja" ]; then
	if ! CC=clang meson setup "$out" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dwerror=false --buildtype=debugoptimized >"$out/setup.log" 2>&1; then
		echo "run.sh: meson setup of the fuzz build failed (see $out/setup.log)"
		exit 1
	fi
fi
mapfile -t targets < <(meson introspect --targets "$out" | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz_"):
        print(t["name"], os.path.relpath(t["filename"][0], sys.argv[1]))' "$out")
if [ "${#targets[@]}" -eq 0 ]; then
	echo "run.sh: the fuzz build declares no fuzz_* target" >&2
	exit 1
fi
paths=()
for t in "${targets[@]}"; do
	paths+=("${t#* }")
done
if ! ninja -C "$out" "${paths[@]}" >"$out/build.log" 2>&1; then
	echo "run.sh: building the fuzz targets failed (see $out/build.log)"
	tail -20 "$out/build.log"
	exit 1
fi

status=0
for t in "${targets[@]}"; do
	name=${t%% *}
	bin="$out/${t#* }"
	corpus="$out/corpus-$name"
	artifacts="$out/artifacts-$name"
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$root/tests/fuzz/seeds/$name" ]; then
		cp -r "$root/tests/fuzz/seeds/$name/." "$corpus/"
	fi
	seeds=$(find "$corpus" -type f | wc -l)

	log="$out/$name.log"
	if "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
		echo "$name: ok, ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}," \
			"corpus $seeds -> $(find "$corpus" -type f | wc -l) files"
	else
		echo "$name: CRASH after ${secs}s or less; log $log, input in $artifacts/"
		grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/    /' || true
		status=1
	fi
done
exit "$status"
