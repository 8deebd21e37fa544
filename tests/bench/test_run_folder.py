"""The run folder against ordinary mistakes (issue: a run folder that can't be corrupted, stuck or
mislabelled): each ends in a correct result or a one-line error naming the way out, and nothing
computed is lost."""

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import bench
from bench import runner
from bench.errors import InputError
from bench.records import read_records
from bench.run_folder import locked, weights_fingerprint
from tests.bench.test_runner import PLUGIN, config, fake_registrations, sorted_records  # noqa: F401


def quick(out, **overrides):
    return config(out, **{"methods": ["random"], "metrics": ["deletion"], **overrides})


def test_a_method_named_twice_runs_once(tmp_path):
    bench.run(quick(tmp_path, methods=["random", "occlusion", "random"]))
    records = sorted_records(tmp_path)
    assert records.groupby("method").size().to_dict() == {"occlusion": 4, "random": 4}
    bench.run(quick(tmp_path, methods=["random", "occlusion"]))  # the corrected command resumes


def test_a_second_run_into_a_locked_folder_is_refused_with_the_holders_pid(tmp_path):
    with locked(tmp_path):
        with pytest.raises(InputError, match=f"in use by pid {os.getpid()}"):
            bench.run(quick(tmp_path))
    bench.run(quick(tmp_path))  # released: the run goes ahead
    assert len(read_records(tmp_path)) == 4
    assert not list(tmp_path.glob(".*.tmp"))


def test_identical_duplicates_are_dropped_with_a_warning_and_different_ones_refused(tmp_path):
    bench.run(quick(tmp_path))
    part = next((tmp_path / "records").glob("part-*.parquet"))
    copy = part.with_name("part-9999999999999999999-copy.parquet")
    shutil.copy(part, copy)
    with pytest.warns(UserWarning, match="identical duplicate rows dropped"):
        assert len(read_records(tmp_path)) == 4
    table = pd.read_parquet(copy)
    table["metric_deletion"] += 0.5
    table.to_parquet(copy)
    with pytest.raises(InputError, match="recorded twice with different results"):
        read_records(tmp_path)


def test_records_without_their_config_or_meta_are_refused(tmp_path):
    bench.run(quick(tmp_path))
    (tmp_path / "config.toml").unlink()
    with pytest.raises(InputError, match="records but no config.toml"):
        bench.run(quick(tmp_path, replacement="pad"))
    bench.run(quick(tmp_path / "b"))
    (tmp_path / "b" / "meta.json").unlink()
    with pytest.raises(InputError, match="records but no meta.json"):
        bench.run(quick(tmp_path / "b"))


def test_an_edited_config_is_caught_by_the_recorded_hash(tmp_path):
    bench.run(quick(tmp_path))
    saved = tmp_path / "config.toml"
    saved.write_text(saved.read_text().replace('replacement = "mask"', 'replacement = "pad"'))
    with pytest.raises(InputError, match="made by another config"):
        bench.run(quick(tmp_path, replacement="pad"))


def test_a_resume_under_other_library_versions_is_refused_unless_allowed(tmp_path):
    bench.run(quick(tmp_path))
    meta_path = tmp_path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["versions"]["torch"] = "1.0.0"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"torch 1\.0\.0 -> .*--allow-version-change"):
        bench.run(quick(tmp_path))
    bench.run(quick(tmp_path, allow_version_change=True))


