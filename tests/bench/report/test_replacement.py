"""The replacement-sensitivity figure: ranks by mean deletion AUC under each replacement."""

from __future__ import annotations

import pandas as pd

from bench.report.finished_run import load_run
from bench.report.replacement import plot_replacement, ranks_by_replacement
from tests.bench.report.finished_runs import text_records, text_run


def test_ranks_match_a_hand_ranking_per_replacement():
    records = text_records(("mask", "pad"))
    records = records[records["error"].isna()]
    ranks = ranks_by_replacement(records)
    for replacement in ("mask", "pad"):
        rows = records[records["replacement"] == replacement]
        means = {m: rows.loc[rows["method"] == m, "metric_deletion"].mean() for m in set(rows["method"])}
        expected = {m: 1 + sum(v < means[m] for v in means.values()) for m in means}
        assert ranks[replacement].to_dict() == expected


def test_figure_is_drawn_when_the_records_hold_two_replacements(tmp_path):
    run = load_run(text_run(tmp_path / "run"))
    run.records = pd.concat([run.records, run.records.assign(replacement="pad")], ignore_index=True)
    figure = plot_replacement(run, tmp_path / "figures")
    assert figure.png.stat().st_size > 1000 and "Kendall" in figure.caption
