"""The numeric precision of a model's passes: a measured choice, recorded with every run.

- `float32`: the weights and every operation in float32 (the default of `load_model`, `explain`
  and `reproduce`; runs default to `mixed`, `RUN_DTYPE`).
- `bfloat16`: the whole model cast to bfloat16 (what GPU users do with large models). On this
  CPU (AMX-BF16) matmuls run ~4x faster, but AtMan's cross-entropy changes on a saturated
  classifier are smaller than bfloat16's rounding of the logits: its ranking agrees with
  float32 at a median Spearman of 0.67 on spam (`python -m bench.perf`, precision rows).
- `mixed`: only the linear layers of the transformer blocks hold bfloat16 weights and take
  bfloat16 inputs (the matmuls, nearly all the compute); their outputs return to float32, so the
  residual stream, norms, attention scores and softmax, embeddings, the head and its logits
  and the log-softmax stay float32. The last block's last linear layer (its feed-forward output,
  the last write into the residual stream before the head) stays float32 too: measured on AtMan
  over 20 test examples (MiniLM, one thread), casting it as well gives median Spearman
  0.986 / 0.991 with float32 on spam / sms_spam at 1.95x, keeping it gives 0.990 / 0.997 at
  1.87x, and keeping the whole last block 0.996 / 0.998 at 1.63x (results/perf/ has the rest).

Log-probabilities are always taken in float64 (`Model.target_values_from_logits`).
"""

from __future__ import annotations

import torch

from bench.errors import InputError

DTYPES = ("float32", "bfloat16", "mixed")
DEFAULT_DTYPE = "float32"
"""The precision of `load_model`, `explain` and `reproduce` (the paper's comparisons): the model as
it was trained."""
RUN_DTYPE = "mixed"
"""The precision of a benchmark run (`xai-bench run`, `bench.run`): every method's token ranking
in `mixed` agrees with float32's at a median Spearman >= 0.99 on spam and on sms_spam (AtMan, the
least: 0.992 and 0.996), at 1.4x to 2.5x the speed (`python -m bench.perf`, precision table)."""


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise InputError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return dtype


def transformer_blocks(module: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's list of transformer blocks: the ModuleList that holds the most parameters."""
    lists = [m for m in module.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise InputError(
            f"dtype 'mixed' needs a transformer's list of blocks, and {type(module).__name__} has "
            "none; use float32 or bfloat16"
        )
    return max(lists, key=lambda blocks: sum(p.numel() for p in blocks.parameters()))


def _bfloat16_inputs(layer: torch.nn.Module, args: tuple) -> tuple:
    return tuple(arg.to(torch.bfloat16) for arg in args)


def _float32_output(layer: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float()


def set_dtype(module: torch.nn.Module, dtype: str) -> None:
    """Put a float32 torch module in `dtype`, in place (once: a module is set from float32)."""
    check_dtype(dtype)
    if dtype == "bfloat16":
        module.to(torch.bfloat16)
    elif dtype == "mixed":
        for layer in mixed_linears(module):
            layer.to(torch.bfloat16)
            layer.register_forward_pre_hook(_bfloat16_inputs)
            layer.register_forward_hook(_float32_output)


def mixed_linears(module: torch.nn.Module) -> list[torch.nn.Linear]:
    """The linear layers `mixed` runs in bfloat16: every one in the transformer blocks but the
    last block's last (in module order: BERT's and ViT's `output.dense`, Llama's `down_proj`)."""
    blocks = transformer_blocks(module)
    kept = [layer for layer in blocks[-1].modules() if isinstance(layer, torch.nn.Linear)][-1]
    return [layer for layer in blocks.modules() if isinstance(layer, torch.nn.Linear) and layer is not kept]
