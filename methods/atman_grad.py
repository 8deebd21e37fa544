"""AtMan-grad: the first-order approximation of AtMan, one forward and one backward pass.

AtMan's score of token i is CE(m_i = 1 - f) - CE(m = 1), where m holds one multiplier per key
applied to the row-min-shifted attention scores in every layer and head. Its first-order Taylor
expansion around m = 1 is dCE/dm_i * (-f): the gradient of the target's cross-entropy with
respect to all the multipliers at once gives every token's score from a single backward pass.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.attention import SUPPRESSED_ATTENTION, suppress
from bench.method import Method, register_method
from bench.models import Encoded, Model


@register_method("atman-grad")
class AtManGrad(Method):
    name = "atman-grad"
    defaults = {"suppression_factor": 0.9}
    needs_attention = True
    needs_gradients = True

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        factors = torch.ones(1, len(encoded.input_ids), device=model.device, requires_grad=True)
        inputs = model.batch([encoded])
        with torch.enable_grad(), model.attention_implementation(SUPPRESSED_ATTENTION), suppress(factors):
            cross_entropy = -model.target_logprob(inputs, [encoded]).sum()
        (gradient,) = torch.autograd.grad(cross_entropy, factors)
        f = float(self.params["suppression_factor"])
        return (-f * gradient[0, : encoded.n_positions]).double().cpu().numpy()
