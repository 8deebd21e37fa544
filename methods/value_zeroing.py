"""Value zeroing (Mohebbi et al., EACL 2023, "Quantifying Context Mixing in Transformers").

In layer l, for each token j, the value vector of j is set to zero in every head (for every
query, j's own included: `bench/zeroed_values.py`), the layer is recomputed on its unchanged
input, and C_l[i, j] is the cosine distance between token i's original and value-zeroed layer
output: how much i's representation relies on j's value. Each row of C_l is divided by its sum,
and the layers are aggregated by rollout without a residual term (`aggregate="rollout"`, the
paper's: C_L ... C_1, the residual is already inside each layer's output) or by their mean
(`"mean"`, inseq's default over its layer dimension). The score of position j is the aggregate's
row of the reading position ([CLS]; a causal LM's rows that predict each target token, summed;
`read_rows`). In a causal LM the first token reads only itself (its row is e_0 in every layer),
so rollout drains mass into it layer after layer: on SmolLM2-135M (30 layers) it gets ~1 - 1e-11
and the rest fall off with position; `"mean"` reads the layers without that compounding.

Ported from hmohebbi/ValueZeroing `scoring/value_zeroing.py` (one layer call per (layer, token)
on the previous layer's original output; `modeling/customized_modeling_bert.py` zeroes
`value_layer[:, :, t]` for all heads and queries; cosine distances; rows divided by their sums;
`compute_joint_attention(res=False)`), with inseq-team/inseq `inseq/attr/feat/ops/value_zeroing.py`
for decoders (a causal LM's entries i < j are 0, as its `use_causal_mask=True` sets them; a row
summing to 0 is left at 0 instead of dividing by 0). Intended differences: the distances are
taken in float64; inseq's 1e-5 floor on distances is not applied (the reference has none); all
variants of a layer run as batched calls of that layer alone (one row per zeroed token, chunked
by `batch_size` and `max_chunk_tokens` as AtMan is), on inputs and arguments captured from one
unchanged forward pass (so a ViT's blocks run as a text model's do). Each input runs alone, so
padding never enters. The references read per-layer matrices; the one score per position here is
the aggregate's row, read like `rollout`'s but keeping the read row's own entry (the references'
matrices keep it). Zeroing j's value for query j too follows all three references (the official
scoring code, Mohebbi's context_mixing_toolkit and inseq); a definition exempting query j would
leave C_l[j, j] = 0.

Cost: a layer call of r rows is r / L of a forward pass, so an input of T tokens costs T full
passes' worth of layer calls (counted as T forward passes) plus the unchanged pass. A causal LM
takes AtMan's shortcut (`bench/prefix_reuse.py`): zeroing j changes no position before j, so the
rows, in order of j, run in chunks cut by `suffix_chunks`, each only from its first j on, over the
unchanged pass's keys and values before it (the block's mask rows, position ids and rotary
embeddings cut to match); on SmolLM2-135M with 53 tokens that is 1.45x faster than all positions.
"""

from __future__ import annotations

import inspect
import math
from functools import reduce
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.errors import InputError, NotApplicableError
from bench.method import Method, register_method
from bench.models import Encoded, Model
from bench.precision import transformer_blocks
from bench.prefix_reuse import PASS_COST_POSITIONS, Layers, SharedPrefixCache, suffix_chunks, unchanged_pass
from bench.zeroed_values import VALUE_ZEROED_ATTENTION, zero_values
from methods._attention_maps import read_rows
from methods.atman import chunk_token_limit, row_chunks

AGGREGATES = ("rollout", "mean")
ALONG_THE_SEQUENCE = ("attention_mask", "position_ids", "position_embeddings")
"""The block arguments of a causal LM that run along the sequence: cut to a suffix's queries."""
LayerCall = tuple[dict[str, Any], torch.Tensor]
"""A block's arguments by name in the unchanged pass, and its output (1, T, hidden)."""


