"""AtMan-grad: first-order approximations of AtMan from one forward and one backward pass.

AtMan's score of token i is CE(m_i = 1 - f) - CE(m = 1), where m holds one multiplier per key
applied to the row-min-shifted attention scores d in every layer and head.

- `expansion="multiplier"` (the default, as the issue defines it): the first-order Taylor
  expansion in m around m = 1, dCE/dm_i * (-f). One backward pass gives every token's score.
- `expansion="softmax"`: first order in the attention weights instead. The change of each
  attention row when key i is suppressed is known in closed form (its weight falls from w_i to
  w_i e^{-f d_i} / Z and the others are renormalised by 1 / Z, Z = 1 - w_i + w_i e^{-f d_i}), so
  only its effect on the CE is linearised: sum over layers, heads and rows of
  dCE/dw . (w' - w). The multiplier expansion overshoots for keys with large d (their weight
  cannot fall below 0); this one cannot, and it costs the same passes.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.attention import SUPPRESSED_ATTENTION, suppress
from bench.method import Method, register_method
from bench.models import Encoded, Model

EXPANSIONS = ("multiplier", "softmax")


@register_method("atman-grad")
class AtManGrad(Method):
    name = "atman-grad"
    bounds = {"suppression_factor": (0.0, 1.0)}
    defaults = {"suppression_factor": 0.9, "expansion": "multiplier"}
    needs_attention = True
    needs_gradients = True

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        expansion = self.params["expansion"]
        if expansion not in EXPANSIONS:
            raise ValueError(f"atman-grad: unknown expansion {expansion!r}; expected one of {EXPANSIONS}")
        f = float(self.params["suppression_factor"])
        factors = torch.ones(1, len(encoded.input_ids), device=model.device, requires_grad=True)
        inputs = model.batch([encoded])
        record = expansion == "softmax"
        with (
            torch.enable_grad(),
            model.attention_implementation(SUPPRESSED_ATTENTION),
            suppress(factors, record=record) as spec,
        ):
            cross_entropy = -model.target_logprob(inputs, [encoded]).sum()
        if expansion == "multiplier":
            (gradient,) = torch.autograd.grad(cross_entropy, factors)
            scores = -f * gradient[0]
        else:
            weights = [w for _, w in spec.recorded]
            gradients = torch.autograd.grad(cross_entropy, weights)
            scores = sum(
                _softmax_expansion(shifted, w.detach(), g, f)
                for (shifted, w), g in zip(spec.recorded, gradients, strict=True)
            )
        return scores[: encoded.n_positions].double().cpu().numpy()


def _softmax_expansion(
    shifted: torch.Tensor, weights: torch.Tensor, grad: torch.Tensor, f: float
) -> torch.Tensor:
    """Per key j, summed over heads and rows of one layer: dCE/dw . (w' - w) when key j alone is
    suppressed, with w' in closed form: w'_j = w_j e s, w'_k = w_k s, s = 1 / (1 - w_j + w_j e),
    e = exp(-f d_j); so the sum is (s - 1) (g . w) + g_j w_j s (e - 1)."""
    w, g = weights.double(), grad.double()
    decay = torch.exp(-f * shifted.double().clamp_min(0))  # masked keys have w = 0: any finite value
    scale = 1 / (1 - w + w * decay)
    row_total = (g * w).sum(-1, keepdim=True)
    return ((scale - 1) * row_total + g * w * scale * (decay - 1)).sum(dim=(0, 1, 2))
