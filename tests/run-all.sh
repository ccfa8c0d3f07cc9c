#!/usr/bin/env bash
# Runs every test of the appliance: Rust (unit + integration over real HTTP), the Node
# bridges, and the browser tests. Installs what a fresh Debian machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ -d web ] && [ -f tests/browser.rs ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# The package test builds a real .deb and checks its contents.
command -v dpkg-deb >/dev/null && ! command -v cargo-deb >/dev/null && cargo install --locked cargo-deb

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

if [ -f bridges/package.json ]; then
  echo "== bridges (npm test)"
  (cd bridges && PUPPETEER_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund && npm test) 2>&1 | tee "$logs/bridges.log"
fi

echo "== cargo test"
cargo test --all-targets -- --test-threads="${TEST_THREADS:-4}" 2>&1 | tee "$logs/cargo.log"

# One closing line for everything that ran (node:test "# pass N", cargo "N passed; M failed").
awk '
  /^# pass [0-9]+/ { p += $3 }
  /^# fail [0-9]+/ { f += $3 }
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  END { printf "total: %d passed, %d failed\n", p, f; exit (f > 0) }
' "$logs"/*.log
