"""The cascading randomisation (Adebayo et al. 2018): block order, cumulative re-initialisation
with the model's own initialiser, and Spearman of signed and absolute scores."""

import numpy as np
import pytest
import torch

from bench.evaluate import score_explanation
from bench.metrics._randomization import blocks
from tests.bench.metrics._hand import explained


class Recorder:
    """A stand-in method: at each cascade step it notes which parameters differ from the trained
    model's and returns the trained scores negated (a pure sign flip)."""

    def __init__(self, trained_model, scores):
        self.trained = {n: p.detach().clone() for n, p in trained_model.hf.named_parameters()}
        self.scores = scores
        self.changed: list[set[str]] = []

    def unit_scores(self, model, encodeds):
        params = dict(model.hf.named_parameters())
        self.changed.append({n for n, p in self.trained.items() if not torch.equal(params[n], p)})
        return [-self.scores]


def test_blocks_run_from_the_head_down_to_the_embeddings(bert):
    names = {id(m): n for n, m in bert.hf.named_modules()}
    order = [(step, [names[id(m)] for m in modules]) for step, modules in blocks(bert.hf)]
    assert [step for step, _ in order] == ["head", "layer 1", "layer 0", "embeddings"]
    assert order[0][1] == ["bert.pooler.dense", "classifier"]
    assert order[3][1][0] == "bert.embeddings.word_embeddings"


def test_cascade_is_cumulative_top_down_and_reports_signed_and_absolute(bert):
    encoded, explanation = explained(bert, np.arange(12, dtype=float) - 5.0)
    method = Recorder(bert, explanation.scores)
    values, curves = score_explanation(
        explanation, bert, encoded, ["randomization", "randomization_abs"], method=method
    )
    prefixes = [
        ("bert.pooler.", "classifier."),
        ("bert.encoder.layer.1.",),
        ("bert.encoder.layer.0.",),
        ("bert.embeddings.",),
    ]
    reached: set[str] = set()  # every parameter of the blocks re-initialised so far
    for changed, prefix in zip(method.changed, prefixes, strict=True):
        reached |= {n for n in method.trained if n.startswith(prefix)}
        weights = {
            n for n in reached if n.endswith("weight") and "LayerNorm" not in n
        }  # norms reset to 1 may not move
        assert weights <= changed <= reached
    assert len(method.changed) == 4  # one explanation per block
    # a pure sign flip: signed rho -1 at every step, absolute rho 1
    assert values["randomization"] == pytest.approx(-1.0)
    assert values["randomization_abs"] == pytest.approx(1.0)
    assert curves["randomization"] == pytest.approx([-1.0] * 4)


def test_the_cascade_uses_the_models_own_initialiser(bert):
    """After the head step, the classifier holds what `_init_weights` draws under the step's seed."""
    encoded, explanation = explained(bert)

    class Grab:
        weight = None

        def unit_scores(self, model, encodeds):
            if self.weight is None:
                self.weight = model.hf.classifier.weight.detach().clone()
            return [explanation.scores]

    grab = Grab()
    score_explanation(explanation, bert, encoded, ["randomization"], method=grab)
    import copy

    hf = copy.deepcopy(bert.hf)
    torch.manual_seed(0)  # step 0's seed
    for module in (hf.bert.pooler.dense, hf.classifier):
        hf._init_weights(module)
    assert torch.equal(grab.weight, hf.classifier.weight)
    assert not torch.equal(grab.weight, bert.hf.classifier.weight)
