"""GAE equals an explicit Chefer et al. loop over per-layer gradients of the attention probabilities.

The independent computation runs AtMan's attention function with no suppression
(bench/attention.py), whose returned probabilities are by construction the ones multiplied
with V, so matching it also shows that eager attention's returned maps carry the right gradients.
For a causal LM it follows the AtMan repository's `atman_magma/chefer/method.py`: one backward
per target token t of that token's logit at its predicting position P - 1 + t, the relevance
read at row P - 1 + t, less the identity, and summed over t.
"""

import numpy as np
import pytest
import torch

import bench
from bench.attention import SUPPRESSED_ATTENTION
from tests.methods.test_attention import INPUTS

THREE_TOKEN_TARGET = "now reply stop"


def chefer_relevance(layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """R = I, then R += mean_heads[(grad * attention)^+] @ R, layer by layer."""
    relevance = np.eye(layers[0][0].shape[-1])
    for attention, gradient in layers:
        weighted = np.maximum(attention * gradient, 0).mean(0)
        relevance = relevance + weighted @ relevance
    return relevance


def explicit_gae(model, inputs, target, output: str) -> np.ndarray:
    encoded = model.encode(inputs, target)
    n = encoded.n_positions
    with torch.enable_grad(), model.attention_implementation(SUPPRESSED_ATTENTION):
        out = model.hf(**model.batch([encoded]), output_attentions=True)
        logits = out.logits[0] if output == "logit" else out.logits[0].double().log_softmax(-1)
        if model.kind == "causal-lm":
            reads = [(n - 1 + t, logits[n - 1 + t, int(token)]) for t, token in enumerate(encoded.target_ids)]
        else:
            reads = [(0, logits[encoded.target])]
        total = np.zeros(n)
        for row, value in reads:
            layers = []
            for attention in out.attentions:
                (gradient,) = torch.autograd.grad(value, attention, retain_graph=True)
                layers.append((attention[0].detach().double().numpy(), gradient[0].double().numpy()))
            relevance = chefer_relevance(layers) - np.eye(len(encoded.input_ids))
            total += relevance[row, :n]
    return total


@pytest.mark.parametrize("output", ["logit", "logprob"])
@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_gae_is_the_chefer_relevance_update(name, output, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    expected = explicit_gae(model, inputs, target, output)

    explanation = bench.explain("gae", model, inputs, target=target, target_output=output)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-7)
    assert np.abs(expected).max() > 1e-3  # gradients mattered
    targets = 1 if model.kind != "causal-lm" else len(model.encode(inputs, target).target_ids)
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, targets)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_gae_on_a_three_token_target_takes_one_backward_per_token(name, request):
    model = request.getfixturevalue(name)
    prompt = "free cash prize call"
    assert len(model.encode(prompt, THREE_TOKEN_TARGET).target_ids) == 3
    expected = explicit_gae(model, prompt, THREE_TOKEN_TARGET, "logit")
    explanation = bench.explain("gae", model, prompt, target=THREE_TOKEN_TARGET)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-7)
    assert explanation.cost.backward_passes == 3
    # the last prompt position reads only its own row's identity from R at t = 0: it is gone
    first_row_only = explicit_gae(model, prompt, THREE_TOKEN_TARGET.split()[0], "logit")
    assert np.abs(expected - first_row_only).max() > 1e-3  # the later tokens' rows count


def test_gae_batches_rows_with_different_target_lengths(gpt2):
    prompts, targets = ["free cash", "hello how are you"], ["now reply stop", "see"]
    together = bench.explain("gae", gpt2, prompts, target=targets)
    for prompt, target, explanation in zip(prompts, targets, together, strict=True):
        np.testing.assert_allclose(
            explanation.scores, explicit_gae(gpt2, prompt, target, "logit"), rtol=1e-5, atol=1e-7
        )


def test_gae_leaves_model_without_gradients(bert):
    bench.explain("gae", bert, "free cash", target=0)
    assert all(p.grad is None for p in bert.hf.parameters())
