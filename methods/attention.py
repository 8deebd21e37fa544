"""Raw attention: the last layer's attention from the reading position, averaged over heads.

The oldest attention baseline: what [CLS] (encoders, ViTs) attends to in the final layer, or
for a causal LM what the positions that predict the target tokens attend to, summed over the
target tokens (the rows `methods._attention_maps.read_rows` names). It ignores every earlier
layer and the values, which is exactly why rollout, GAE and AtMan were proposed.
"""

from __future__ import annotations

import math

import numpy as np

from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._attention_maps import capture, read_rows


@register_method("attention")
class LastLayerAttention(Method):
    name = "attention"
    bounds = {"batch_size": (1, math.inf)}
    defaults = {"batch_size": 16}
    needs_attention = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        maps = capture(model, batch, int(self.params["batch_size"]))
        return [
            m.attentions[-1].mean(0)[read_rows(model, e), : e.n_positions].sum(0).numpy()
            for m, e in zip(maps, batch, strict=True)
        ]
