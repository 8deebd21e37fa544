import pytest

from bench.errors import InputError
from bench.registry import TASKS
from bench.run_config import RunConfig
from bench.suites import SUITES, suite_tasks


def test_every_suite_names_registered_tasks_of_one_modality():
    for name, tasks in SUITES.items():
        modalities = {TASKS.get(task).modality for task in tasks}
        assert len(modalities) == 1, name
    assert suite_tasks("all") == TASKS.names()
    with pytest.raises(InputError, match="unknown suite 'txt'; known suites: text, vision, all"):
        suite_tasks("txt")


def test_a_run_without_data_reads_the_offline_copy_when_present(tmp_path, monkeypatch):
    import bench.task

    monkeypatch.setattr(bench.task, "SHARED_DATA", tmp_path)
    assert RunConfig(task="sst2", methods=["random"]).resolved().data is None
    (tmp_path / "sst2").mkdir()
    assert RunConfig(task="sst2", methods=["random"]).resolved().data == str(tmp_path / "sst2")
    assert RunConfig(task="sst2", methods=["random"], data="mine").resolved().data == "mine"
    suite = RunConfig(task=["spam", "sst2"], methods=["random"]).resolved()
    assert suite.data == {"sst2": str(tmp_path / "sst2")}
    assert [c.data for c in suite.task_configs()] == [None, str(tmp_path / "sst2")]


def test_each_task_explains_its_own_default_unit_unless_the_run_names_one():
    suite = RunConfig(task=["sst2", "movies", "digits_vit"], methods=["random"]).resolved()
    assert [c.granularity for c in suite.task_configs()] == ["token", "sentence", "token"]
    assert RunConfig(task="movies", methods=["random"], granularity="word").resolved().granularity == "word"
    # token stays out of the config's identity, so folders recorded before units keep their hash
    assert "granularity" not in RunConfig(task="sst2", methods=["random"]).resolved().identity()
    with pytest.raises(InputError, match="granularity 'word' applies to text; task 'digits_vit'"):
        RunConfig(task=["sst2", "digits_vit"], methods=["random"], granularity="word").resolved()
