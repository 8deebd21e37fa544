"""Grad-SAM equals a hand computation over the attention maps a plain eager forward returns:
torch.autograd.grad of the target's logit (or log-probability) with respect to every layer's
attention probabilities, relu(grad * attention) averaged over heads and layers, read at [CLS],
or for a causal LM at the row P - 1 + t predicting each target token t (one gradient per
token), summed."""

import numpy as np
import pytest
import torch

import bench
from tests.methods.test_attention import INPUTS

THREE_TOKEN_TARGET = "now reply stop"


def explicit_grad_sam(model, inputs, target, output: str = "logit") -> np.ndarray:
    encoded = model.encode(inputs, target)
    n = encoded.n_positions
    with torch.enable_grad(), model.attention_implementation("eager"):
        out = model.hf(**model.batch([encoded]), output_attentions=True)
        logits = out.logits[0] if output == "logit" else out.logits[0].double().log_softmax(-1)
        if model.kind == "causal-lm":
            reads = [(n - 1 + t, logits[n - 1 + t, int(token)]) for t, token in enumerate(encoded.target_ids)]
        else:
            reads = [(0, logits[encoded.target])]
        total = np.zeros(n)
        for row, value in reads:
            gradients = torch.autograd.grad(value, out.attentions, retain_graph=True)
            per_layer = [
                np.maximum(g[0].double().numpy() * a[0].detach().double().numpy(), 0).mean(0)
                for a, g in zip(out.attentions, gradients, strict=True)
            ]
            total += np.mean(per_layer, axis=0)[row, :n]
    return total


@pytest.mark.parametrize("output", ["logit", "logprob"])
@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_grad_sam_is_the_mean_positive_gradient_weighted_attention(name, output, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    expected = explicit_grad_sam(model, inputs, target, output)

    explanation = bench.explain("grad-sam", model, inputs, target=target, target_output=output)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-9)
    assert expected.max() > 1e-4 and expected.min() >= 0  # gradients mattered; ReLU keeps >= 0
    raw_attention = bench.explain("attention", model, inputs, target=target).scores
    assert not np.allclose(explanation.scores, raw_attention)  # the gradient weighting mattered
    targets = 1 if model.kind != "causal-lm" else len(model.encode(inputs, target).target_ids)
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, targets)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_grad_sam_on_a_three_token_target_takes_one_backward_per_token(name, request):
    model = request.getfixturevalue(name)
    prompt = "free cash prize call"
    assert len(model.encode(prompt, THREE_TOKEN_TARGET).target_ids) == 3
    expected = explicit_grad_sam(model, prompt, THREE_TOKEN_TARGET)
    explanation = bench.explain("grad-sam", model, prompt, target=THREE_TOKEN_TARGET)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-9)
    assert explanation.cost.backward_passes == 3
    first_token_only = explicit_grad_sam(model, prompt, THREE_TOKEN_TARGET.split()[0])
    assert np.abs(expected - first_token_only).max() > 1e-4  # the later tokens' rows count


def test_grad_sam_batches_rows_with_different_lengths(gpt2):
    prompts, targets = ["free cash", "hello how are you"], ["now reply stop", "see"]
    together = bench.explain("grad-sam", gpt2, prompts, target=targets)
    for prompt, target, explanation in zip(prompts, targets, together, strict=True):
        np.testing.assert_allclose(
            explanation.scores, explicit_grad_sam(gpt2, prompt, target), rtol=1e-5, atol=1e-9
        )


def test_grad_sam_leaves_model_without_gradients(bert):
    bench.explain("grad-sam", bert, "free cash", target=0)
    assert all(p.grad is None for p in bert.hf.parameters())
