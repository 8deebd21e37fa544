import json

import numpy as np
import pytest

import bench.training as training
from bench.cli import main
from bench.defaults import trained_model_dir
from bench.training import (
    TrainingSettings,
    load_trained,
    read_metadata,
    recorded_test_accuracy,
    trained_classifier,
)
from bench.types import Example
from tasks._classifier import TextClassificationTask
from tests.tiny import tiny_bert

SPAM_WORDS = ("free", "prize", "cash", "win", "claim")
HAM_WORDS = ("lunch", "meeting", "tomorrow", "later", "hello")
NEUTRAL = ("the", "a", "to", "and", "is", "it", "my", "your", "text", "msg")


class Toy(TextClassificationTask):
    """A task the tiny vocabulary can read: the label is which word list a message draws from."""

    name = "toy"
    labels = ("ham", "spam")

    def examples(self, split="test", n=None):
        rng = np.random.default_rng([self.seed, split == "test"])
        out = []
        for i in range(64 if split == "train" else 32):
            label = i % 2
            cue = rng.choice(SPAM_WORDS if label else HAM_WORDS)
            words = [*rng.choice(NEUTRAL, size=3), cue, *rng.choice(NEUTRAL, size=2)]
            out.append(Example(id=f"toy-{split}-{i}", inputs=" ".join(words), target=label))
        return out[:n]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def base(tmp_path):
    model = tiny_bert(seed=0)
    folder = tmp_path / "tiny-base"
    model.hf.save_pretrained(folder)
    model.tokenizer.save_pretrained(folder)
    return str(folder)


def settings(base, **changes):
    return TrainingSettings(
        **{"base_model": base, "n_train": None, "epochs": 3, "max_length": 16, "batch_size": 8, **changes},
        learning_rate=3e-3,
    )


def test_trains_caches_and_reports_true_test_accuracy(cache, base):
    task = Toy(seed=0)
    folder = trained_classifier(task, settings(base), progress=False)
    assert folder == trained_model_dir("toy", base, 0) and str(folder).startswith(str(cache))
    metadata = read_metadata(folder)
    model = load_trained(folder)
    # independent accuracy: one example at a time through the adapter
    test = task.examples("test")
    correct = [model.predict(model.encode(e.inputs, 0).input_ids) == e.target for e in test]
    assert metadata["test_accuracy"] == pytest.approx(np.mean(correct))
    assert metadata["test_accuracy"] >= 0.9  # the cue word decides; even a tiny BERT learns it
    assert (metadata["seed"], metadata["n_train"], metadata["n_test"]) == (0, 64, 32)
    assert metadata["settings"]["epochs"] == 3 and "torch" in metadata["versions"]
    assert model.name == f"toy/{base}" and model.hf.config.id2label == {0: "ham", 1: "spam"}
    assert recorded_test_accuracy(folder, "toy") == {"accuracy": np.mean(correct), "n_test": 32}
    assert recorded_test_accuracy(folder, "spam") is None and recorded_test_accuracy(None, "toy") is None


def test_same_settings_reuse_the_cache_and_new_settings_retrain(cache, base, monkeypatch):
    task = Toy(seed=0)
    folder = trained_classifier(task, settings(base), progress=False)
    weights = folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    calls = []
    real_train = training.train_classifier

    def counting_train(*args, **kwargs):
        calls.append(args)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(training, "train_classifier", counting_train)
    assert trained_classifier(task, settings(base), progress=False) == folder
    assert calls == [] and weights.stat().st_mtime_ns == stamp
    trained_classifier(task, settings(base, epochs=1), progress=False)
    assert len(calls) == 1 and read_metadata(folder)["settings"]["epochs"] == 1
    other_seed = trained_classifier(Toy(seed=1), settings(base, epochs=1), progress=False)
    assert other_seed != folder and len(calls) == 2


def test_default_model_trains_once(cache, base, monkeypatch):
    monkeypatch.setattr(Toy, "training", {"base_model": base, "epochs": 1, "max_length": 16}, raising=False)
    first = Toy(seed=0).default_model()
    assert first.kind == "classifier"
    folder = trained_model_dir("toy", base, 0)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    second = Toy(seed=0).default_model()
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    ids = second.encode("free prize to you", 0).input_ids
    assert first.predict(ids) == second.predict(ids)


def test_other_data_or_task_parameters_retrain_and_another_spelling_of_the_data_reuses(
    cache, base, tmp_path, monkeypatch
):
    monkeypatch.setattr(Toy, "training", {"base_model": base, "epochs": 1, "max_length": 16}, raising=False)
    data = tmp_path / "toy-data"
    data.mkdir()
    folder = trained_model_dir("toy", base, 0)
    calls = []
    real_train = training.train_classifier

    def counting_train(task, *args, **kwargs):
        calls.append((task.data, task.params))
        return real_train(task, *args, **kwargs)

    monkeypatch.setattr(training, "train_classifier", counting_train)
    trained_classifier(Toy(data=data, seed=0), progress=False)
    monkeypatch.chdir(tmp_path)
    trained_classifier(Toy(data="toy-data", seed=0), progress=False)  # the same folder, relative
    assert calls == [(data, {})]
    trained_classifier(Toy(data=data, seed=0, max_words=8), progress=False)
    trained_classifier(Toy(seed=0, max_words=8), progress=False)
    assert calls[1:] == [(data, {"max_words": 8}), (None, {"max_words": 8})]
    assert (read_metadata(folder)["data"], read_metadata(folder)["task_params"]) == (None, {"max_words": 8})


def test_cli_train_spam_on_a_tiny_base(cache, base, capsys):
    argv = ["train", "spam", "--base-model", base, "--n-train", "32", "--epochs", "1", "--max-length", "24"]
    argv += ["--learning-rate", "1e-3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    metadata = json.loads((trained_model_dir("spam", base, 0) / "metadata.json").read_text())
    assert f"test accuracy {metadata['test_accuracy']:.4f} on 500 examples" in out
    assert metadata["n_train"] == 32
    assert (metadata["settings"]["max_length"], metadata["settings"]["learning_rate"]) == (24, 1e-3)
    assert main(argv) == 0  # the second call reuses the cached model
    assert "train_seconds" in metadata and capsys.readouterr().out.endswith(
        f"{trained_model_dir('spam', base, 0)}\n"
    )


def test_cli_refuses_a_causal_lm_task(cache, capsys):
    assert main(["train", "squad_qa"]) == 2
    assert "only classifier tasks are trained" in capsys.readouterr().err


def test_a_corrupt_cached_model_names_its_folder_and_how_to_rebuild(tmp_path, bert):
    import pytest

    from bench.errors import InputError
    from bench.training import load_trained, read_metadata

    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(InputError, match=f"delete {tmp_path} and it is rebuilt"):
        read_metadata(tmp_path)
    bert.hf.save_pretrained(tmp_path / "model")
    bert.tokenizer.save_pretrained(tmp_path / "model")
    next((tmp_path / "model").glob("*.safetensors")).write_bytes(b"truncated")
    with pytest.raises(InputError, match="cannot load the folder .*it is a cached model"):
        load_trained(tmp_path / "model")
