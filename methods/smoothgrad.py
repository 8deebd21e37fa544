"""SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies of the input, which
smooths the gradient's high-frequency noise.

captum's NoiseTunnel over Saliency (signed), `n_samples` copies with Gaussian noise of standard
deviation `noise_level` * (max - min) of the input (the paper's 10-20% of the input range),
on the input embeddings (text) or pixels (images). The noise is drawn from `seed` in a forked
torch RNG, so a run is reproducible and leaves the global RNG untouched. The default
aggregation is `l2` of the averaged gradient, for the reason given in methods/saliency.py.
"""

from __future__ import annotations

import math

import torch
from captum.attr import NoiseTunnel, Saliency

from bench.method import register_method
from methods._captum import Attributable, CaptumGradientMethod


@register_method("smoothgrad")
class SmoothGrad(CaptumGradientMethod):
    name = "smoothgrad"
    bounds = {
        "n_samples": (1, math.inf),
        "noise_level": (0.0, math.inf),
        "seed": (0, math.inf),
        "batch_size": (1, math.inf),
    }
    defaults = {
        "n_samples": 25,
        "noise_level": 0.15,
        "seed": 0,
        "aggregation": "l2",
        "target_output": "logit",
        "batch_size": 16,
    }

    def run(self, target: Attributable) -> torch.Tensor:
        stdev = float(self.params["noise_level"]) * float(
            target.inputs.detach().max() - target.inputs.detach().min()
        )
        devices = [target.inputs.device] if target.inputs.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(self.params["seed"]))
            return NoiseTunnel(Saliency(target.forward)).attribute(
                target.inputs,
                nt_type="smoothgrad",
                nt_samples=int(self.params["n_samples"]),
                nt_samples_batch_size=int(self.params["batch_size"]),
                stdevs=stdev,
                abs=False,
            )
