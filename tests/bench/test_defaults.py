import math
import shutil
from pathlib import Path

import pytest
import torch

from bench import defaults
from bench.defaults import (
    CAUSAL_LM,
    ENCODER,
    atomic_dir,
    base_model_path,
    cache_dir,
    encoder_path,
    package_dir,
    trained_model_dir,
)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    assert trained_model_dir("spam", ENCODER, 3) == tmp_path / "models" / f"spam--{ENCODER}--seed3"
    assert trained_model_dir("spam", "org/model", 0).name == "spam--org--model--seed0"
    monkeypatch.delenv("XAI_BENCH_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "xai-bench"


def test_bundled_encoder_is_found_without_network():
    folder = encoder_path()
    assert (folder / "model.safetensors").is_file() and (folder / "vocab.txt").is_file()
    assert base_model_path(ENCODER) == str(folder)
    assert base_model_path("some/hub-id") == "some/hub-id"


def test_missing_package_names_the_install_command():
    with pytest.raises(FileNotFoundError, match="pip install no-such-thing"):
        package_dir("no_such_package_xyz", "pip install no-such-thing")


def test_atomic_dir_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), atomic_dir(target) as staging:
        (staging / "half.bin").write_text("x")
        raise RuntimeError("crash while writing")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as staging:
        (staging / "whole.bin").write_text("x")
    assert [p.name for p in target.iterdir()] == ["whole.bin"]


@pytest.mark.slow
def test_smollm2_converts_once_and_knows_paris(tmp_path, monkeypatch):
    from tasks.squad_qa import SquadQA

    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path))
    try:
        folder = defaults.causal_lm_path()  # GGUF -> fp32 safetensors, about 30 s
        assert folder == tmp_path / "base" / CAUSAL_LM
        stamp = (folder / "model.safetensors").stat().st_mtime_ns
        model = SquadQA().default_model()  # loads from the cache: no second conversion
        assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
        assert model.kind == "causal-lm" and model.name == CAUSAL_LM
        assert next(model.hf.parameters()).dtype == torch.float32
        prompt = "The capital of France is"
        encoded = model.encode(prompt, " Paris")
        with torch.no_grad():
            logprob = float(model.target_logprob(model.batch([encoded]), [encoded])[0])
            next_logits = model.hf(input_ids=encoded.input_ids[None, : encoded.n_positions]).logits[0, -1]
        assert logprob > math.log(0.5)
        assert model.tokenizer.decode([int(next_logits.argmax())]) == " Paris"
    finally:
        shutil.rmtree(tmp_path / "base", ignore_errors=True)
