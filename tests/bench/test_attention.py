"""The suppressed attention function against AtMan's formula written out in float64."""

import pytest
import torch
from torch import nn

from bench.attention import Suppression, suppress, suppressed_attention


def formula(query, key, value, mask, factors):
    """softmax((S - row min over valid keys) * factor per key + mask) @ V, in float64; query
    head h reads key/value head h // groups, as transformers' repeat_kv has it."""
    groups = query.shape[1] // key.shape[1]
    q, k, v = (
        query.double(),
        key.double().repeat_interleave(groups, 1),
        value.double().repeat_interleave(groups, 1),
    )
    scores = q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5
    valid = mask > -1e30
    row_min = scores.masked_fill(~valid, torch.inf).amin(-1, keepdim=True)
    shifted = (scores - row_min) * factors.double()[:, None, None, :] + mask.double()
    return (shifted.softmax(-1) @ v).transpose(1, 2)


@pytest.mark.parametrize("key_heads", [4, 2])
@pytest.mark.parametrize("keys_per_row", [1, 2, 5])
@pytest.mark.parametrize("padded", [False, True])
def test_suppressed_attention_follows_the_formula(keys_per_row, padded, key_heads):
    torch.manual_seed(0)
    batch, heads, length, dim = 5, 4, 24, 8
    query = torch.randn(batch, heads, length, dim) * 2
    key, value = (torch.randn(batch, key_heads, length, dim) * 2 for _ in range(2))
    mask = torch.zeros(batch, 1, length, length)
    if padded:
        mask[-2:, ..., -2:] = torch.finfo(torch.float32).min  # two rows of the batch end in padding
    factors = torch.ones(batch, length)
    for row in range(1, batch):  # row 0 suppresses nothing, like AtMan's first variant
        keys = torch.randperm(length - 2)[: max(1, keys_per_row - row % 2)]  # rows scale unequal numbers
        factors[row, keys] = torch.rand(len(keys)) * 0.9
    module = nn.Module().eval()
    with suppress(factors) as spec:
        output, _ = suppressed_attention(module, query, key, value, mask)
    # exact AtMan and conceptual suppression's few keys take the column path; many keys, the dense one
    assert (spec.scaled_keys is not None) == (keys_per_row <= length // 8)
    torch.testing.assert_close(output.double(), formula(query, key, value, mask, factors), atol=1e-5, rtol=0)


def test_gradients_and_recording_take_the_dense_path():
    factors = torch.ones(2, 4)
    factors[1, 2] = 0.1
    assert Suppression(factors).scaled_keys is not None
    assert Suppression(factors.requires_grad_()).scaled_keys is None
    assert Suppression(factors.detach(), recorded=[]).scaled_keys is None
