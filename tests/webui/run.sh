#!/bin/sh
# tests/webui/run.sh — runs test_console.js, or skips (77) when the browser tooling is missing.
# Usage: run.sh TIDE_CONTROL TIDE_DATAPLANE WEBUI_DIR SCREENSHOT_DIR
# scripts/setup-webui.sh installs chromium, node and npm, and playwright-core into node_modules/.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node is not installed (scripts/setup-webui.sh)"
	exit 77
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	echo "SKIP: no chromium at ${CHROMIUM:-/usr/bin/chromium} (scripts/setup-webui.sh)"
	exit 77
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
	echo "SKIP: playwright-core is not in $here/node_modules (scripts/setup-webui.sh)"
	exit 77
fi
exec node "$here/test_console.js" --control "$1" --dataplane "$2" --webui "$3" --out "$4"
