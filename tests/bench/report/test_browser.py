"""The report in a real browser: headless Chromium (Debian's `chromium`, which .ci/run installs)
opens the page of a hand-made two-task run, its first task's summary as wide as a real run's (15
methods, every default metric), in a 1366x768 window, a laptop's screen. The DOM it built must
hold the summary tables, a heatmap and a CD diagram (in `<section id="cd-diagram">`); two clicks
on a header must sort the table worst first; the tables must fit the window's width; and the
screenshot must not be blank. Skipped only when chromium is not installed."""

from __future__ import annotations

import json
import shutil
import subprocess

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from bench.report import make_report
from tests.bench.report.finished_runs import MULTI_TASKS, multi_task_run
from tests.bench.report.html_tree import parse

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
)
WINDOW = (1366, 768)
FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]
METHODS = [
    "atman", "atman-grad", "atman-screened", "attention", "gae", "input-x-gradient", "integrated-gradients",
    "kernel-shap", "lime", "occlusion", "random", "rollout", "saliency", "shap", "smoothgrad",
]  # fmt: skip
METRICS = [
    "aopc", "comprehensiveness", "deletion", "faithfulness_correlation", "insertion", "loo_tau",
    "soft_comprehensiveness", "soft_sufficiency", "sufficiency", "auprc", "iou_f1", "map", "mar",
    "token_f1", "complexity", "sparseness", "seconds", "forward_passes", "eval_seconds",
    "eval_forward_passes",
]  # fmt: skip
PROBE = """<script>
const table = document.querySelector("table.summary-table");
const insertion = [...table.querySelectorAll("th.metric")].find((th) => th.title.startsWith("insertion:"));
insertion.click();
insertion.click();
const probe = document.createElement("pre");
probe.id = "probe";
const page = document.documentElement;
probe.textContent = JSON.stringify({page: page.scrollWidth, window: page.clientWidth});
document.body.append(probe);
</script>"""
"""Appended to a copy of the page: sorts by insertion twice (worst first) and measures the width."""


def wide_summary() -> pd.DataFrame:
    """A summary of the report's real size: 15 methods x the default metrics, with the widest
    cells a real run has: negative means and CIs, two-digit ranks with ties."""
    rng = np.random.default_rng(0)
    rows = []
    for metric in METRICS:
        cost = metric in ("seconds", "forward_passes", "eval_seconds", "eval_forward_passes")
        means = rng.uniform(0.0, 400.0, len(METHODS)) if cost else rng.uniform(-0.6, 1.0, len(METHODS))
        for method, mean, rank in zip(METHODS, means, np.argsort(np.argsort(-means)) + 1, strict=True):
            rows.append(
                {
                    "task": MULTI_TASKS[0],
                    "model": "tiny-model",
                    "method": method,
                    "metric": metric,
                    "mean": mean,
                }
                | {"ci_low": mean - 0.15, "ci_high": mean + 0.15, "n": 20, "rank": rank, "tied_with": "gae"}
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(the DOM Chromium built, the screenshot's pixels, the summary it showed)."""
    work = tmp_path_factory.mktemp("browser")
    run_dir = multi_task_run(work / "run")
    summary = wide_summary()
    recorded = pd.read_csv(run_dir / "summary.csv")
    pd.concat([summary, recorded[recorded["task"] != MULTI_TASKS[0]]]).to_csv(
        run_dir / "summary.csv", index=False
    )
    config = [
        line for line in (run_dir / "config.toml").read_text().splitlines() if not line.startswith("metrics")
    ]
    (run_dir / "config.toml").write_text("\n".join([*config, f"metrics = {json.dumps(METRICS)}", ""]))
    index = make_report(run_dir)
    probed = index.with_name("probed.html")
    probed.write_text(index.read_text().replace("</body>", f"{PROBE}\n</body>"))
    shot = work / "shot.png"
    (work / "profile").mkdir()
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", f"--screenshot={shot}", "--dump-dom"]
        + [probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    return parse(result.stdout), mpimg.imread(shot)[..., :3], summary


def test_the_dom_holds_the_summary_tables_a_heatmap_and_the_cd_diagram(rendered):
    dom, _, _ = rendered
    tables = dom.find_all("table", "summary-table")
    assert [len(t.find("tbody").find_all("tr")) for t in tables] == [len(METHODS), 3]
    table = tables[0]
    assert [g.attrs["data-family"] for g in table.find_all("colgroup", "family")] == [
        "faithfulness",
        "plausibility",
        "complexity",
        "cost",
    ]
    heatmap = dom.find("table", "heatmap")
    assert heatmap.find_all("span", "tok") and heatmap.find_all("span", "word")
    diagrams = dom.find("section", id="cd-diagram").find_all("img")
    assert diagrams and all(img.attrs["src"].startswith("data:image/png;base64,") for img in diagrams)


def test_two_clicks_on_a_header_sort_the_rows_worst_first(rendered):
    dom, _, summary = rendered
    rows = dom.find("table", "summary-table").find("tbody").find_all("tr")
    shown = [row.find("td", "method").text() for row in rows]
    insertion = summary[summary["metric"] == "insertion"].sort_values("mean")  # higher is better
    assert shown == insertion["method"].tolist()


def test_the_table_fits_a_laptop_screen_and_the_screenshot_is_not_blank(rendered):
    dom, pixels, _ = rendered
    measured = json.loads(dom.find("pre", id="probe").text())
    assert measured["page"] <= measured["window"] <= WINDOW[0], f"the page scrolls sideways: {measured}"
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    assert pixels.std() > 0.1, "the screenshot is (nearly) one colour"
    dark = (pixels.sum(axis=2) < 1.0).mean()  # text
    tinted = ((pixels.max(axis=2) - pixels.min(axis=2)) > 0.05).mean()  # rank-1 cells, headers
    assert dark > 0.01 and tinted > 0.02, f"text {dark:.3f}, colour {tinted:.3f} of the pixels"
