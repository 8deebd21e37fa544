"""The HTML summary table: a column group per metric family, rows in rank order, the mean with
its rank over the CI in each cell, sort keys and directions for the headers' script."""

from __future__ import annotations

import pandas as pd

from bench.report.summary_table import family_columns, summary_table
from tests.bench.report.finished_runs import SUMMARY_VALUES
from tests.bench.report.finished_runs import summary_table as hand_made_summary
from tests.bench.report.html_tree import parse

METRICS = ["deletion", "insertion", "map", "retired", "seconds"]
SECONDS = {"atman": 0.0123, "gae": 4.5, "random": 1234.0}


def _summary() -> pd.DataFrame:
    """The hand-made summary plus a cost row per method and a metric this version does not know."""
    summary = hand_made_summary("fake-text")
    extra = [
        {"task": "fake-text", "model": "tiny-model", "method": m, "metric": "seconds", "mean": v, "ci_low": v}
        for m, v in SECONDS.items()
    ] + [{"task": "fake-text", "model": "tiny-model", "method": "gae", "metric": "retired", "mean": 0.5}]
    summary = pd.concat([summary, pd.DataFrame(extra)], ignore_index=True)
    summary["ci_high"] = summary["ci_high"].fillna(summary["mean"])
    summary["ci_low"] = summary["ci_low"].fillna(summary["mean"])
    summary["rank"] = summary["rank"].fillna(1)
    summary["tied_with"] = summary["tied_with"].fillna("")
    return summary


def test_families_are_column_groups_in_the_registry_order():
    assert list(family_columns(_summary(), METRICS).items()) == [
        ("faithfulness", ["deletion", "insertion"]),
        ("plausibility", ["map"]),
        ("other", ["retired"]),
        ("cost", ["seconds"]),
    ]
    table = parse(summary_table(_summary(), METRICS)).find("table")
    groups = table.find_all("colgroup", "family")
    assert [(g.attrs["data-family"], g.attrs["span"]) for g in groups] == [
        ("faithfulness", "2"),
        ("plausibility", "1"),
        ("other", "1"),
        ("cost", "1"),
    ]
    family_headers = table.find_all("th", "family")
    assert [(h.text(), h.attrs["colspan"]) for h in family_headers] == [
        (g.attrs["data-family"], g.attrs["span"]) for g in groups
    ]


def test_headers_name_the_metric_its_direction_and_sort_column():
    table = parse(summary_table(_summary(), METRICS)).find("table")
    headers = table.find_all("th", "metric")
    assert [h.text() for h in headers] == [
        "deletion\u00a0↓",
        "insertion\u00a0↑",
        "map\u00a0↑",
        "retired",
        "s/ex",
    ]
    assert [h.attrs.get("data-better") for h in headers] == ["lower", "higher", "higher", None, "lower"]
    assert [h.attrs["data-column"] for h in headers] == ["1", "2", "3", "4", "5"]


def test_rows_follow_the_rank_on_the_first_metric_and_cells_hold_mean_rank_and_ci():
    table = parse(summary_table(_summary(), METRICS)).find("table")
    rows = table.find("tbody").find_all("tr")
    # deletion ranks: atman 1, gae 2 (mean 0.2345), random 2 (mean 0.3456): lower mean first
    assert [row.find("td", "method").text() for row in rows] == ["atman", "gae", "random"]
    for row in rows:
        method = row.find("td", "method").text()
        cells = row.find_all("td")
        assert len(cells) == 1 + len(METRICS)
        for metric, cell in zip(["deletion", "insertion", "map"], cells[1:4], strict=True):
            mean, low, high, rank, tied = SUMMARY_VALUES[(method, metric)]
            assert cell.find("span", "mean").text() == f"{mean:.3f}"
            assert cell.find("span", "rank").text() == f"#{rank}{'=' if tied else ''}"
            assert cell.find("span", "ci").text() == f"{low:.3f}–{high:.3f}"
            assert float(cell.attrs["data-value"]) == mean
            assert ("top" in cell.classes()) == (rank == 1)
        assert float(cells[5].attrs["data-value"]) == SECONDS[method]
    assert [row.find_all("td")[5].text() for row in rows] == ["0.012", "4.5", "1,234"]
    retired = [row.find_all("td")[4] for row in rows]
    assert [retired[0].text(), retired[1].find("span", "mean").text(), retired[2].text()] == [
        "-",
        "0.500",
        "-",
    ]