@register_method("value-zeroing")
class ValueZeroing(Method):
    name = "value-zeroing"
    bounds = {"batch_size": (1, math.inf), "max_chunk_tokens": (1, math.inf)}
    defaults = {
        "aggregate": "rollout",
        "batch_size": 32,  # rows (zeroed tokens) per layer call, at most
        "max_chunk_tokens": "auto",  # rows x length per layer call, at most (see AtMan)
    }
    choices = {"aggregate": AGGREGATES}
    needs_attention = True

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        matrices = self.mixing_matrices(model, encoded)
        if self.params["aggregate"] == "rollout":
            flow = reduce(lambda below, layer: layer @ below, matrices)
        else:
            flow = torch.stack(matrices).mean(0)
        return flow[read_rows(model, encoded), : encoded.n_positions].sum(0).numpy()

    def mixing_matrices(self, model: Model, encoded: Encoded) -> list[torch.Tensor]:
        """Per layer, the (T, T) float64 context-mixing matrix C_l, rows summing to 1 (or 0)."""
        length = len(encoded.input_ids)
        max_rows = int(self.params["batch_size"])
        max_tokens = chunk_token_limit(self.params["max_chunk_tokens"], model)
        causal = model.kind == "causal-lm"
        if causal:  # zeroing j changes no position before j: each chunk runs from its first j on
            if math.isfinite(max_tokens):  # every row attends over all the keys
                max_rows = min(max_rows, max(1, int(max_tokens // length)))
            chunks = suffix_chunks(range(length), length, max_rows, PASS_COST_POSITIONS)
        else:
            chunks = row_chunks([length] * length, max_rows, max_tokens)
        matrices = []
        with torch.no_grad(), model.attention_implementation(VALUE_ZEROED_ATTENTION):
            layers, calls, prefix = _unchanged_layer_calls(model, encoded)
            for layer, (arguments, output) in zip(layers, calls, strict=True):
                distances = torch.zeros(length, length, dtype=torch.float64)  # [i, j]
                for chunk in chunks:
                    start = chunk.start if causal else 0
                    zeroed = torch.arange(chunk.start, chunk.stop)
                    keys = nn.functional.one_hot(zeroed, length).bool().to(model.device)
                    with zero_values(keys):
                        changed = layer(**_block_arguments(arguments, len(zeroed), start, prefix))
                    changed = changed[0] if isinstance(changed, tuple) else changed
                    similarity = nn.functional.cosine_similarity(
                        changed.double(), output[:, start:].double(), dim=-1
                    )
                    distances[start:, zeroed] = (1 - similarity).T.cpu()
                if causal:
                    distances = distances.tril()  # j never reaches i < j
                sums = distances.sum(-1, keepdim=True)
                matrices.append(distances / torch.where(sums == 0, 1.0, sums))
        # each layer ran `length` rows: length / L full passes per layer, `length` in all (AtMan
        # counts its suffix rows the same way, one pass each)
        model.passes.forward += length
        return matrices


def _block_arguments(
    arguments: dict[str, Any], rows: int, start: int, prefix: Layers | None
) -> dict[str, Any]:
    """A block's arguments for `rows` copies of its unchanged input, queries from `start` on: a
    causal LM's suffix over the `prefix` keys and values before it (0 and None otherwise)."""
    block = dict(arguments, hidden_states=arguments["hidden_states"][:, start:].expand(rows, -1, -1))
    if prefix is None:
        return block
    block["cache"] = SharedPrefixCache.of(prefix, start)
    for name in ALONG_THE_SEQUENCE:
        value = arguments.get(name)
        if isinstance(value, tuple):  # rotary (cos, sin), (1, T, head size) each
            block[name] = tuple(part[:, start:] for part in value)
        elif value is not None:  # the mask's query rows, (1, 1, T, T); position ids, (1, T)
            block[name] = value[..., start:, :] if value.dim() == 4 else value[..., start:]
    return block


def _unchanged_layer_calls(
    model: Model, encoded: Encoded
) -> tuple[nn.ModuleList, list[LayerCall], Layers | None]:
    """The transformer's blocks, what each received (by name) and returned in one unchanged
    forward pass of the input alone (its hidden states, attention mask, rotary position
    embeddings, ...), and for a causal LM each layer's keys and values."""
    try:
        layers = transformer_blocks(model.hf)
    except InputError as error:
        raise NotApplicableError(f"value zeroing needs a transformer's list of blocks: {error}") from None
    calls: list[list[LayerCall]] = [[] for _ in layers]

    def keep(index: int):
        signature = inspect.signature(layers[index].forward)

        def hook(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            arguments = dict(signature.bind(*args, **kwargs).arguments)
            for name, parameter in signature.parameters.items():
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(arguments.pop(name, {}))
            output = output[0] if isinstance(output, tuple) else output
            calls[index].append((arguments, output))

        return hook

    handles = [layer.register_forward_hook(keep(i), with_kwargs=True) for i, layer in enumerate(layers)]
    try:
        if model.kind == "causal-lm":
            prefix = unchanged_pass(model, encoded)[1]
        else:
            prefix = None
            model.forward_for_target(model.batch([encoded]), [encoded])
    finally:
        for handle in handles:
            handle.remove()
    known = {"hidden_states", "cache", *ALONG_THE_SEQUENCE}
    for layer_calls in calls:
        if len(layer_calls) != 1 or "hidden_states" not in layer_calls[0][0]:
            raise NotApplicableError(
                f"{model.name}'s blocks were not each called once with `hidden_states`, so a block "
                "cannot be rerun on its own"
            )
        unknown = [
            name
            for name, value in layer_calls[0][0].items()
            if name not in known and isinstance(value, torch.Tensor | tuple)
        ]
        if prefix is not None and unknown:
            raise NotApplicableError(
                f"{model.name}'s blocks take {', '.join(unknown)}, which value zeroing cannot cut to "
                "a suffix of the sequence"
            )
    return layers, [layer_calls[0] for layer_calls in calls], prefix
