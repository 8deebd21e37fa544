"""The CNN adapter: grid geometry, target log-probabilities, pass counting, no attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench
from bench.errors import InputError, NotApplicableError
from bench.grid import cell_of_pixel, cells_to_pixels, pool_to_cells
from tests.tiny import tiny_cnn, tiny_cnn_preprocess, tiny_image


def test_cells_tile_the_image_row_major():
    height, width, rows, cols = 12, 8, 3, 2
    got = cell_of_pixel((height, width), (rows, cols))
    for y in range(height):
        for x in range(width):
            # cell (r, c) covers rows [4r, 4r + 4) and cols [4c, 4c + 4)
            r, c = y // (height // rows), x // (width // cols)
            assert got[y, x] == r * cols + c


def test_pooling_is_a_signed_sum_per_cell_and_upsampling_inverts_the_layout():
    scores = np.random.default_rng(0).normal(size=(12, 8))
    pooled = pool_to_cells(scores, (3, 2))
    expected = [scores[4 * r : 4 * r + 4, 4 * c : 4 * c + 4].sum() for r in range(3) for c in range(2)]
    np.testing.assert_allclose(pooled, expected)
    upsampled = cells_to_pixels(np.arange(6.0), (3, 2), (12, 8))
    assert upsampled[5, 6] == 1 * 2 + 1 and upsampled[11, 0] == 2 * 2 + 0


def test_a_grid_that_does_not_tile_is_refused():
    with pytest.raises(InputError, match="5x5 grid does not tile a 16x16 image"):
        bench.wrap(tiny_cnn().hf, lambda image: torch.zeros(3, 16, 16), grid=(5, 5)).encode(tiny_image())


def test_encoded_cells_have_no_special_position_and_default_to_the_prediction():
    cnn = tiny_cnn()
    encoded = cnn.encode(tiny_image())
    assert cnn.kind == "image-classifier" and cnn.num_labels == 3
    assert encoded.patch_grid == (4, 4) and len(encoded.tokens) == 16 and encoded.tokens[5] == "cell[1,1]"
    assert not encoded.special.any()
    with torch.no_grad():
        logits = cnn.hf(encoded.pixel_values)
    assert encoded.target == int(logits.argmax())


def test_target_logprob_is_log_softmax_of_the_module_logits():
    cnn = tiny_cnn()
    rows = [cnn.encode(tiny_image(seed), target) for seed, target in [(0, 0), (1, 2), (2, 1)]]
    with torch.no_grad():
        got = cnn.target_logprob(cnn.batch(rows), rows)
        for b, row in enumerate(rows):
            logits = cnn.hf(tiny_cnn_preprocess(tiny_image(b))[None])[0].double()
            expected = logits[row.target] - torch.log(torch.exp(logits).sum())
            assert float(got[b]) == pytest.approx(float(expected), abs=1e-5)


def test_passes_count_batch_rows():
    cnn = tiny_cnn()
    rows = [cnn.encode(tiny_image(seed)) for seed in range(3)]
    before = cnn.passes.forward
    cnn.target_logprob(cnn.batch(rows), rows).sum().backward()
    assert (cnn.passes.forward - before, cnn.passes.backward) == (3, 3)


def test_atman_on_a_cnn_is_not_applicable():
    with pytest.raises(NotApplicableError, match="CNN has no attention"):
        bench.explain("atman", tiny_cnn(), tiny_image())


def test_a_cnn_has_no_token_embeddings_and_no_text_kind():
    with pytest.raises(NotApplicableError, match="no token embeddings"):
        _ = tiny_cnn().embedding_layer
    with pytest.raises(ValueError, match="image-classifier, not 'classifier'"):
        bench.wrap(tiny_cnn().hf, lambda image: image, kind="classifier")
