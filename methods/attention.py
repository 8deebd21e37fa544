"""Raw attention: the last layer's attention from the reading position, averaged over heads.

The oldest attention baseline: what [CLS] (encoders, ViTs) or the position that predicts the
target (causal LMs) attends to in the final layer. It ignores every earlier layer and the
values, which is exactly why rollout, GAE and AtMan were proposed.
"""

from __future__ import annotations

import numpy as np

from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._attention_maps import capture, read_row


@register_method("attention")
class LastLayerAttention(Method):
    name = "attention"
    defaults = {"batch_size": 16}
    needs_attention = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        maps = capture(model, batch, batch_size=int(self.params["batch_size"]))
        return [
            m.attentions[-1].mean(0)[read_row(model, e), : e.n_positions].numpy()
            for m, e in zip(maps, batch, strict=True)
        ]
