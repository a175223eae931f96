#!/usr/bin/env bash
# scripts/setup-webui.sh — what the web console's browser tests need: Debian's chromium, Node.js
# and npm, then playwright-core (pinned in tests/webui/package-lock.json) into
# tests/webui/node_modules. The console itself (webui/) needs none of this: it is plain files
# served by tide-control. Idempotent; called by scripts/setup.sh.
# Playwright never downloads a browser here: the test drives /usr/bin/chromium.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
packages=(chromium nodejs npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a node/npm installed outside Debian's packages serves as well
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	kept=()
	for p in "${missing[@]}"; do
		case "$p" in nodejs|npm) ;; *) kept+=("$p") ;; esac
	done
	missing=("${kept[@]}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup-webui.sh: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cd "$here/tests/webui"
if [ ! -f node_modules/playwright-core/package.json ] ||
	[ package-lock.json -nt node_modules/.package-lock.json ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
