"""Soft comprehensiveness and sufficiency (Zhao and Aletras 2023) by hand: with scores that are
0 or 1 after normalisation the Bernoulli masks are certain, so each value is one forward on
hand-zeroed word embeddings."""

import numpy as np
import pytest
import torch

from bench.errors import NotApplicableError
from bench.evaluate import score_explanation
from tests.bench.metrics._hand import explained

TOP = [2, 5, 6]  # the positions scored 1; every other word scores 0


def prob_with_zeroed(model, encoded, zeroed) -> float:
    with torch.no_grad():
        embeddings = model.hf.get_input_embeddings()(encoded.input_ids[None]).clone()
        embeddings[0, list(zeroed)] = 0.0
        logits = model.hf(inputs_embeds=embeddings).logits[0]
    return float(torch.softmax(logits.double(), -1)[encoded.target])


def test_soft_metrics_with_certain_masks_equal_zeroed_embeddings(bert):
    encoded, _ = explained(bert)
    scores = np.zeros(encoded.n_positions)
    scores[TOP] = 1.0
    scores[[0, -1]] = 5.0  # specials: never masked, and not part of the normalisation
    words = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    # the class whose probability drops when every word is zeroed (else nothing to normalise by)
    target = next(
        t
        for t in (0, 1)
        if prob_with_zeroed(bert, bert.encode(encoded.text, t), words)
        < prob_with_zeroed(bert, bert.encode(encoded.text, t), [])
    )
    encoded, explanation = explained(bert, scores, target=target)
    rest = [i for i in words if i not in TOP]
    full = prob_with_zeroed(bert, encoded, [])
    empty_suff = 1 - max(0.0, full - prob_with_zeroed(bert, encoded, words))
    suff = 1 - max(0.0, full - prob_with_zeroed(bert, encoded, rest))  # only the top tokens kept
    comp = max(0.0, full - prob_with_zeroed(bert, encoded, TOP))  # the top tokens zeroed
    values, _ = score_explanation(explanation, bert, encoded, ["soft_sufficiency", "soft_comprehensiveness"])
    assert values["soft_sufficiency"] == pytest.approx(np.clip((suff - empty_suff) / (1 - empty_suff), 0, 1))
    assert values["soft_comprehensiveness"] == pytest.approx(np.clip(comp / (1 - empty_suff), 0, 1))


def test_soft_masks_are_drawn_per_embedding_element_with_the_score_as_keep_probability(bert):
    """Halfway scores zero about half of each such token's embedding elements."""
    from bench.metric import Evidence
    from bench.metrics import _soft

    encoded, explanation = explained(bert, np.linspace(0, 1, 12))
    seen = {}

    def spy(inputs, rows, first_position=0):
        seen.setdefault("embeds", []).append(inputs["inputs_embeds"])
        return torch.zeros(len(rows), dtype=torch.float64)

    bert.target_logprob = spy
    evidence = Evidence(explanation, bert, encoded)
    _soft.soft_scores(evidence, np.full(10, 0.5))
    embeds = torch.cat(seen["embeds"])
    assert embeds.shape[0] == 1 + _soft.SAMPLES + 1
    kept = (embeds[1:-1, 1:-1] != 0).double().mean().item()
    assert kept == pytest.approx(0.5, abs=0.03)
    assert (embeds[-1, 1:-1] == 0).all() and (embeds[-1, [0, -1]] != 0).any()  # everything removed


def test_soft_metrics_refuse_images(vit):
    encoded = vit.encode(np.zeros((32, 32, 3), dtype=np.uint8), 0)
    scores = np.arange(encoded.n_positions, dtype=float)
    from bench.types import Explanation

    explanation = Explanation(encoded.tokens, scores, 0, special_tokens=encoded.special)
    with pytest.raises(NotApplicableError, match="text models only"):
        score_explanation(explanation, vit, encoded, ["soft_sufficiency"])
