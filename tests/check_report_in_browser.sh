#!/usr/bin/env bash
# Render the report of a hand-made finished run in headless Chromium and save a screenshot.
#
# Why a script and not a pytest test: it needs Debian's chromium (apt-get install -y chromium,
# about 2 minutes, as root), and whether the screenshot "shows the table and a heatmap" is a
# judgement a pixel test would only approximate. The script still checks what it can: the
# screenshot's first screen holds the heatmap colours (red 214,39,40 / blue 31,119,180 token
# backgrounds) next to the summary table's text area.
#
# Usage: tests/check_report_in_browser.sh [OUT.png]   (from the repository root; ~10 s)
# Then look at OUT.png: the summary table on top, the heatmap box below it.
set -euo pipefail
out="${1:-/tmp/xai-bench-report.png}"
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install -y chromium)"; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
index="$(python -c "
from pathlib import Path
from bench.report import make_report
from tests.bench.report.finished_runs import text_run
print(make_report(text_run(Path('$work') / 'run')))
")"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$work/profile" --screenshot="$out" \
  --window-size=1280,2000 "file://$index" 2>/dev/null
python - "$out" <<'PY'
import sys

import matplotlib.image as mpimg
import numpy as np

shot = (mpimg.imread(sys.argv[1])[..., :3] * 255).round().astype(int)
height = shot.shape[0]
dark_text_rows = np.where((shot.sum(axis=2) < 150).any(axis=1))[0]
# Token backgrounds are alpha-blended on white: strongly red or blue pixels appear only there.
red = (shot[..., 0] > 180) & (shot[..., 1] < 120) & (shot[..., 2] < 120)
blue = (shot[..., 2] > 150) & (shot[..., 0] < 120) & (shot[..., 1] > 90)  # not the links (0, 0, 238)
assert len(dark_text_rows) > 0, "the page rendered blank"
assert red[: height // 2].sum() > 50 and blue[: height // 2].sum() > 50, "no heatmap in the first half screen"
print(f"ok: {sys.argv[1]} shows text and a heatmap in its first {height // 2} pixel rows; look at it to confirm")
PY
