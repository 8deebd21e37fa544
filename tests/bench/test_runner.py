import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import bench
from bench import runner
from bench.errors import InputError
from bench.evaluate import score_explanation
from bench.records import read_records
from bench.registry import METHODS, TASKS
from bench.run_config import RunConfig
from bench.run_folder import locked
from bench.runner import task_and_model
from bench.stats import SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "tests.bench.fake_task"
VALUE_COLUMNS = [
    "scores",
    "metric_deletion",
    "metric_insertion",
    "metric_auprc",
    "curve_deletion",
    "metric_map",
]


@pytest.fixture(autouse=True, scope="module")
def fake_registrations():
    """The plugin registers a fake task and methods; take them out again after this module."""
    yield
    for registry, names in (
        (TASKS, ["fake-spam", "fake-plain"]),
        (METHODS, ["fake-failing", "fake-slow", "fake-deleting-loo", "fake-flaky", "fake-unavailable"]),
    ):
        for name in names:
            registry._entries.pop(name, None)
    sys.modules.pop(PLUGIN, None)
    runner._task_and_model.cache_clear()
    runner._examples.cache_clear()
    runner._fitted.cache_clear()


def config(out: Path, **overrides) -> RunConfig:
    settings = dict(
        task="fake-spam", methods=["atman", "random"], n=4, shard_size=2, plugins=[PLUGIN], quiet=True
    )
    return RunConfig(out=str(out), **{**settings, **overrides})


def sorted_records(run_dir: Path) -> pd.DataFrame:
    return read_records(run_dir).sort_values(["method", "example_id"]).reset_index(drop=True)


def assert_same_values(a: pd.DataFrame, b: pd.DataFrame, atol: float = 0.0) -> None:
    assert a["method"].tolist() == b["method"].tolist()
    assert a["example_id"].tolist() == b["example_id"].tolist()
    for column in VALUE_COLUMNS:
        for x, y in zip(a[column], b[column], strict=True):
            np.testing.assert_allclose(
                np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=1e-7, atol=atol
            )


def test_run_writes_records_summary_and_meta(tmp_path):
    summary = bench.run(config(tmp_path))
    records = sorted_records(tmp_path)
    assert len(records) == 8 and records["error"].isna().all()
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(pd.read_csv(tmp_path / "summary.csv")["metric"]) >= {"deletion", "auprc", "seconds"}
    assert "## fake-spam" in (tmp_path / "summary.md").read_text()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["seed"] == 0 and {"torch", "transformers", "numpy", "python"} <= set(meta["versions"])
    assert RunConfig.from_toml(tmp_path / "config.toml").methods == ["atman", "random"]
    # each record's metrics equal bench's own scoring of the recorded scores
    _, model = task_and_model(RunConfig.from_toml(tmp_path / "config.toml"))
    row = records.iloc[0]
    encoded = model.encode(TASKS.get("fake-spam")().examples(n=4)[0].inputs, int(row["target"]))
    explanation = bench.Explanation(tokens=list(row["tokens"]), scores=row["scores"], target=encoded.target,
                                    special_tokens=np.asarray(row["special"]))  # fmt: skip
    values, curves = score_explanation(
        explanation, model, encoded, ["deletion"], np.asarray(row["rationale"])
    )
    assert row["metric_deletion"] == pytest.approx(values["deletion"])
    # the run computed some of these rows in batches with other metrics' and methods' rows:
    # float32's last digits may differ (bench.perturbation.Perturber.logprobs)
    np.testing.assert_allclose(row["curve_deletion"], curves["deletion"], rtol=0, atol=1e-6)
    # a summary mean is the mean of its records
    atman = summary[(summary["method"] == "atman") & (summary["metric"] == "deletion")].iloc[0]
    assert atman["mean"] == pytest.approx(records[records["method"] == "atman"]["metric_deletion"].mean())


def test_failing_method_becomes_error_rows_and_the_run_goes_on(tmp_path):
    bench.run(config(tmp_path, methods=["fake-failing", "random"], n=8))
    records = sorted_records(tmp_path).set_index(["method", "example_id"])
    failing = records.loc["fake-failing", "error"]
    assert failing["fake-2"] == "RuntimeError: fake failure on a prize"
    assert failing["fake-3"].startswith("FloatingPointError") and "non-finite" in failing["fake-3"]
    assert failing.notna().sum() == 4
    assert records.loc["random", "error"].isna().all()
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary[(summary["method"] == "fake-failing") & (summary["metric"] == "deletion")]["n"].item() == 4
    text = (tmp_path / "summary.md").read_text()
    assert ", fake-failing: 2 row(s): RuntimeError: fake failure on a prize\n" in text
    assert "random:" not in text.split("## Rows not run")[1].split("##")[0]


