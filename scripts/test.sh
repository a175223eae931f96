#!/usr/bin/env bash
# scripts/test.sh — sets up a fresh machine and runs every test: the README's test command and
# exactly what CI (.ci/run) runs.
#
# Installs the Debian packages (scripts/setup.sh), builds with ASan/UBSan into build-asan/,
# runs `meson test` (unit tests, pcap cases, integration tests against the real binaries, a
# short libFuzzer run per target) and ends with one line "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh --sanitize

# DPDK under ASan: DPDK keeps its memory until rte_eal_cleanup and some PMDs never free what
# they probe; leak reports from those would drown real ones, so leaks are checked by the unit
# tests (pure C) only — see tests/meson.build.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FUZZ_SECONDS="${FUZZ_SECONDS:-15}"

status=0
meson test -C build-asan --print-errorlogs --num-processes 2 "$@" || status=$?

# one closing line a CI reader can count, from meson's own log
python3 - build-asan/meson-logs/testlog.json <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        fail += 1
print(f"tests: {ok} passed, {fail} failed, {skip} skipped")
PY
exit "$status"
