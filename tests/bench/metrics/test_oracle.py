"""An oracle ordering must beat `random` on deletion AUC. On a bag-of-words classifier the
target margin is a sum of per-token terms, so removing tokens in order of their leave-one-out
drop gives the lowest probability at every k: the oracle curve lies under any other curve."""

import numpy as np
import pytest
import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

import bench
from bench.evaluate import score_explanation
from bench.registry import TASKS
from tests.bench.metrics._hand import prob_without
from tests.tiny import make_tokenizer

TEXTS = ["free cash call now hello", "how are you see later the prize", "claim urgent reply stop my text msg"]


class BagOfWordsConfig(PretrainedConfig):
    model_type = "bag-of-words-test"


class BagOfWords(PreTrainedModel):
    config_class = BagOfWordsConfig

    def __init__(self, config):
        super().__init__(config)
        self.weights = torch.nn.Embedding(config.vocab_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        torch.nn.init.normal_(module.weight, std=1.0)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        terms = self.weights(input_ids)
        if attention_mask is not None:
            terms = terms * attention_mask[..., None]
        return SequenceClassifierOutput(logits=terms.sum(1))


def test_leave_one_out_oracle_beats_random_on_deletion():
    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    model = bench.wrap(
        BagOfWords(BagOfWordsConfig(vocab_size=len(tokenizer), num_labels=2)), tokenizer, "classifier"
    )
    mask_id = tokenizer.mask_token_id
    oracle_auc, random_auc = [], []
    for text in TEXTS:
        encoded = model.encode(text, 1)
        full = prob_without(model, encoded, [], mask_id)
        drops = [
            0.0 if s else full - prob_without(model, encoded, [i], mask_id)
            for i, s in enumerate(encoded.special)
        ]
        oracle = bench.Explanation(
            tokens=encoded.tokens, scores=drops, target=1, special_tokens=encoded.special
        )
        random = bench.explain("random", model, text, target=1)
        oracle_values, oracle_curves = score_explanation(oracle, model, encoded, ["deletion"])
        random_values, random_curves = score_explanation(random, model, encoded, ["deletion"])
        assert np.all(np.array(oracle_curves["deletion"]) <= np.array(random_curves["deletion"]) + 1e-12)
        oracle_auc.append(oracle_values["deletion"])
        random_auc.append(random_values["deletion"])
    assert np.mean(oracle_auc) < np.mean(random_auc)


@pytest.mark.slow
def test_leave_one_out_oracle_beats_random_on_the_spam_task():
    task = TASKS.get("spam")()
    model = task.default_model()
    oracle_auc, random_auc = [], []
    for example in task.examples(n=8):
        encoded = model.encode(example.inputs, example.target)
        random = bench.explain("random", model, example.inputs, target=example.target)
        # leave-one-out with the curve's own removal (the mask token): occlusion
        oracle = bench.explain("occlusion", model, example.inputs, target=example.target)
        oracle_auc.append(score_explanation(oracle, model, encoded, ["deletion"])[0]["deletion"])
        random_auc.append(score_explanation(random, model, encoded, ["deletion"])[0]["deletion"])
    oracle_auc, random_auc = np.array(oracle_auc), np.array(random_auc)
    assert oracle_auc.mean() < random_auc.mean() - 0.1
    assert (oracle_auc < random_auc).mean() >= 0.85
