#!/usr/bin/env bash
# tests/fuzz/run.sh — builds every tests/fuzz/fuzz_*.c as a libFuzzer binary and runs each for a
# fixed time from its seed corpus; exit 1 if any target fails to build or finds a crash.
# Targets link the dataplane core and the classification engine's sources; fuzz_cp_* targets
# link the control plane's JSON and drone-message sources instead, fuzz_tide_* the job contract
# (dataplane/contract/).
#
# Generic on purpose: a new target is just a new fuzz_<name>.c (seeds, if any, in
# tests/fuzz/seeds/fuzz_<name>/). Each target links the dataplane core sources that exist.
# Seeds are copied to a scratch corpus inside the build dir, so the repo is never modified.
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the usual convention) makes the file readers use
# heap copies instead of mmap, so ASan sees reads past the end; UBSan findings abort.
#
# Usage: tests/fuzz/run.sh [BUILD_DIR]   (default build-fuzz at the repo root)
#   FUZZ_SECONDS  seconds per target (default 20)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-fuzz}
secs=${FUZZ_SECONDS:-20}
mkdir -p "$out"
out=$(cd "$out" && pwd)

core=()
for f in dp_parse.c dp_hash.c dp_anon.c dp_pcapfile.c dp_pcapng.c dp_writeback.c; do
	if [ -f "$root/dataplane/$f" ]; then
		core+=("$root/dataplane/$f")
	fi
done

# the classification engine's plain-C sources (dissectors, tables); plugins/ are shared objects
for f in "$root"/classifiers/cls_*.c; do
	[ -f "$f" ] && core+=("$f")
done

# the control plane's JSON decoding and drone-message handling (fuzz_cp_* targets)
control=()
for f in cp_json.c cp_drones.c cp_db.c cp_schema.c cp_log.c cp_crypto.c; do
	control+=("$root/control/$f")
done

# the job contract: parameters and the counter registry (fuzz_tide_* targets)
contract=("$root"/dataplane/contract/tide_*.c)

status=0
found=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	found=1
	name=$(basename "$src" .c)
	bin="$out/$name"
	# fuzz_cp_*: the Hive's message handlers, with the control sources they need
	case "$name" in
	fuzz_cp_*)
		srcs=("${control[@]}")
		libs=(-ljansson -lsqlite3 -lsodium -lcivetweb -lcrypto -lpthread)
		;;
	fuzz_tide_*)
		srcs=("${contract[@]}")
		libs=(-ljansson)
		;;
	*)
		srcs=("${core[@]}")
		libs=(-lcrypto -lhs -ldl -lm)
		;;
	esac
	if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -D_GNU_SOURCE -I"$root/dataplane" \
		-I"$root/classifiers" -I"$root/control" -I"$root/dataplane/contract" -I/usr/include/hs "$src" "${srcs[@]}" \
		"${libs[@]}" -o "$bin" >"$out/$name.build.log" 2>&1; then
		echo "$name: BUILD FAILED (see $out/$name.build.log)"
		status=1
		continue
	fi

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
if [ "$found" -eq 0 ]; then
	echo "run.sh: no tests/fuzz/fuzz_*.c targets" >&2
	exit 1
fi
exit "$status"
