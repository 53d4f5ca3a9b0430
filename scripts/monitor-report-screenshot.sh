#!/usr/bin/env bash
# Renders the example monitor report of runtime/cli/tests/monitor_report.rs (a synthetic
# prediction log evaluated at three times: quiet, server errors, drift) in headless Chromium
# and writes docs/monitor-report.png: the browser check of `mlpc monitor report`.
# Installs Debian's chromium when it is missing. Usage: scripts/monitor-report-screenshot.sh [OUT.png]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
out="${1:-docs/monitor-report.png}"

if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The test builds the history, runs `mlpc monitor report` and keeps the HTML here.
MLP_MONITOR_REPORT_KEEP="$work/report.html" \
  cargo test -q -p mlpc --test monitor_report the_report_is_one_self_contained_file
test -s "$work/report.html"

# No network: every request but the file itself would fail, and the page needs none.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --proxy-server=127.0.0.1:9 \
  --window-size=1200,2900 --screenshot="$work/shot.png" "file://$work/report.html" \
  >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log"; exit 1; }

# A blank page compresses to a few KB; the rendered report (text, charts) to over 100 KB.
size=$(stat -c %s "$work/shot.png")
if [ "$size" -lt 40000 ]; then
  echo "screenshot is only $size bytes: blank page?" >&2
  exit 1
fi
cp "$work/shot.png" "$out"
echo "wrote $out ($size bytes)"
