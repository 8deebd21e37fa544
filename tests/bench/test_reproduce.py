"""`reproduce`: the IQM against a hand computation, the protocols' settings, and a protocol end to
end on the tiny BERT (CIs and ranks from the run's own summary, the IQM only from n >= 8)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bench import reproduce as reproduce_module
from bench.cli import main
from bench.records import read_records
from bench.reproduce import IQM_MIN_N, PAPER_PARAMS, PAPER_SQUAD, PROTOCOLS, interquartile_mean, reproduce


def test_iqm_is_the_mean_of_the_middle_half():
    values = np.array([100.0, 1.0, 3.0, 2.0, 4.0, 5.0, 7.0, 6.0, -50.0, np.nan, 8.0, 9.0, 10.0])
    ordered = sorted(v for v in values if not np.isnan(v))  # 12 finite values: drop 3 at each end
    assert interquartile_mean(values) == pytest.approx(sum(ordered[3:9]) / 6)
    assert interquartile_mean(np.array([5.0])) == 5.0
    assert np.isnan(interquartile_mean(np.array([np.nan])))


def test_squad_protocol_is_the_papers_table_1_with_the_official_settings():
    squad = PROTOCOLS["atman-squad"]
    assert squad.task == "squad_qa" and set(squad.metrics) == {"map", "mar"} and squad.n == 100
    assert set(squad.methods) == set(PAPER_SQUAD) | {"random"}
    assert set(squad.extra_methods) == {"occlusion", "shap"} and squad.token_set == "context"
    assert PAPER_SQUAD["atman"] == {"map": 73.7, "mar": 93.4} and PAPER_SQUAD["gae"]["mar"] == 96.6
    atman = squad.params["atman"]
    assert atman == {
        "suppression_factor": 0.9,
        "conceptual_threshold": 0.7,
        "aggregate": "squared",
        "row_min": "all",
    }
    assert squad.params["integrated-gradients"]["n_steps"] == 10
    assert squad.params["integrated-gradients"]["baseline"] == "zero"
    assert all(params.get("target_output", "logit") == "logit" for params in squad.params.values())
    assert PROTOCOLS["atman-digits"].params == PAPER_PARAMS == squad.params


@pytest.fixture
def tiny_protocol(monkeypatch):
    """atman-squad's protocol on the fake spam task (tiny BERT, character-span rationales)."""
    tiny = dataclasses.replace(
        PROTOCOLS["atman-squad"],
        task="fake-spam",
        methods=("atman", "gae", "input-x-gradient", "random"),
        extra_methods=("occlusion",),
        plugins=("tests.bench.fake_task",),
    )
    monkeypatch.setitem(reproduce_module.PROTOCOLS, "atman-squad", tiny)
    return tiny


@pytest.mark.parametrize("n", [IQM_MIN_N - 2, IQM_MIN_N])
def test_reproduce_end_to_end_matches_the_records_and_the_summary(tiny_protocol, tmp_path, n):
    out = tmp_path / "run"
    table = reproduce("atman-squad", n=n, out=str(out), console=Console(quiet=True))
    records = read_records(out)
    summary = pd.read_csv(out / "summary.csv")
    assert set(records["method"]) == set(tiny_protocol.methods)
    atman = records[records["method"] == "atman"]
    assert np.all(np.concatenate(atman["scores"].to_numpy()) >= 0)  # squared aggregation ran
    for _, row in table.iterrows():
        values = records.loc[records["method"] == row["method"], "metric_map"].dropna().to_numpy()
        assert row["n_map"] == len(values) > 0
        assert row["map_mean"] == pytest.approx(100 * sum(values) / len(values))
        if n >= IQM_MIN_N:
            cut = len(values) // 4
            middle = sorted(values)[cut : len(values) - cut]
            assert row["map_iqm"] == pytest.approx(100 * sum(middle) / len(middle))
        else:
            assert np.isnan(row["map_iqm"])
        mine = summary[(summary["method"] == row["method"]) & (summary["metric"] == "map")].iloc[0]
        assert row["map_ci_low"] == pytest.approx(100 * mine["ci_low"])
        assert row["map_ci_high"] == pytest.approx(100 * mine["ci_high"])
        assert row["map_rank"] == mine["rank"]
        assert row["map_tied"] == (isinstance(mine["tied_with"], str) and mine["tied_with"] != "")
        paper = PAPER_SQUAD.get(row["method"], {}).get("map", np.nan)
        assert row["map_paper"] == paper or np.isnan(row["map_paper"])
    saved = pd.read_csv(out / "reproduce.csv")
    assert list(saved["method"]) == list(tiny_protocol.methods)


def test_extra_methods_run_into_their_own_folder(tiny_protocol, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = reproduce("atman-squad", n=2, extra_methods=True, console=Console(quiet=True))
    assert list(table["method"]) == [*tiny_protocol.methods, "occlusion"]
    assert (tmp_path / "results" / "reproduce-atman-squad-default-extra" / "reproduce.csv").is_file()


def test_cli_prints_our_table_beside_the_papers(tiny_protocol, tmp_path, capsys):
    assert main(["reproduce", "atman-squad", "--n", "4", "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "73.7" in printed and "96.6" in printed and "model scale" in printed
    assert "mAR rewards diffuse maps" in printed and "conceptual_suppression.py" in printed
    for method in tiny_protocol.methods:
        assert method in printed


def test_cli_refuses_an_unknown_token_set(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["reproduce", "atman-squad", "--token-set", "question", "--out", str(tmp_path / "run")])
    assert raised.value.code == 2
