"""Word pieces joined in the heatmaps: WordPiece continuations attached without their '##',
BPE and sentencepiece space markers starting words, in the HTML and in the PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bench.report.finished_run import FinishedRun
from bench.report.heatmaps import example_html, joined_pieces, token_matrix_figure
from tests.bench.report.html_tree import parse

WORDPIECE = ["[CLS]", "hi", "th", "##x", "8", "##nc", "##r", ".", "[SEP]"]
SPECIAL = [True] + [False] * 7 + [True]


@pytest.mark.parametrize(
    ("tokens", "special", "expected"),
    [
        (
            WORDPIECE,
            SPECIAL,
            [("[CLS]", True), ("hi", True), ("th", True), ("x", False), ("8", True), ("nc", False)]
            + [("r", False), (".", True), ("[SEP]", True)],
        ),
        (  # byte-level BPE: the first word has no marker; "," and "ld" continue; "Ċ" is a newline
            ["<s>", "Hello", ",", "Ġwor", "ld", "Ġ!", "Ċ", "</s>"],
            [True] + [False] * 6 + [True],
            [("<s>", True), ("Hello", True), (",", False), ("wor", True), ("ld", False), ("!", True)]
            + [("↵", False), ("</s>", True)],
        ),
        (  # sentencepiece; a bare marker is a word of its own, shown as a visible space
            ["▁Free", "cash", "▁now", "▁", "</s>"],
            [False, False, False, False, True],
            [("Free", True), ("cash", False), ("now", True), ("␣", True), ("</s>", True)],
        ),
        (  # a continuation right after a special token has no word to join: it starts one
            ["[CLS]", "##x", "y"],
            [True, False, False],
            [("[CLS]", True), ("x", True), ("y", True)],
        ),
    ],
)
def test_pieces_join_into_words(tokens, special, expected):
    assert joined_pieces(tokens, special) == expected


SCORES = {
    "a": [0.0, 1.0, -0.5, 0.25, 0.5, 0.0, -1.0, 0.75, 0.0],
    "b": [0.0, 0.2, 0.4, 0.6, 0.8, -0.2, 0.1, 1.0, 0.0],
}


@pytest.fixture
def run() -> FinishedRun:
    records = pd.DataFrame(
        [
            {
                "method": method,
                "example_id": "ex",
                "error": None,
                "target": "1",
                "tokens": WORDPIECE,
                "special": SPECIAL,
                "scores": scores,
                "rationale": [0, 0, 1, 1, 0, 0, 0, 0, 0],
            }
            for method, scores in SCORES.items()
        ]
    )
    return FinishedRun(Path("."), {"methods": list(SCORES)}, "", {}, records, pd.DataFrame())


def test_html_draws_the_pieces_of_a_word_inside_one_word_span(run):
    table = parse(example_html(run, "ex")).find("table")
    row = table.find_all("tr")[0]
    assert row.find("th").text() == "a"
    words = row.find_all("span", "word")
    assert [w.text() for w in words] == ["[CLS]", "hi", "thx", "8ncr", ".", "[SEP]"]
    pieces = [[p.text() for p in w.find_all("span", "tok")] for w in words]
    assert pieces == [["[CLS]"], ["hi"], ["th", "x"], ["8", "nc", "r"], ["."], ["[SEP]"]]
    continued = [p.text() for p in row.find_all("span", "piece")]
    assert continued == ["x", "nc", "r"]  # the pieces drawn with the thin separator before them
    assert [p.text() for p in row.find_all("span", "gold")] == ["th", "x"]
    titles = [float(p.attrs["title"]) for w in words for p in w.find_all("span", "tok")]
    np.testing.assert_allclose(titles, SCORES["a"])  # peak |score| is 1: the scores as they are


def test_png_labels_each_word_once_with_white_lines_between_words():
    matrix = np.array([SCORES["a"][1:-1], SCORES["b"][1:-1]])
    figure = token_matrix_figure(matrix, WORDPIECE[1:-1], ["a", "b"], "ex")
    try:
        ax = figure.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["hi", "thx", "8ncr", "."]
        # pieces: hi 0, th 1, x 2, 8 3, nc 4, r 5, . 6; a word's tick at its centre
        np.testing.assert_allclose(ax.get_xticks(), [0, 1.5, 4, 6])
        lines = [(line.get_xdata()[0], line.get_color()) for line in ax.get_lines()]
        assert sorted(x for x, colour in lines if colour == "white") == [0.5, 2.5, 5.5]
        assert sorted(x for x, colour in lines if colour == "black") == [1.5, 3.5, 4.5]
        np.testing.assert_allclose(ax.get_images()[0].get_array(), matrix)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    finally:
        plt.close(figure)