def test_rerun_skips_finished_rows_and_changed_config_is_refused(tmp_path):
    bench.run(config(tmp_path))
    parts = sorted((tmp_path / "records").glob("part-*.parquet"))
    bench.run(config(tmp_path, executor="local", batch_size=3))  # execution settings may change
    assert sorted((tmp_path / "records").glob("part-*.parquet")) == parts
    with pytest.raises(InputError, match=r"different config \(seed: 0 -> 1\)"):
        bench.run(config(tmp_path, seed=1))


def test_stray_temp_files_are_ignored_and_corrupt_parts_are_named(tmp_path):
    bench.run(config(tmp_path, methods=["random"], n=2))
    (tmp_path / "records" / ".part-123.parquet.tmp").write_bytes(b"half a file")
    assert len(read_records(tmp_path)) == 2
    corrupt = tmp_path / "records" / "part-999.parquet"
    corrupt.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="part-999.parquet is corrupt"):
        read_records(tmp_path)


def _cli(out: Path) -> list[str]:
    flags = ["--plugins", PLUGIN, "--task", "fake-spam", "--methods", "fake-slow,random", "--n", "8"]
    execution = ["--shard-size", "1", "--workers", "2", "--out", str(out), "--quiet"]
    return [sys.executable, "-m", "bench", "run", *flags, *execution]


