"""photos_cnn: the coco128_seg loader, its masks, EfficientNet-Lite0 preprocessing and prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.errors import InputError
from tasks.photos_cnn import INPUT_SIZE, PhotosCNN, efficientnet_lite0, preprocess

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "images" / "coco128_seg"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent")


def annotation(stem: str) -> dict:
    rows = [json.loads(line) for line in (DATA / "annotations.jsonl").read_text().splitlines()]
    return next(row for row in rows if Path(row["file"]).stem == stem)


def test_data_path_is_required():
    with pytest.raises(InputError, match="needs data=PATH.*coco128_seg"):
        PhotosCNN()


@needs_data
def test_reads_every_photo_with_a_nonempty_mask_at_the_model_input_size():
    task = PhotosCNN(data=DATA)
    examples = task.examples()
    assert len(examples) == 126 and len({example.id for example in examples}) == 126
    for example in examples:
        assert example.inputs.shape == (INPUT_SIZE, INPUT_SIZE, 3) and example.inputs.dtype == np.uint8
        assert example.rationale.shape == (INPUT_SIZE, INPUT_SIZE)
        assert set(np.unique(example.rationale)) <= {0, 1} and example.rationale.sum() > 0
        assert example.target is None  # explained class = the CNN's prediction


@needs_data
def test_union_mask_covers_the_objects_and_largest_is_the_dominant_label():
    union = {example.id: example for example in PhotosCNN(data=DATA).examples(n=10)}
    largest = {example.id: example for example in PhotosCNN(data=DATA, rationale="largest").examples(n=10)}
    assert union.keys() == largest.keys()
    for stem, example in union.items():
        row = annotation(stem)
        objects = np.asarray(Image.open(DATA / row["mask"])) > 0
        # nearest-neighbour resizing keeps the object share of the image up to edge effects
        assert example.rationale.mean() == pytest.approx(objects.mean(), abs=0.03)
        assert largest[stem].meta["largest_object"] == row["label"]
        assert np.all(largest[stem].rationale <= example.rationale)


@needs_data
def test_splits_and_rationale_options_are_checked():
    with pytest.raises(InputError, match="only a test split"):
        PhotosCNN(data=DATA).examples("train")
    with pytest.raises(InputError, match="rationale must be one of union, largest"):
        PhotosCNN(data=DATA, rationale="boxes")


def test_preprocessing_is_efficientnet_lite_scaling_without_crop():
    image = np.zeros((48, 96, 3), dtype=np.uint8)
    image[:, :48] = 255  # left half white: squashing keeps it the left half
    pixels = preprocess(image)
    assert pixels.shape == (3, INPUT_SIZE, INPUT_SIZE)
    assert float(pixels[0, 100, 10]) == pytest.approx((255 - 127) / 128)
    assert float(pixels[2, 100, 200]) == pytest.approx(-127 / 128)


@pytest.mark.slow
@needs_data
def test_efficientnet_lite0_sees_a_zebra():
    model = efficientnet_lite0()
    example = next(example for example in PhotosCNN(data=DATA).examples() if example.id == "000000000034")
    encoded = model.encode(example.inputs)
    with torch.no_grad():
        probability = model.target_logprob(model.batch([encoded]), [encoded]).exp()
    assert model.labels[encoded.target] == "zebra" and float(probability) > 0.5
