"""AttnLRP (Achtibat et al., ICML 2024, "AttnLRP: Attention-Aware Layer-Wise Relevance Propagation
for Transformers") through its authors' package `lxt` (the `lrp` extra). lxt's efficient mode
monkey-patches a transformers modeling module (`lxt.efficient.monkey_patch`, lxt/efficient/core.py,
patch maps in lxt/efficient/models/*.py: norms, element-wise non-linearities, gated products and
attention get the paper's identity and uniform rules as modified gradients), after which LRP
relevance is gradient x input: lxt's README recipe `(input_embeds * input_embeds.grad).sum(-1)`,
here on the explained positions' input embeddings, of the target's logit (a causal LM's target
tokens' logits, each read at the position that predicts it, summed: the gradient methods' default
`target_output`, methods/_captum.py). One forward and one backward pass.

lxt patches classes and modules process-wide and cannot undo it; `restoring` puts back what the
patch map touched after each call, so every other method sees the model as it was. lxt patches a
loaded model only where its patch map edits classes in place; its BERT patch swaps in its own
copies of the modeling classes (`replace_module`), which a loaded BERT never uses, so BERT is not
applicable rather than silently explained with plain gradients. lxt 2.1 (PyPI) does not import
with transformers 5 (its BERT copy imports `find_pruneable_heads_and_indices`); then every model
is not applicable, with that reason.
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np
import torch
import transformers
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from bench.errors import NotApplicableError
from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._captum import position_scores, text_attributable

EXTRA_MISSING = "attnlrp needs the lrp extra: pip install 'xai-bench[lrp]'"


@functools.cache
def lxt_efficient() -> ModuleType | str:
    """lxt's efficient mode, or the one-line reason it cannot be used here."""
    try:
        import lxt.efficient  # the optional `lrp` extra
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] == "lxt":
            return EXTRA_MISSING
        return f"attnlrp: lxt cannot be imported: {error}"
    except ImportError as error:  # lxt 2.1 (PyPI) imports names that transformers 5 removed
        return (
            f"attnlrp: lxt {importlib.metadata.version('lxt')} cannot be imported with "
            f"transformers {transformers.__version__}: {error}"
        )
    return lxt.efficient


def require_lxt() -> None:
    reason = lxt_efficient()
    if isinstance(reason, str):
        raise NotApplicableError(reason)


def modeling_module(model: Model) -> ModuleType:
    """The transformers module that defines the model's classes (what lxt patches)."""
    return sys.modules[type(model.hf).__module__]


def patch_map(module: ModuleType, model: Model) -> dict:
    """lxt's AttnLRP patch map for the model's module, or NotApplicableError saying why there is none."""
    require_lxt()
    from lxt.efficient.models import get_default_map
    from lxt.efficient.patches import replace_module

    try:
        patches = get_default_map(module)
    except ValueError as error:
        raise NotApplicableError(f"attnlrp: lxt has no AttnLRP patch for {module.__name__}") from error
    if any(getattr(patch, "func", None) is replace_module for patch in patches.values()):
        raise NotApplicableError(
            f"attnlrp: lxt patches {module.__name__} by replacing its classes with its own copies, "
            f"which an already loaded {type(model.hf).__name__} does not use"
        )
    return patches


@contextmanager
def restoring(patches: dict) -> Iterator[None]:
    """Put back, after the body, every forward, module attribute and attention function that lxt's
    patch map `patches` may replace (lxt 2.1 rebinds a module's ALL_ATTENTION_FUNCTIONS, lxt's
    main branch edits transformers' shared registry in place: both are restored)."""
    classes = [target for target in patches if isinstance(target, type)]
    modules = [target for target in patches if isinstance(target, ModuleType)]
    forwards = {cls: cls.__dict__.get("forward") for cls in classes}
    attributes = {module: dict(vars(module)) for module in modules}
    registry = dict(ALL_ATTENTION_FUNCTIONS._local_mapping)
    try:
        yield
    finally:
        ALL_ATTENTION_FUNCTIONS._local_mapping = registry
        for module, saved in attributes.items():
            for name in set(vars(module)) - set(saved):
                delattr(module, name)
            vars(module).update(saved)
        for cls, forward in forwards.items():
            if forward is not None:
                cls.forward = forward
            elif "forward" in cls.__dict__:
                del cls.forward


@contextmanager
def lxt_patched(model: Model) -> Iterator[None]:
    """The model's modules patched with lxt's AttnLRP rules for the body only."""
    from lxt.efficient import monkey_patch

    module = modeling_module(model)
    patches = patch_map(module, model)
    with restoring(patches):
        monkey_patch(module, patch_map=patches)
        yield


@register_method("attnlrp")
class AttnLRP(Method):
    name = "attnlrp"
    model_kinds = ("classifier", "causal-lm")
    needs_gradients = True

    @classmethod
    def unavailable(cls) -> str | None:
        reason = lxt_efficient()
        return reason if isinstance(reason, str) else None

    def check_applicable(self, model: Model) -> None:
        super().check_applicable(model)
        patch_map(modeling_module(model), model)

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        target = text_attributable(model, encoded, None, "logit")
        with lxt_patched(model), torch.enable_grad():
            target.forward(target.inputs).sum().backward()
        relevance = target.inputs.detach() * target.inputs.grad
        return position_scores(model, encoded, relevance, "sum")
