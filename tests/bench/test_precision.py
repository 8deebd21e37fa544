"""bench/precision.py: what each dtype casts, that its passes compute in it, and that runs,
`explain` and `load_model` take and record it."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

import bench
from bench.api import get_method
from bench.errors import InputError, NotApplicableError
from bench.registry import METHODS
from tests.tiny import tiny_bert, tiny_cnn, tiny_llama

TEXT = "free prize call now to claim your reward"


def logits(model: bench.Model, text: str = TEXT) -> torch.Tensor:
    encoded = model.encode(text, 0 if model.kind == "classifier" else " me")
    with torch.no_grad():
        return model._forward(model.batch([encoded])).logits


KEPT_IN_FLOAT32 = {tiny_bert: "bert.encoder.layer.1.output.dense", tiny_llama: "model.layers.1.mlp.down_proj"}
"""The last block's last linear layer of each tiny model (2 blocks each), by name."""


def block_linears(model: bench.Model, make) -> dict[str, torch.nn.Linear]:
    """Every linear layer inside the transformer blocks but the one mixed keeps in float32."""
    prefix = {tiny_bert: "bert.encoder.layer.", tiny_llama: "model.layers."}[make]
    return {
        name: layer
        for name, layer in model.hf.named_modules()
        if isinstance(layer, torch.nn.Linear) and name.startswith(prefix) and name != KEPT_IN_FLOAT32[make]
    }


@pytest.mark.parametrize("make", [tiny_bert, tiny_llama])
def test_mixed_casts_the_blocks_linear_layers_but_the_last_one(make):
    model = make().set_dtype("mixed")
    cast = {id(p) for layer in block_linears(model, make).values() for p in layer.parameters()}
    assert len(block_linears(model, make)) == (11 if make is tiny_bert else 13)
    for name, parameter in model.hf.named_parameters():
        assert parameter.dtype == (torch.bfloat16 if id(parameter) in cast else torch.float32), name
    assert model.precision == "mixed" and logits(model).dtype == torch.float32


@pytest.mark.parametrize("make", [tiny_bert, tiny_llama])
def test_mixed_equals_an_explicit_bfloat16_linear_in_every_block(make):
    """The mixed model's logits against a float32 model whose block linears (but the last
    block's last) are replaced by the explicit computation: round input and weights to
    bfloat16, multiply, return float32."""
    mixed, reference = make().set_dtype("mixed"), make()

    class RoundedLinear(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.linear = linear

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            bias = None if self.linear.bias is None else self.linear.bias.bfloat16()
            return torch.nn.functional.linear(x.bfloat16(), self.linear.weight.bfloat16(), bias).float()

    for name, layer in block_linears(reference, make).items():
        parent, _, attribute = name.rpartition(".")
        setattr(reference.hf.get_submodule(parent), attribute, RoundedLinear(layer))
    expected, plain = logits(reference), logits(make())
    assert torch.allclose(logits(mixed), expected, atol=1e-5)
    assert not torch.allclose(logits(mixed), plain, atol=1e-5)  # the rounding is really there


def test_bfloat16_casts_everything_and_log_probabilities_stay_float64():
    model = tiny_bert().set_dtype("bfloat16")
    assert {p.dtype for p in model.hf.parameters()} == {torch.bfloat16}
    encoded = model.encode(TEXT, 1)
    with torch.no_grad():
        logprob = model.target_logprob(model.batch([encoded]), [encoded])
    assert logprob.dtype == torch.float64
    probabilities = logits(model).double().softmax(-1)[0]
    assert float(logprob) == pytest.approx(float(probabilities[1].log()), abs=1e-12)


def test_bad_dtypes_are_refused_with_one_line():
    with pytest.raises(InputError, match="dtype 'float16' is not one of float32, bfloat16, mixed"):
        tiny_bert().set_dtype("float16")
    with pytest.raises(InputError, match="has none; use float32 or bfloat16"):
        tiny_cnn().set_dtype("mixed")
    with pytest.raises(InputError, match="already runs in bfloat16"):
        tiny_bert().set_dtype("bfloat16").set_dtype("mixed")


TEXT_METHODS = [
    name for name, method in METHODS.items() if "classifier" in method.model_kinds and name != "random"
]


@pytest.mark.parametrize("dtype", ["mixed", "bfloat16"])
def test_every_text_method_explains_in_each_dtype_close_to_float32(dtype):
    """Same seeds, same coalitions and noise: the scores follow float32's (bfloat16's rounding
    moves them a little, mixed less)."""
    reference, model = tiny_bert(), tiny_bert().set_dtype(dtype)
    for name in TEXT_METHODS:
        try:
            get_method(name).check_applicable(reference)
        except NotApplicableError:
            continue  # attnlrp without a usable lxt (the lrp extra), as bench/perf_precision.py skips it
        explained = []
        for candidate in (reference, model):
            torch.manual_seed(0)
            np.random.seed(0)
            explained.append(get_method(name).explain(candidate, candidate.encode(TEXT, 1)).scores)
        assert np.all(np.isfinite(explained[1])), name
        if np.ptp(explained[0]) > 0:
            assert pearsonr(*explained).statistic > 0.9, name


def test_load_model_and_explain_cli_take_the_dtype(tmp_path):
    tiny = tiny_bert()
    tiny.hf.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    assert bench.load_model(tmp_path, dtype="mixed").precision == "mixed"
    with pytest.raises(InputError, match="dtype 'half'"):
        bench.load_model(tmp_path, dtype="half")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "explain", "--model", str(tmp_path), "--method", "occlusion",
         "--dtype", "bfloat16", "--json", TEXT],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["dtype"] == "bfloat16"
