"""Curves as small multiples: a panel per method, ordered by the metric's own AUC with its
direction, the best method and random drawn faintly in the others' panels."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bench.report.curves import GRID, curve_figure, ranked_by_area, recorded_curves
from bench.report.finished_run import load_run
from tests.bench.report.finished_runs import METHODS, summary_table, text_records, text_run, write_run

# text_records: each method's deletion curve falls linearly from 1 to 0.1 * (1 + its index) (the
# insertion curve is the same, reversed), so its area is the trapezoid (1 + end) / 2 on any length
AREAS = {method: (1 + 0.1 * (1 + i)) / 2 for i, method in enumerate(METHODS)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(text_run(tmp_path_factory.mktemp("curves") / "run"))


def test_methods_are_ranked_by_the_closed_form_area_respecting_each_curves_direction(run):
    deletion = ranked_by_area(recorded_curves(run, "deletion"), "deletion")
    insertion = ranked_by_area(recorded_curves(run, "insertion"), "insertion")
    assert [m for m, _ in deletion] == ["atman", "gae", "random"]  # lower deletion area is better
    assert [m for m, _ in insertion] == ["random", "gae", "atman"]  # higher insertion area is better
    for method, area in deletion + insertion:
        assert area == pytest.approx(AREAS[method])


def _lines(ax) -> dict[str, np.ndarray]:
    """A panel's lines by style: '-' its own mean, ':' the best method's, '--' random's."""
    return {line.get_linestyle(): np.asarray(line.get_ydata()) for line in ax.get_lines()}


def _explicit_mean(run, method: str, curve: str) -> np.ndarray:
    rows = run.ok[run.ok["method"] == method][f"curve_{curve}"]
    on_grid = [[np.interp(x, np.linspace(0, 1, len(c)), c) for x in GRID] for c in rows]
    return np.mean(on_grid, axis=0)


def test_one_panel_per_method_with_its_mean_and_the_faint_references(run):
    figure, references = curve_figure(run, "deletion")
    try:
        assert references == {"best": "atman", "random": "random"}
        assert len(figure.axes) == len(METHODS)
        titles = [ax.get_title().splitlines()[0] for ax in figure.axes]
        assert titles == ["atman (best)", "gae", "random"]
        means = {m: _explicit_mean(run, m, "deletion") for m in METHODS}
        atman, gae, random = (_lines(ax) for ax in figure.axes)
        assert set(atman) == {"-", "--"} and set(random) == {"-", ":"} and set(gae) == {"-", ":", "--"}
        np.testing.assert_allclose(gae["-"], means["gae"])
        np.testing.assert_allclose(gae[":"], means["atman"])
        np.testing.assert_allclose(gae["--"], means["random"])
        np.testing.assert_allclose(atman["--"], means["random"])
        assert f"AUC {AREAS['gae']:.3f}" in figure.axes[1].get_title()
    finally:
        plt.close(figure)


def test_many_methods_get_a_grid_of_exactly_as_many_panels(tmp_path):
    records = text_records()
    many = [f"method-{i:02d}" for i in range(14)]
    copies = [records[records["method"] == METHODS[i % 3]].assign(method=name) for i, name in enumerate(many)]
    config = f'task = "fake-text"\nmethods = {json.dumps(many)}\nmetrics = ["deletion"]\nseed = 0\n'
    run = load_run(write_run(tmp_path / "run", pd.concat(copies), config, summary_table("fake-text")))
    figure, references = curve_figure(run, "insertion")
    try:
        assert len(figure.axes) == 14
        assert references == {"best": "method-02"}  # a copy of random, the highest insertion area; no random
        assert all(len(ax.get_lines()) == (1 if i == 0 else 2) for i, ax in enumerate(figure.axes))
        rows = {round(ax.get_position().y0, 3) for ax in figure.axes}
        assert len(rows) == 3  # 5 + 5 + 4 panels
    finally:
        plt.close(figure)
