import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from bench.stats import SUMMARY_COLUMNS, bootstrap_ci, holm, summarize


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 scaled by 3, 2, 1 -> 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])


def test_bootstrap_ci_is_seeded_and_close_to_the_normal_interval():
    values = np.random.default_rng(0).normal(2.0, 1.0, size=400)
    low, high = bootstrap_ci(values, seed=1)
    assert (low, high) == bootstrap_ci(values, seed=1)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half_width, abs=0.02)
    assert high == pytest.approx(values.mean() + half_width, abs=0.02)
    assert np.isnan(bootstrap_ci(values[:1], seed=0)[0])


def _records(values: dict[str, np.ndarray], metric: str = "deletion") -> pd.DataFrame:
    rows = []
    for method, column in values.items():
        for i, value in enumerate(column):
            rows.append(
                {"task": "t", "model": "m", "method": method, "example_id": f"e{i:02d}", "error": None,
                 f"metric_{metric}": value}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_ranks_follow_direction_and_mark_ties():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, size=30)
    noise = rng.normal(0, 0.01, size=30)
    records = _records({"good": base - 0.2, "meh": base, "meh-too": base + noise})
    summary = summarize(records, ["deletion"]).set_index("method")  # deletion: lower is better
    assert list(summary.columns) == SUMMARY_COLUMNS[:2] + SUMMARY_COLUMNS[3:]
    assert summary.loc["good", "rank"] == 1 and summary.loc["good", "tied_with"] == ""
    assert summary.loc["meh", "rank"] == summary.loc["meh-too", "rank"] == 2
    assert summary.loc["meh", "tied_with"] == "meh-too"
    assert summary.loc["meh", "mean"] == pytest.approx(base.mean())
    assert summary.loc["meh", "n"] == 30


def test_pairs_use_only_examples_both_methods_scored():
    a = np.linspace(0, 1, 12)
    b = a + np.linspace(0.01, 0.3, 12)
    b_with_gap = b.copy()
    b_with_gap[:3] = np.nan
    summary = summarize(_records({"a": a, "b": b_with_gap}), ["deletion"]).set_index("method")
    expected = wilcoxon(a[3:], b[3:]).pvalue
    assert summary.loc["b", "n"] == 9
    assert (summary.loc["a", "tied_with"] == "") == (expected < 0.05)


def test_error_rows_are_left_out():
    records = _records({"a": np.array([0.1, 0.2, 0.3])})
    records.loc[0, "error"] = "RuntimeError: boom"
    summary = summarize(records, ["deletion"])
    assert summary.loc[0, "mean"] == pytest.approx(0.25) and summary.loc[0, "n"] == 2


def test_user_text_is_printed_and_drawn_as_written(tmp_path):
    """Rich markup and matplotlib mathtext in method names or tokens are text, not commands."""
    import io

    import pandas as pd
    from rich.console import Console

    from bench.report.figures import new_figure, save
    from bench.summary import print_summary

    name = "x[/bold]y $\\notacommand$ [/INST]"
    summary = pd.DataFrame(
        [{"task": "t", "model": "m", "method": name, "metric": "deletion", "mean": 0.5, "ci_low": 0.4,
          "ci_high": 0.6, "n": 3, "rank": 1, "tied_with": ""}]
    )  # fmt: skip
    out = io.StringIO()
    print_summary(summary, ["deletion"], Console(file=out, width=200))
    assert "x[/bold]y" in out.getvalue()
    figure = new_figure(3, 2)
    figure.subplots().set_title(name)
    assert save(figure, tmp_path, "user-text", "t").png.exists()  # mathtext would raise here
