"""Critical-difference diagrams of a hand-made two-task run: the files, what is drawn where, the
page section and summary.md's verdicts."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from bench.ranking import rank_methods, scopes
from bench.report import make_report
from bench.report.critical_difference import draw_critical_difference, plot_critical_difference
from bench.report.figures import FigureFile, Skipped
from bench.report.finished_run import load_run
from bench.summary import write_summary
from tests.bench.report.finished_runs import multi_task_records, multi_task_run

VERDICT = (
    "on faithfulness (comprehensiveness ↑) across 2 tasks (10 examples): atman and gae are "
    "indistinguishable and better than the rest at p &lt; 0.05"
)


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    return load_run(multi_task_run(tmp_path_factory.mktemp("suite") / "run"))


def test_one_diagram_per_scope_and_headline_metric_as_png_and_pdf(suite_run, tmp_path):
    items = plot_critical_difference(suite_run, tmp_path)
    assert all(isinstance(item, FigureFile) for item in items)
    stems = [item.png.stem for item in items]
    assert stems == [
        f"cd_{metric}_{scope}"
        for scope in ("across-2-tasks", "on-fake-a", "on-fake-b")
        for metric in ("comprehensiveness", "map")
    ]
    for item in items:
        assert item.png.stat().st_size > 1000 and item.pdf.read_bytes().startswith(b"%PDF")
    assert items[0].caption.startswith(VERDICT.replace("&lt;", "<"))
    assert "3 of 3" not in items[0].caption and "2 of 3 method pairs separated" in items[0].caption


def _drawn(ranking):
    figure = draw_critical_difference(ranking, {})
    ax = figure.axes[0]
    bars = [line for line in ax.lines if line.get_gid() == "clique"]
    labels = {text.get_text(): text for text in ax.texts if text.get_gid() == "method"}
    hanging = {
        line.get_gid().removeprefix("rank:"): line
        for line in ax.lines
        if str(line.get_gid()).startswith("rank:")
    }
    plt.close(figure)
    return bars, labels, hanging


def test_bars_span_exactly_the_methods_no_test_separates():
    rows = multi_task_records()
    scope, ok = scopes(rows[rows["error"].isna()])[0]
    ranking = rank_methods(ok, "comprehensiveness", scope)
    assert ranking.cliques == [["atman", "gae"]]
    bars, labels, hanging = _drawn(ranking)
    assert len(bars) == 1
    x = {method: line.get_xdata()[0] for method, line in hanging.items()}
    left, right = sorted(bars[0].get_xdata())
    assert left < x["atman"] <= x["gae"] < right < x["random"]
    assert bars[0].get_linewidth() >= 3  # thick, as Demsar draws them
    # atman and gae tie at 1.5 and hang left; random (rank 3) hangs right with its rank before its name
    assert set(labels) == {"atman  1.50", "gae  1.50", "3.00  random"}
    assert labels["atman  1.50"].get_position()[0] < x["atman"] < labels["3.00  random"].get_position()[0]
    assert x["atman"] == x["gae"] < x["random"]


def test_per_task_scope_without_separated_pairs_draws_one_bar_over_all():
    rows = multi_task_records()
    ok = rows[(rows["error"].isna()) & (rows["task"] == "fake-a")]
    ranking = rank_methods(ok, "comprehensiveness", "on fake-a")
    bars, _, hanging = _drawn(ranking)
    assert ranking.cliques == [["atman", "gae", "random"]]  # 5 examples: no Wilcoxon p below 0.0625
    left, right = sorted(bars[0].get_xdata())
    assert left < min(line.get_xdata()[0] for line in hanging.values())
    assert right > max(line.get_xdata()[0] for line in hanging.values())


def test_a_run_without_quality_metrics_is_skipped_with_a_reason(suite_run, tmp_path):
    bare = type(suite_run)(suite_run.path, {}, "", {}, suite_run.records, suite_run.summary.iloc[0:0])
    (item,) = plot_critical_difference(bare, tmp_path)
    assert isinstance(item, Skipped) and item.reason == "the run has no quality metric to rank"


def test_the_page_and_summary_md_carry_the_verdicts(suite_run):
    page = make_report(suite_run.path).read_text()
    section = page.split("<h2>Rankings across examples and tasks</h2>")[1].split("<h2>Figures</h2>")[0]
    assert f"<p>{VERDICT}. 2 of 3 method pairs separated" in section
    assert section.count("<figure>") == 6
    write_summary(
        suite_run.path, suite_run.summary, list(pd.unique(suite_run.summary["metric"])), suite_run.records
    )
    text = (suite_run.path / "summary.md").read_text()
    assert "## Rankings" in text and f"- {VERDICT.replace('&lt;', '<')}. 2 of 3" in text