def test_an_out_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("mine")
    with pytest.raises(InputError, match="not a benchmark run"):
        bench.run(quick(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_a_model_retrained_under_the_same_path_is_refused(tmp_path, bert):
    model_dir = tmp_path / "model"
    bert.hf.save_pretrained(model_dir)
    bert.tokenizer.save_pretrained(model_dir)
    out = tmp_path / "run"
    bench.run(quick(out, model=str(model_dir)))
    before = weights_fingerprint(model_dir)
    weights = next(model_dir.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # rewritten: new modification time
    os.utime(weights, ns=(1, 1))
    assert weights_fingerprint(model_dir) != before
    next((out / "records").glob("part-*.parquet")).unlink()  # something left to compute
    with pytest.raises(InputError, match="model's weights changed"):
        bench.run(quick(out, model=str(model_dir)))


def test_error_rows_are_retried_when_asked_and_replaced_by_the_result(tmp_path, monkeypatch):
    marker = tmp_path / "failing"
    marker.write_text("")
    monkeypatch.setenv("XAI_BENCH_FAKE_FAILURE", str(marker))
    out = tmp_path / "run"
    bench.run(quick(out, methods=["fake-flaky"]))
    assert read_records(out)["error"].str.contains("fake out of memory").all()
    marker.unlink()  # the cause is gone
    bench.run(quick(out, methods=["fake-flaky"]))
    assert read_records(out)["error"].notna().all()  # plain resume: error rows are final
    summary = bench.run(quick(out, methods=["fake-flaky"], retry_errors=True))
    records = read_records(out)
    assert len(records) == 4 and records["error"].isna().all()
    assert np.isfinite(records["metric_deletion"]).all() and len(summary)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n": -1}, "n must be an integer >= 1"),
        ({"n": 0}, "n must be an integer >= 1"),
        ({"shard_size": 0}, "shard_size must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"methods": "random,occlusion"}, "methods must be a list of names"),
        (
            {"params": {"occlusion": {"baseline": "pad"}}},
            r"\[params.occlusion\] names a method this run does not run",
        ),
        ({"params": {"random": {"sed": 3}}}, "unknown parameter"),
        (
            {"methods": ["atman"], "params": {"atman": {"suppression_factor": "x"}}},
            "suppression_factor='x' must be a number",
        ),
        (
            {"methods": ["occlusion"], "params": {"occlusion": {"perturbations_per_eval": 0}}},
            "must be an integer in",
        ),
    ],
)
def test_a_bad_setting_is_refused_before_the_folder_exists(tmp_path, overrides, message):
    out = tmp_path / "run"
    with pytest.raises(InputError, match=message):
        bench.run(quick(out, **overrides))
    assert not out.exists()


def test_n_above_the_split_says_how_many_examples_there_were(tmp_path, capsys):
    from rich.console import Console

    log = tmp_path / "log.txt"
    with open(log, "w") as file:
        bench.run(quick(tmp_path / "run", n=50), console=Console(file=file, width=200))
    assert "has 8 examples: running 8 of n = 50" in log.read_text()


def test_an_empty_method_list_on_the_command_line_is_refused(tmp_path, capsys):
    from bench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--methods", "", "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and "an empty list" in capsys.readouterr().err


def test_a_run_whose_every_row_is_an_error_still_gets_its_page(tmp_path, monkeypatch):
    from bench.report.page import make_report
    from bench.run_config import RunConfig

    monkeypatch.setenv("XAI_BENCH_FAKE_FAILURE", str(tmp_path))  # exists: every row fails
    out = tmp_path / "run"
    bench.run(RunConfig(task="fake-spam", methods=["fake-flaky"], metrics=["deletion"], n=3,
                        plugins=["tests.bench.fake_task"], out=str(out), quiet=True))  # fmt: skip
    page = make_report(out).read_text()
    assert "No example was explained without error" in page and "fake-flaky: 3" in page


def test_a_toml_syntax_error_is_one_line(tmp_path):
    from bench.cli import main

    bad = tmp_path / "run.toml"
    bad.write_text('task = "spam"\nn = [\n')
    with pytest.raises(InputError, match="is not valid TOML"):
        bench.run(str(bad))
    assert main(["run", "--config", str(bad)]) == 2


def test_records_that_disagree_with_the_config_are_refused(tmp_path):
    bench.run(quick(tmp_path))
    part = next((tmp_path / "records").glob("part-*.parquet"))
    table = pd.read_parquet(part)
    table["replacement"] = "pad"  # made with another replacement than config.toml says
    table.to_parquet(part)
    with pytest.raises(InputError, match="records with replacement pad but its config says 'mask'"):
        bench.run(quick(tmp_path))


def test_the_lock_dies_with_its_holder_even_on_kill_9(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import pathlib, time\nfrom bench.run_folder import locked\n"
        f"with locked(pathlib.Path({str(tmp_path)!r})):\n    print('held', flush=True)\n    time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(InputError, match=f"in use by pid {holder.pid}"):
        bench.run(quick(tmp_path))
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    bench.run(quick(tmp_path))
    assert len(read_records(tmp_path)) == 4


def test_a_flipped_bit_in_a_record_part_is_caught_by_its_page_checksum(tmp_path):
    bench.run(quick(tmp_path))
    part = next((tmp_path / "records").glob("part-*.parquet"))
    import pyarrow.parquet as pq

    chunk = next(
        c for c in (pq.ParquetFile(part).metadata.row_group(0).column(i) for i in range(30))
        if c.path_in_schema.startswith("curve_deletion")
    )  # fmt: skip
    data = bytearray(part.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0x10  # inside a data page
    part.write_bytes(bytes(data))
    with pytest.raises(InputError, match="is corrupt"):
        read_records(tmp_path)


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from pathlib import Path

    from bench.atomic import write_atomic

    target = tmp_path / "summary.csv"
    write_atomic(target, "old")

    def crash(self, other):
        raise KeyboardInterrupt  # killed between writing the temp file and the rename

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new, half written")
    assert target.read_text() == "old"
    temps = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1 and str(os.getpid()) in temps[0]  # a name no other writer shares


def test_meta_records_the_models_test_accuracy_from_its_metadata_keyed_by_task(tmp_path, bert):
    model_dir = tmp_path / "model"
    bert.hf.save_pretrained(model_dir)
    bert.tokenizer.save_pretrained(model_dir)
    bench.run(quick(tmp_path / "bare", model=str(model_dir)))
    meta = json.loads((tmp_path / "bare" / "meta.json").read_text())
    assert meta["model_test_accuracy"] == {"fake-spam": None}  # a model given by path, no metadata
    metadata = {"task": "fake-spam", "test_accuracy": 0.8125, "n_test": 16, "n_train": 64, "seed": 0}
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    bench.run(quick(tmp_path / "trained", model=str(model_dir)))
    meta = json.loads((tmp_path / "trained" / "meta.json").read_text())
    assert meta["model_test_accuracy"] == {"fake-spam": {"accuracy": 0.8125, "n_test": 16}}
    assert meta["weights"] == weights_fingerprint(model_dir)  # the other provenance is kept
    (model_dir / "metadata.json").write_text(json.dumps({**metadata, "task": "sst2"}))
    bench.run(quick(tmp_path / "other-task", model=str(model_dir)))
    meta = json.loads((tmp_path / "other-task" / "meta.json").read_text())
    assert meta["model_test_accuracy"] == {"fake-spam": None}  # sst2's accuracy says nothing here


def test_a_run_of_several_tasks_records_each_models_test_accuracy(tmp_path, bert, monkeypatch):
    from bench.models import load_model
    from tests.bench.fake_task import FakePlain

    model_dir = tmp_path / "plain-model"
    bert.hf.save_pretrained(model_dir)
    bert.tokenizer.save_pretrained(model_dir)
    (model_dir / "metadata.json").write_text(
        json.dumps({"task": "fake-plain", "test_accuracy": 0.75, "n_test": 8})
    )
    monkeypatch.setattr(FakePlain, "default_model", lambda self: load_model(model_dir, kind="classifier"))
    runner._task_and_model.cache_clear()  # no model loaded before the patch
    try:
        bench.run(quick(tmp_path / "suite", task=["fake-spam", "fake-plain"]))
    finally:
        runner._task_and_model.cache_clear()  # nor the patched one after it
    meta = json.loads((tmp_path / "suite" / "meta.json").read_text())
    assert meta["model_test_accuracy"] == {"fake-spam": None, "fake-plain": {"accuracy": 0.75, "n_test": 8}}
