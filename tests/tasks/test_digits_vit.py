"""digits_vit: the seeded split, the ink rationale, and the train-once cache of the ViT."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

import bench
from bench.errors import InputError
from tasks import digits_vit
from tasks.digits_vit import DigitsViT, DigitsViTSettings, trained_digits_vit

TINY = DigitsViTSettings(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_steps=3)


def test_split_is_fixed_by_the_seed_and_partitions_the_digits():
    first, again, other = DigitsViT(seed=0), DigitsViT(seed=0), DigitsViT(seed=1)
    ids = {split: [example.id for example in first.examples(split)] for split in ("train", "test")}
    assert ids["test"] == [example.id for example in again.examples("test")]
    assert ids["test"] != [example.id for example in other.examples("test")]
    assert not set(ids["train"]) & set(ids["test"])
    assert len(ids["train"]) + len(ids["test"]) == 1797 and len(ids["test"]) == round(0.2 * 1797)


def test_image_and_rationale_are_the_upscaled_digit_and_its_ink():
    digits = load_digits()
    for example in DigitsViT().examples("test", n=20):
        digit = digits.images[example.meta["sklearn_index"]]
        assert example.target == digits.target[example.meta["sklearn_index"]]
        assert example.inputs.shape == (32, 32, 3) and example.rationale.shape == (32, 32)
        for y in range(32):
            for x in range(32):
                value = digit[y // 4, x // 4]
                assert example.rationale[y, x] == (value > 0)
                assert list(example.inputs[y, x]) == [round(value * 255 / 16)] * 3


def test_data_path_and_unknown_split_are_refused():
    with pytest.raises(InputError, match="takes no data path"):
        DigitsViT(data="digits.csv")
    with pytest.raises(InputError, match="splits train, test, not 'dev'"):
        DigitsViT().examples("dev")


def test_training_caches_the_model_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path))
    task = DigitsViT(seed=3)
    folder = trained_digits_vit(task, TINY, progress=False)
    assert folder.is_relative_to(tmp_path) and "seed3" in folder.name
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["seed"] == 3 and metadata["steps"] == 3 and "scikit-learn" in metadata["versions"]

    model = digits_vit.load_digits_vit(folder)
    examples = task.examples("test")
    predicted = [model.encode(example.inputs).target for example in examples]
    accuracy = np.mean([p == example.target for p, example in zip(predicted, examples, strict=True)])
    assert metadata["test_accuracy"] == pytest.approx(accuracy)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model was trained again")

    monkeypatch.setattr(digits_vit, "train_digits_vit", no_training)
    assert trained_digits_vit(task, progress=False) == folder
    assert trained_digits_vit(task, TINY, progress=False) == folder
    with pytest.raises(AssertionError, match="trained again"):
        trained_digits_vit(task, DigitsViTSettings(max_steps=4), progress=False)  # other settings retrain


def test_atman_explains_the_trained_vit_on_the_digit_grid(tmp_path, monkeypatch):
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path))
    task = DigitsViT()
    model = digits_vit.load_digits_vit(trained_digits_vit(task, TINY, progress=False))
    explanation = bench.explain("atman", model, task.examples("test", n=1)[0].inputs)
    assert explanation.patch_grid == (8, 8) and len(explanation.scores) == 1 + 64
    assert explanation.cost.forward_passes == 1 + 65