def test_resume_after_kill_9_matches_an_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    process = subprocess.Popen(_cli(killed), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while len(list((killed / "records").glob("part-*.parquet"))) < 3:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.time() < deadline, "the run wrote no parts in time"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = read_records(killed)
    assert 3 <= len(interrupted) < 16
    _wait_until_unlocked(killed)  # the driver's workers died with it and hold no copy of its lock

    bench.run(RunConfig.from_toml(killed / "config.toml"))
    resumed = sorted_records(killed)
    bench.run(config(tmp_path / "whole", methods=["fake-slow", "random"], n=8, shard_size=1))
    assert len(resumed) == 16 and not resumed.duplicated(["method", "example_id"]).any()
    # rows shared with other methods' rows ran in other batches: float32's last digits may differ
    assert_same_values(resumed, sorted_records(tmp_path / "whole"), atol=1e-6)


def test_ctrl_c_stops_the_workers_keeps_finished_rows_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        _cli(out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # background jobs ignore it
    )  # fmt: skip
    deadline = time.time() + 180
    while not list((out / "records").glob("part-*.parquet")):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.time() < deadline, "the run wrote no parts in time"
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert process.stderr.read().decode().strip().splitlines()[-1] == (
        "xai-bench: interrupted; rerun the same command to resume a run"
    )
    assert len(workers) == 2 and not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert 2 <= len(read_records(out)) < 16
    _wait_until_unlocked(out)


def _wait_until_unlocked(run_dir: Path, seconds: float = 5) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            with locked(run_dir):
                return
        except InputError:
            assert time.time() < deadline, "the killed run's lock outlived it"
            time.sleep(0.05)


def test_worker_processes_give_the_rows_of_one_process_on_one_thread(tmp_path):
    settings = dict(methods=["atman", "occlusion", "random"], n=4, shard_size=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bench.run(config(tmp_path / "one", workers=1, **settings))
    finally:
        torch.set_num_threads(threads)
    bench.run(config(tmp_path / "two", workers=2, **settings))
    # each example's rows ran in one worker in the run's method order, so its shared passes match
    assert_same_values(sorted_records(tmp_path / "two"), sorted_records(tmp_path / "one"), atol=0)


def test_ray_executor_matches_local(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        bench.run(config(tmp_path / "ray", executor="ray", n=2, shard_size=1))
    finally:
        ray.shutdown()
    bench.run(config(tmp_path / "local", n=2, shard_size=1))
    # Ray workers run torch with one thread: float32 sums may round differently in the last bit
    assert_same_values(sorted_records(tmp_path / "ray"), sorted_records(tmp_path / "local"), atol=1e-6)


def test_sanity_option_adds_the_randomisation_check(tmp_path):
    bench.run(config(tmp_path, methods=["random"], n=2, sanity=True))
    records = read_records(tmp_path)
    # random scores ignore the weights, so the randomised model explains identically
    np.testing.assert_allclose(records["metric_randomization"], 1.0)


def test_a_run_holds_several_protocols_and_records_them(tmp_path):
    """Each protocol-governed metric gets a column per protocol, the token_f1 k of ferret comes
    from the run's mean rationale length, and the protocols are saved in config.toml."""
    settings = dict(methods=["random"], metrics=["deletion", "comprehensiveness", "token_f1"])
    summary = bench.run(config(tmp_path, protocols=["xai-bench", "ferret"], **settings))
    records = sorted_records(tmp_path)
    assert {"metric_comprehensiveness", "metric_comprehensiveness@ferret", "metric_token_f1@ferret"} <= set(
        records.columns
    )
    assert "metric_deletion@ferret" not in records  # no protocol governs deletion
    assert set(summary["metric"]) >= {"comprehensiveness@ferret", "token_f1@ferret"}
    assert RunConfig.from_toml(tmp_path / "config.toml").protocols == ["xai-bench", "ferret"]
    assert "Protocols: xai-bench, ferret" in (tmp_path / "summary.md").read_text()
    # ferret's k is the mean rationale length over the run's examples, recomputed here
    _, model = task_and_model(config(tmp_path))
    examples = {example.id: example for example in runner.examples_of(config(tmp_path))}
    lengths = [int(np.sum(mask)) for mask in records["rationale"] if np.sum(mask)]
    assert len(set(lengths)) > 1  # else each example's own length would pass as the mean
    for _, row in records.iterrows():
        encoded = model.encode(examples[row["example_id"]].inputs, int(row["target"]))
        explanation = bench.Explanation(
            row["tokens"], np.asarray(row["scores"]), encoded.target, special_tokens=encoded.special
        )
        values, _ = score_explanation(
            explanation, model, encoded, ["token_f1"], np.asarray(row["rationale"]), protocols=["ferret"],
            rationale_stats=(float(np.mean(lengths)), 0.0),
        )  # fmt: skip
        assert row["metric_token_f1@ferret"] == pytest.approx(values["token_f1@ferret"])


def test_an_unknown_protocol_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="unknown protocol 'erasr'"):
        bench.run(config(tmp_path, protocols=["erasr"]))


def test_robustness_is_a_family_a_run_opts_into(tmp_path):
    plain = RunConfig(task="fake-spam", plugins=[PLUGIN]).resolved()
    assert "stability" not in plain.metrics and "sparseness" in plain.metrics
    opted = RunConfig(task="fake-spam", plugins=[PLUGIN], families=["+robustness"]).resolved()
    assert set(opted.metrics) == set(plain.metrics) | {"stability"}  # sensitivities: images only
    only = RunConfig(task="fake-spam", plugins=[PLUGIN], families=["complexity"]).resolved()
    assert only.metrics == ["complexity", "sparseness"]
    with pytest.raises(InputError, match="unknown metric family 'robust'"):
        RunConfig(task="fake-spam", plugins=[PLUGIN], families=["+robust"]).resolved()
    bench.run(config(tmp_path, methods=["random"], families=["+robustness"]))
    stability = sorted_records(tmp_path)["metric_stability"].dropna()  # NaN: no copy kept the prediction
    assert len(stability) and np.allclose(stability, 1.0)  # an input-blind method is perfectly stable


def test_a_metric_tautological_for_a_method_shows_its_value_but_does_not_rank_it(tmp_path):
    methods = ["fake-deleting-loo", "random", "occlusion"]
    summary = bench.run(config(tmp_path, methods=methods, metrics=["loo_tau"]))
    records = sorted_records(tmp_path)
    deleting = records[records["method"] == "fake-deleting-loo"]
    assert deleting["tautological"].map(list).tolist() == [["loo_tau"]] * len(deleting)
    np.testing.assert_allclose(deleting["metric_loo_tau"], 1.0)  # its own reference: tau = 1
    rows = summary.set_index("method")
    assert pd.isna(rows.at["fake-deleting-loo", "rank"]) and rows.at["random", "rank"] >= 1
    assert "fake-deleting-loo" not in rows.at["random", "tied_with"]  # left out of the tests
    text = (tmp_path / "summary.md").read_text()
    assert "†" in text and "loo_tau does not rank fake-deleting-loo" in text
    assert pd.isna(pd.read_csv(tmp_path / "summary.csv").set_index("method").at["fake-deleting-loo", "rank"])


def test_rows_of_one_example_share_input_only_passes_and_keep_their_values(tmp_path):
    """Every method's row reuses the example's unperturbed, leave-one-out and fixed-subset passes
    and every removal already computed; each value equals a row scored on its own (today's
    per-metric path) to float32's last digits (a shared row ran in another batch)."""
    metrics = ["deletion", "loo_tau", "faithfulness_correlation", "comprehensiveness"]
    bench.run(config(tmp_path, methods=["random", "occlusion"], metrics=metrics))
    records = sorted_records(tmp_path)
    _, model = task_and_model(config(tmp_path))
    examples = {example.id: example for example in runner.examples_of(config(tmp_path))}
    for _, row in records.iterrows():
        encoded = model.encode(examples[row["example_id"]].inputs, int(row["target"]))
        explanation = bench.Explanation(row["tokens"], np.asarray(row["scores"]), encoded.target,
                                        special_tokens=encoded.special)  # fmt: skip
        alone, _ = score_explanation(explanation, model, encoded, metrics)
        for name in metrics:
            assert row[f"metric_{name}"] == pytest.approx(alone[name], abs=1e-6, nan_ok=True), name
    passes = records.groupby("method")["eval_forward_passes"].sum()
    n = records["tokens"].map(len).sum() // 2  # positions over the 4 examples, specials included
    assert passes["random"] - passes["occlusion"] >= n  # the second method reran no shared pass


def test_the_dtype_is_part_of_the_run_and_float32_keeps_older_hashes(tmp_path):
    mixed = config(tmp_path / "mixed", methods=["occlusion"], n=2)  # a run's default: mixed
    bench.run(mixed)
    records = read_records(tmp_path / "mixed")
    assert set(records["model"].str.endswith(" [mixed]")) == {True}
    assert 'dtype = "mixed"' in (tmp_path / "mixed" / "config.toml").read_text()
    with pytest.raises(InputError, match="dtype: 'mixed' -> 'float32'"):
        bench.run(config(tmp_path / "mixed", methods=["occlusion"], n=2, dtype="float32"))
    plain = config(tmp_path / "plain", methods=["occlusion"], n=2, dtype="float32")
    assert "dtype" not in plain.resolved().identity()  # float32: the hash of before
    assert "dtype" in mixed.resolved().identity()
    bench.run(plain)
    plain_scores, mixed_scores = (
        np.concatenate(list(sorted_records(tmp_path / folder)["scores"])) for folder in ("plain", "mixed")
    )
    assert not np.allclose(plain_scores, mixed_scores, atol=1e-6)  # the run really ran in mixed
    assert np.corrcoef(plain_scores, mixed_scores)[0, 1] > 0.95
    # a folder recorded before dtype existed names none: it ran, and resumes, in float32
    saved = tmp_path / "plain" / "config.toml"
    saved.write_text(
        "\n".join(line for line in saved.read_text().splitlines() if not line.startswith("dtype"))
    )
    assert RunConfig.from_toml(saved).dtype == "float32"
    bench.run(RunConfig.from_toml(saved))
    with pytest.raises(InputError, match="dtype: 'float32' -> 'mixed'"):
        bench.run(config(tmp_path / "plain", methods=["occlusion"], n=2))


def test_several_tasks_run_into_one_folder_each_as_it_would_alone(tmp_path):
    summary = bench.run(config(tmp_path / "suite", task=["fake-spam", "fake-plain"]))
    records = read_records(tmp_path / "suite")
    assert records["error"].isna().all()
    assert records.groupby("task").size().to_dict() == {"fake-plain": 8, "fake-spam": 8}
    plain = records[records["task"] == "fake-plain"]
    assert plain["metric_auprc"].isna().all() and plain["metric_deletion"].notna().all()
    assert set(summary["task"]) == {"fake-spam", "fake-plain"}
    assert "auprc" not in set(summary[summary["task"] == "fake-plain"]["metric"])
    saved = RunConfig.from_toml(tmp_path / "suite" / "config.toml")
    assert saved.task == ["fake-spam", "fake-plain"]
    # a task's rows are the rows a run of that task alone records
    bench.run(config(tmp_path / "alone", task="fake-spam"))
    alone = sorted_records(tmp_path / "alone")
    together = records[records["task"] == "fake-spam"].sort_values(["method", "example_id"])
    assert_same_values(together.reset_index(drop=True), alone, atol=1e-6)
    # resuming runs nothing more; each task's weights are fingerprinted
    parts = sorted((tmp_path / "suite" / "records").glob("part-*.parquet"))
    bench.run(config(tmp_path / "suite", task=["fake-spam", "fake-plain"]))
    assert sorted((tmp_path / "suite" / "records").glob("part-*.parquet")) == parts
    meta = json.loads((tmp_path / "suite" / "meta.json").read_text())
    assert set(meta["task_weights"]) == {"fake-spam", "fake-plain"}


def test_a_run_of_several_tasks_refuses_settings_that_name_one(tmp_path):
    with pytest.raises(InputError, match="model names one model"):
        config(tmp_path, task=["fake-spam", "fake-plain"], model="some/folder").resolved()
    with pytest.raises(InputError, match="data names one path"):
        config(tmp_path, task=["fake-spam", "fake-plain"], data="some/folder").resolved()
    with pytest.raises(InputError, match=r"\[data\] names sst2, not a task of this run"):
        config(tmp_path, task=["fake-spam", "fake-plain"], data={"sst2": "x"}).resolved()
    with pytest.raises(InputError, match="task must be a name or a list of names"):
        config(tmp_path, task=[]).resolved()
    # records of a task the config does not name are another run's
    bench.run(config(tmp_path, task="fake-plain", methods=["random"], n=2))
    other = config(tmp_path, task="fake-spam", methods=["random"], n=2).resolved()
    (tmp_path / "config.toml").write_text(other.to_toml())
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["config_hash"] = other.identity_hash()
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        InputError, match="holds records with task fake-plain but its config says 'fake-spam'"
    ):
        bench.run(config(tmp_path, task="fake-spam", methods=["random"], n=2))


def test_the_cli_takes_a_list_of_tasks_or_a_named_suite(tmp_path, capsys):
    from bench.cli import main

    out = tmp_path / "run"
    flags = ["--plugins", PLUGIN, "--methods", "random", "--n", "2", "--quiet", "--out", str(out)]
    assert main(["run", "--task", "fake-spam,fake-plain", *flags]) == 0
    assert set(read_records(out)["task"]) == {"fake-spam", "fake-plain"}
    assert main(["run", "--suite", "text", "--task", "spam", *flags]) == 2
    assert "--suite and --task both name the tasks" in capsys.readouterr().err


def test_peak_memory_on_cpu_is_the_allocators_measured_on_each_methods_first_example(tmp_path):
    from bench.api import get_method
    from bench.cost import allocated_peak_bytes

    # in this process: the peak depends on torch's threads (a one-thread worker's is ~10% lower)
    bench.run(config(tmp_path, methods=["atman", "attention"], n=3, workers=1))
    records = sorted_records(tmp_path).set_index(["method", "example_id"])["cost_peak_memory_bytes"]
    assert records.loc[:, "fake-1"].isna().all() and records.loc[:, "fake-2"].isna().all()
    _, model = task_and_model(RunConfig.from_toml(tmp_path / "config.toml"))
    example = TASKS.get("fake-spam")().examples(n=1)[0]
    encoded = model.encode(example.inputs, example.target)
    for method in ("atman", "attention"):
        explainer = get_method(method)
        expected = allocated_peak_bytes(lambda e=explainer: e.explain(model, encoded), model.device)
        assert records[method, "fake-0"] == pytest.approx(expected, rel=0.05)
    # AtMan holds its variants' activations at once; raw attention one pass's
    assert records["atman", "fake-0"] > 2 * records["attention", "fake-0"]


def test_a_method_that_cannot_run_here_is_left_out_of_the_defaults_and_the_summary_says_why(tmp_path):
    resolved = config(tmp_path, methods=[]).resolved()
    assert "fake-unavailable" not in resolved.methods and "atman" in resolved.methods
    reason = "fake-unavailable needs the fake extra: pip install fake"
    assert resolved.skipped_methods()["fake-unavailable"] == reason
    bench.run(config(tmp_path, methods=["random"], n=2))
    assert (
        f"- fake-unavailable: skipped, not run by default here: {reason}"
        in (tmp_path / "summary.md").read_text()
    )


@pytest.fixture
def pieces_task():
    """A task whose words span several tokens ("prizes" = prize ##s), on a tiny BERT that knows
    the pieces; registered for one test (local runs read the registry of this process)."""
    from bench.task import register_task
    from bench.types import Example
    from tests.bench.fake_task import FakeSpam, _spans
    from tests.tiny import tiny_bert

    @register_task("fake-pieces")
    class FakePieces(FakeSpam):
        name = "fake-pieces"

        def examples(self, split="test", n=None):
            texts = [
                ("free prizes call the winners now", 1, ["prizes"]),
                ("hello winners see you", 0, ["hello"]),
            ]
            return [
                Example(f"pieces-{i}", t, y, _spans(t, words)) for i, (t, y, words) in enumerate(texts[:n])
            ]

        def default_model(self):
            return tiny_bert(pieces=True)

    yield "fake-pieces"
    TASKS._entries.pop("fake-pieces", None)
    runner._task_and_model.cache_clear()
    runner._examples.cache_clear()
    runner._fitted.cache_clear()


def test_a_word_run_records_words_and_its_metrics_remove_whole_words(tmp_path, monkeypatch, pieces_task):
    from bench.perturbation import Perturber

    variants = []
    original = Perturber._variants

    def recording(self, removed):
        rows, ids = original(self, removed)
        variants.extend((self.encoded, row_ids) for row_ids in ids)
        return rows, ids

    monkeypatch.setattr(Perturber, "_variants", recording)
    settings = dict(methods=["occlusion"], metrics=["deletion", "auprc"], n=2, workers=1)  # seen here
    words = config(tmp_path, task=pieces_task, **settings)
    bench.run(replace(words, granularity="word"))
    assert 'granularity = "word"' in (tmp_path / "config.toml").read_text()
    records = sorted_records(tmp_path)
    assert records["error"].isna().all()
    first = records[records["example_id"] == "pieces-0"].iloc[0]
    assert list(first["tokens"]) == ["[CLS]", "free", "prizes", "call", "the", "winners", "now", "[SEP]"]
    assert len(first["scores"]) == 8 and list(first["rationale"]) == [0, 0, 1, 0, 0, 0, 0, 0]
    # every perturbed input of the metrics masks whole words: all of a word's tokens or none
    _, model = task_and_model(RunConfig.from_toml(tmp_path / "config.toml"))
    mask_id, whole_words_removed = model.baseline_token_id, 0
    for encoded, ids in variants:
        units = encoded.units
        masked = (ids[: encoded.n_positions] == mask_id).numpy()
        per_word = [set(masked[units.positions(u)]) for u in range(units.n_units)]
        assert all(len(values) == 1 for values in per_word), "a word was removed in part"
        whole_words_removed += sum(masked[units.positions(u)].all() and len(units.positions(u)) > 1
                                   for u in range(units.n_units))  # fmt: skip
    assert variants and whole_words_removed > 0


def test_granularity_is_part_of_the_run_and_token_keeps_older_hashes(tmp_path, pieces_task):
    token = config(tmp_path, task=pieces_task, methods=["random"], n=1).resolved()
    assert token.granularity == "token" and "granularity" not in token.identity()
    word = replace(token, granularity="word")
    assert word.identity()["granularity"] == "word"
    bench.run(token)
    saved = tmp_path / "config.toml"
    saved.write_text("\n".join(line for line in saved.read_text().splitlines() if "granularity" not in line))
    assert RunConfig.from_toml(saved).granularity == "token"  # a folder recorded before granularity
    with pytest.raises(InputError, match="granularity: 'token' -> 'word'"):
        bench.run(word)
    with pytest.raises(InputError, match="granularity='phrase' is not one of token, word, sentence"):
        config(tmp_path, granularity="phrase").resolved()


LONG = " ".join(["free cash call now"] * 20)
"""80 words of one token each: more than the tiny BERT's 64 positions."""


@pytest.fixture
def long_task():
    """A task with a text too long for the tiny BERT, whose `fit` keeps its last words that fit
    (one token each in the tiny vocabulary, plus [CLS] and [SEP])."""
    from bench.task import register_task
    from bench.types import Example
    from tests.bench.fake_task import FakeSpam

    @register_task("fake-long")
    class FakeLong(FakeSpam):
        name = "fake-long"

        def examples(self, split="test", n=None):
            return [
                Example("long-0", LONG, 1, [(len(LONG) - 3, len(LONG))]),
                Example("short-1", "free cash", 1),
            ]

        def fit(self, examples, model):
            keep = model.max_length - 2
            return [
                replace(e, inputs=" ".join(e.inputs.split(" ")[-keep:]), rationale=None) for e in examples
            ]

    yield "fake-long"
    TASKS._entries.pop("fake-long", None)
    runner._task_and_model.cache_clear()
    runner._examples.cache_clear()
    runner._fitted.cache_clear()


def test_run_rows_explain_the_examples_as_the_task_fits_them_to_the_model(tmp_path, long_task):
    run = config(tmp_path, task=long_task, methods=["random"], n=2)
    _, model = task_and_model(run.resolved())
    with pytest.raises(InputError, match="accepts at most 64"):
        model.encode(LONG)  # unfitted, the long example is an error row
    bench.run(run)
    records = sorted_records(tmp_path)
    assert records["error"].isna().all() and records["example_id"].tolist() == ["long-0", "short-1"]
    assert list(records["tokens"][0]) == ["[CLS]", *LONG.split(" ")[-62:], "[SEP]"]
    assert list(records["tokens"][1]) == ["[CLS]", "free", "cash", "[SEP]"]
    assert [e.id for e in runner.examples_of(run.resolved())] == ["long-0", "short-1"]  # planning: no model


def test_a_fit_that_changes_the_ids_is_refused(tmp_path, long_task, monkeypatch):
    monkeypatch.setattr(TASKS.get(long_task), "fit", lambda self, examples, model: examples[::-1])
    with pytest.raises(ValueError, match="fit must keep the examples' ids and order"):
        runner.fitted_examples_of(config(tmp_path, task=long_task, n=2).resolved())


def test_jobs_are_one_example_with_every_method_in_the_runs_order():
    spam, sst2 = RunConfig(task="spam"), RunConfig(task="sst2")
    shards = [
        runner.Shard(spam, "atman", ("a", "b")),
        runner.Shard(spam, "atman", ("c",)),
        runner.Shard(spam, "lime", ("a", "b", "c")),
        runner.Shard(sst2, "atman", ("a",)),
    ]
    assert runner.jobs_of(shards) == [
        runner.Job(spam, "a", ("atman", "lime")),
        runner.Job(spam, "b", ("atman", "lime")),
        runner.Job(spam, "c", ("atman", "lime")),
        runner.Job(sst2, "a", ("atman",)),
    ]


def test_the_removals_of_every_method_of_an_example_go_through_the_model_together(tmp_path, monkeypatch):
    from bench.evaluate import evidences, planned_removals
    from bench.perturbation import Perturber

    metrics = ["deletion", "insertion", "aopc", "comprehensiveness", "sufficiency"]
    settings = config(tmp_path, methods=["random", "occlusion"], metrics=metrics, n=1).resolved()
    _, model = task_and_model(settings)
    (example,) = runner.fitted_examples_of(settings)
    calls = []
    original = Perturber._computed_logprobs
    monkeypatch.setattr(
        Perturber,
        "_computed_logprobs",
        lambda self, removed: calls.append(len(removed)) or original(self, removed),
    )
    rows = runner.run_example(settings, model, example, ("random", "occlusion"))
    assert all(pd.isna(row.get("error")) for row in rows)
    # the planned removals, found independently: each method's scores ranked by its metrics' own plans
    encoded = model.encode(example.inputs, example.target)
    planned = []
    for row in rows:
        explanation = bench.Explanation(row["tokens"], np.asarray(row["scores"]), encoded.target,
                                        special_tokens=encoded.special)  # fmt: skip
        plans = planned_removals(evidences(explanation, model, encoded), metrics)
        planned.append({mask.tobytes() for _, masks in plans for mask in masks})
    union = set.union(*planned)
    assert len(union) > max(map(len, planned))  # the methods rank differently: their removals differ
    assert calls[0] == len(union)  # every method's removals in one call ...
    assert sum(calls[1:]) <= 1  # ... then at most the unperturbed input, which a metric may ask apart
    for row in rows:  # and each value is the one the row scored alone gives
        explanation = bench.Explanation(row["tokens"], np.asarray(row["scores"]), encoded.target,
                                        special_tokens=encoded.special)  # fmt: skip
        alone, _ = score_explanation(explanation, model, encoded, metrics)
        for name in metrics:
            assert row[f"metric_{name}"] == pytest.approx(alone[name], abs=1e-6, nan_ok=True), name
