"""One explanation drawn as the report draws it: hand-built explanations, no model."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.report.explanation import write_html, write_png
from bench.types import Explanation

TOKENS = ["<s>", "Ġfree", "Ġcash", "Ġnow"]


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_a_per_token_explanation_is_a_row_per_generated_token(tmp_path):
    per_token = np.array([[0.0, 2.0, -1.0, 0.5], [0.0, 0.1, 0.2, -4.0]])
    explanation = Explanation(
        TOKENS,
        per_token.sum(0),
        target=" call me",
        method="atman",
        special_tokens=[True, False, False, False],
        target_tokens=["Ġcall", "Ġme"],
        per_token_scores=per_token,
    )
    page = write_html(explanation, tmp_path / "e.html").read_text()
    rows = page.split("<tr>")[1:]
    assert [row.split("</th>")[0] for row in rows] == [
        "<th>atman (whole target)",
        "<th>0:  call",
        "<th>1:  me",
    ]
    # each row scaled by its own largest |score| over non-special tokens: row 0's peak is "free";
    # a piece starting with the space marker (Ġ) starts a word, shown without the marker
    assert 'title="+1.000">free<' in rows[1] and 'title="-0.500">cash<' in rows[1]
    assert 'title="-1.000">now<' in rows[2] and 'class="tok special"' in rows[2]
    image = pixels(write_png(explanation, tmp_path / "e.png"))
    red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
    blue = (image[..., 2] > 200) & (image[..., 0] < 60) & (image[..., 1] < 60)
    assert red.sum() > 100 and blue.sum() > 100  # "free" in row 0, "now" in row 1 at full colour


def test_an_image_explanation_is_its_overlay(tmp_path):
    grid = np.array([[1.0, 0.0], [0.0, -1.0]])
    explanation = Explanation(
        ["[CLS]", *(f"patch[{r},{c}]" for r in range(2) for c in range(2))],
        np.concatenate([[0.0], grid.ravel()]),
        target=1,
        method="saliency",
        special_tokens=[True, False, False, False, False],
        patch_grid=(2, 2),
    )
    image = np.full((32, 32, 3), 128, np.uint8)
    bare, overlaid = (
        write_png(explanation, tmp_path / "bare.png"),
        write_png(explanation, tmp_path / "on.png", image),
    )
    assert pixels(overlaid).shape[1] > pixels(bare).shape[1]  # the image, then the overlay
    red = pixels(bare)
    assert ((red[..., 0] > 200) & (red[..., 1] < 60)).sum() > 100
    page = write_html(explanation, tmp_path / "e.html", image).read_text()
    assert page.count('src="data:image/png;base64,') == 1 and "saliency · target 1" in page
