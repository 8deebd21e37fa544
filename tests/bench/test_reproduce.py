"""`reproduce`: the IQM against a hand computation, and a protocol end to end on the tiny BERT."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bench import reproduce as reproduce_module
from bench.cli import main
from bench.records import read_records
from bench.reproduce import PAPER_SQUAD, PROTOCOLS, interquartile_mean, reproduce


def test_iqm_is_the_mean_of_the_middle_half():
    values = np.array([100.0, 1.0, 3.0, 2.0, 4.0, 5.0, 7.0, 6.0, -50.0, np.nan, 8.0, 9.0, 10.0])
    ordered = sorted(v for v in values if not np.isnan(v))  # 12 finite values: drop 3 at each end
    assert interquartile_mean(values) == pytest.approx(sum(ordered[3:9]) / 6)
    assert interquartile_mean(np.array([5.0])) == 5.0
    assert np.isnan(interquartile_mean(np.array([np.nan])))


def test_squad_protocol_is_the_papers_table_1():
    squad = PROTOCOLS["atman-squad"]
    assert squad.task == "squad_qa" and set(squad.metrics) == {"map", "mar"}
    assert set(PAPER_SQUAD) <= set(squad.methods) and {"occlusion", "shap", "random"} <= set(squad.methods)
    assert PAPER_SQUAD["atman"] == {"map": 73.7, "mar": 93.4} and PAPER_SQUAD["gae"]["mar"] == 96.6


@pytest.fixture
def tiny_protocol(monkeypatch):
    """atman-squad's protocol on the fake spam task (tiny BERT, character-span rationales)."""
    tiny = dataclasses.replace(
        PROTOCOLS["atman-squad"],
        task="fake-spam",
        methods=("atman", "gae", "input-x-gradient", "random"),
        data=None,
        plugins=("tests.bench.fake_task",),
    )
    monkeypatch.setitem(reproduce_module.PROTOCOLS, "atman-squad", tiny)
    return tiny


def test_reproduce_end_to_end_matches_the_records(tiny_protocol, tmp_path):
    out = tmp_path / "run"
    table = reproduce("atman-squad", n=6, out=str(out), console=Console(quiet=True))
    records = read_records(out)
    assert set(records["method"]) == set(tiny_protocol.methods)
    for _, row in table.iterrows():
        values = records.loc[records["method"] == row["method"], "metric_map"].dropna().to_numpy()
        assert row["n_map"] == len(values) > 0
        assert row["map_mean"] == pytest.approx(100 * sum(values) / len(values))
        cut = len(values) // 4
        middle = sorted(values)[cut : len(values) - cut]
        assert row["map_iqm"] == pytest.approx(100 * sum(middle) / len(middle))
        assert row["map_paper"] == PAPER_SQUAD.get(row["method"], {}).get("map", np.nan) or np.isnan(
            row["map_paper"]
        )
    saved = pd.read_csv(out / "reproduce.csv")
    assert list(saved["method"]) == list(tiny_protocol.methods)


def test_cli_prints_our_table_beside_the_papers(tiny_protocol, tmp_path, capsys):
    assert main(["reproduce", "atman-squad", "--n", "4", "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "73.7" in printed and "96.6" in printed and "model scale" in printed
    for method in tiny_protocol.methods:
        assert method in printed
