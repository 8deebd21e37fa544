"""The cascading model-parameter randomisation of Adebayo et al. 2018 ("Sanity checks for
saliency maps", Sec. 3.1), shared by `randomization` and `randomization_abs`: re-initialise the
model block by block from the top (the head above the transformer layers, then each layer from
the last to the first, then the embeddings), cumulatively, with the model's own initialiser
(`PreTrainedModel._init_weights`, the scheme it was built with; norms back to 1), explain the
input again after every step, and compare with the trained model's explanation by Spearman's
rho of the signed scores and of their absolute values. Each step is seeded, so every method and
example sees the same randomised weights. Tied weights (a causal LM's head and input
embeddings) are re-initialised at the first step that reaches either."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from bench.errors import NotApplicableError
from bench.metric import Evidence
from bench.models import Model

SEED = 0


@dataclass(frozen=True)
class Cascade:
    """Per step (top block first): its name and the Spearman rho of signed and absolute scores."""

    steps: tuple[str, ...]
    signed: tuple[float, ...]
    absolute: tuple[float, ...]


def blocks(hf: torch.nn.Module) -> list[tuple[str, list[torch.nn.Module]]]:
    """The cascade's blocks, top first: what follows the layers (head, final norm, pooler), each
    layer from the last, what precedes them (embeddings). The layers are the model's largest
    ModuleList; a model without one is a single block."""
    lists = [m for m in hf.modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        return [("all", [hf])]
    layers = max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))
    inside = {id(m) for m in layers.modules()}
    before: list[torch.nn.Module] = []
    after: list[torch.nn.Module] = []
    seen = False
    for module in hf.modules():  # registration order: embeddings, layers, then norm and head
        if module is layers:
            seen = True
        elif id(module) not in inside and any(True for _ in module.parameters(recurse=False)):
            (after if seen else before).append(module)
    steps = [("head", after)] if after else []
    steps += [(f"layer {i}", [layers[i]]) for i in reversed(range(len(layers)))]
    return steps + ([("embeddings", before)] if before else [])


def reinitialise(hf: torch.nn.Module, modules: list[torch.nn.Module], seed: int) -> None:
    """The model's own initialiser on every submodule of `modules` (torch's reset_parameters
    for models that have none), seeded."""
    init = getattr(hf, "_init_weights", None)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in modules:
            for sub in module.modules():
                if init is not None:
                    init(sub)
                elif hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float("nan") if np.ptp(a) == 0 or np.ptp(b) == 0 else float(spearmanr(a, b).statistic)


def cascade(evidence: Evidence) -> Cascade:
    """The whole cascade for one explanation (cached on the evidence: both metrics share it)."""
    return evidence.cached("randomization_cascade", lambda: _cascade(evidence))


def _cascade(evidence: Evidence) -> Cascade:
    if evidence.method is None:
        raise NotApplicableError("the randomisation check re-runs the method; pass the method that made it")
    model, removable = evidence.model, evidence.removable
    trained = np.asarray(evidence.explanation.scores, dtype=np.float64)[removable]
    hf = copy.deepcopy(model.hf)
    randomized = Model(hf, model.processor, kind=model.kind, name=f"{model.name} (randomized)")
    names, signed, absolute = [], [], []
    for step, (name, modules) in enumerate(blocks(hf)):
        reinitialise(hf, modules, SEED + step)
        [scores] = evidence.method.unit_scores(randomized, [evidence.encoded])
        scores = np.asarray(scores, dtype=np.float64)[removable]
        names.append(name)
        signed.append(spearman(trained, scores))
        absolute.append(spearman(np.abs(trained), np.abs(scores)))
    return Cascade(tuple(names), tuple(signed), tuple(absolute))
