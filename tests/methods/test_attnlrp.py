"""attnlrp against lxt's own recipe, AttnLRP's conservation where its rules conserve, and a clean
model after every call. Everything but the listing and the missing-extra error needs an lxt that
imports with this transformers; without one, those tests are skipped with the method's reason.

Conservation: AttnLRP's rules conserve relevance except at biases and at the softmax (DTD with a
bias term, the paper's Proposition 3.1; lxt's explicit mode checks conservation "excluding bias
terms"). With every bias and attention output projection zeroed, nothing reaches a non-conserving
rule, so the input relevances must sum to the logit to float32 rounding, while plain gradient x
input does not (its norm, activation and product gradients are not conservative)."""

import re
import sys

import numpy as np
import pytest
import torch
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from bench.api import get_method, list_methods
from bench.errors import NotApplicableError
from methods import attnlrp

TEXT = "free cash prize call now"


@pytest.fixture
def lxt():
    found = attnlrp.lxt_efficient()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def explained_logit(model, encoded) -> float:
    with torch.no_grad():
        logits = model.hf(**model.batch([encoded])).logits
    n = encoded.n_positions
    return float(sum(logits[0, n - 1 + t, int(token)] for t, token in enumerate(encoded.target_ids)))


def lxt_recipe(lxt, model, encoded) -> np.ndarray:
    """lxt's README: monkey_patch the modeling module, backward from the explained logits, then
    (input_embeds * input_embeds.grad).sum(-1); here on the whole sequence, prompt positions kept."""
    module = sys.modules[type(model.hf).__module__]
    with attnlrp.restoring(lxt.models.get_default_map(module)):  # only to leave the process clean
        lxt.monkey_patch(module)
        embeds = model.hf.get_input_embeddings()(encoded.input_ids[None]).detach().requires_grad_()
        logits = model.hf(inputs_embeds=embeds).logits
        n = encoded.n_positions
        sum(logits[0, n - 1 + t, int(token)] for t, token in enumerate(encoded.target_ids)).backward()
    return (embeds * embeds.grad).sum(-1)[0, :n].detach().double().numpy()


def test_listed_and_not_applicable_without_the_extra(monkeypatch, llama):
    monkeypatch.setitem(sys.modules, "lxt", None)
    monkeypatch.setitem(sys.modules, "lxt.efficient", None)
    attnlrp.lxt_efficient.cache_clear()
    try:
        assert "attnlrp" in list_methods()
        with pytest.raises(NotApplicableError, match=re.escape(attnlrp.EXTRA_MISSING)):
            get_method("attnlrp").explain(llama, llama.encode(TEXT, " claim"))
    finally:
        attnlrp.lxt_efficient.cache_clear()


@pytest.mark.parametrize("name, target", [("llama", " claim now"), ("gpt2", " claim")])
def test_equals_lxt_used_directly(lxt, request, name, target):
    model = request.getfixturevalue(name)
    encoded = model.encode(TEXT, target)
    scores = get_method("attnlrp").explain(model, encoded).scores
    np.testing.assert_allclose(scores, lxt_recipe(lxt, model, encoded), rtol=1e-5, atol=1e-6)


def zero_non_conserving(model) -> None:
    """Zero the biases, learned position embeddings and attention output projections."""
    with torch.no_grad():
        for name, parameter in model.hf.named_parameters():
            if name.endswith("bias") or ".wpe." in name or "o_proj" in name or "attn.c_proj" in name:
                parameter.zero_()


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_conserves_the_logit_where_the_rules_conserve(lxt, request, name):
    model = request.getfixturevalue(name)
    zero_non_conserving(model)
    encoded = model.encode(TEXT, " claim")  # one target token: read at the last prompt position
    logit = explained_logit(model, encoded)
    relevance = get_method("attnlrp").explain(model, encoded).scores.sum()
    gradient_x_input = get_method("input-x-gradient").explain(model, encoded).scores.sum()
    assert relevance == pytest.approx(logit, rel=1e-4, abs=1e-5)
    assert abs(gradient_x_input - logit) > 0.1  # so the equality above needs lxt's rules


def test_leaves_the_model_as_it_was(lxt, llama):
    """Compared with lxt-free references, so a test before this one that leaked patches fails it too."""
    from transformers.models.llama import modeling_llama

    encoded = llama.encode(TEXT, " claim now")
    logits = llama.hf(**llama.batch([encoded])).logits.detach()
    gradient_x_input = get_method("input-x-gradient").explain(llama, encoded).scores
    relevance = get_method("attnlrp").explain(llama, encoded).scores
    assert not np.allclose(relevance, gradient_x_input)
    assert torch.equal(llama.hf(**llama.batch([encoded])).logits, logits)
    after = get_method("input-x-gradient").explain(llama, encoded).scores
    np.testing.assert_array_equal(after, gradient_x_input)
    functions = [
        modeling_llama.LlamaRMSNorm.forward,
        modeling_llama.LlamaMLP.forward,
        torch.nn.Dropout.forward,
        modeling_llama.eager_attention_forward,
        *modeling_llama.ALL_ATTENTION_FUNCTIONS.values(),
    ]
    assert [f.__module__ for f in functions if f.__module__.startswith("lxt")] == []
    assert modeling_llama.ALL_ATTENTION_FUNCTIONS is ALL_ATTENTION_FUNCTIONS


def test_bert_is_not_applicable_with_the_reason(lxt, bert):
    with pytest.raises(NotApplicableError, match="replacing its classes"):
        get_method("attnlrp").check_applicable(bert)
