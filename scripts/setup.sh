#!/usr/bin/env bash
# scripts/setup.sh — installs every Debian package tide needs, idempotently, then builds.
#
# One script for a newcomer's machine, CI and the Dockerfile, so the three cannot drift.
# Usage: scripts/setup.sh [--no-build] [--sanitize]
#   --no-build   only install packages
#   --sanitize   configure the build with ASan/UBSan (what the test suite uses)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=1
sanitize=0
for arg in "$@"; do
	case "$arg" in
	--no-build) build=0 ;;
	--sanitize) sanitize=1 ;;
	*) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
	esac
done

packages=(
	# toolchain and build
	build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
	# the owner's libraries
	libdpdk-dev dpdk-dev libpcap-dev libhyperscan-dev libbpf-dev libnuma-dev
	libsqlite3-dev libcivetweb-dev
	# well-kept additions (see docs/ARCHITECTURE.md for why each)
	libjansson-dev libssl-dev libcmocka-dev libsodium-dev libldap-dev libseccomp-dev
	libarchive-dev
	# the drone link: libwebsockets (the Hive's drone listener, the drone's wss:// client) and
	# libcurl with OpenSSL (the drone's HTTPS uploads); docs/DRONES.md, "Transport"
	libwebsockets-dev libcurl4-openssl-dev
	# identification beside tide's own classifiers (the nDPI plugin) and real-time flow export
	# over IPFIX (libfixbuf), checked against nfdump's collector
	libfixbuf-dev nfdump
	# reference peers and test tools
	tcpdump tshark python3 iproute2 procps libndpi-bin libndpi-dev wrk
	# certificates for the TLS tests (openssl CLI), the system CA store a drone trusts by
	# default, and strace to show a refused --hive makes no connection
	openssl ca-certificates strace
	# the control plane's LDAP tests and post-processing sandbox
	slapd ldap-utils bubblewrap tmux
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

"$here/scripts/setup-webui.sh" # the web console's browser tests: chromium, node, playwright-core
[ "$build" -eq 1 ] || exit 0

cd "$here"
opts=()
dir=build
if [ "$sanitize" -eq 1 ]; then
	opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
	dir=build-asan
fi
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" --buildtype=debugoptimized "${opts[@]}"
fi
ninja -C "$dir"
