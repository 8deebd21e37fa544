"""digits_vit: sklearn's handwritten digits, upscaled, classified by a small ViT the project trains.

`load_digits` ships inside scikit-learn (1,797 8x8 images, ink 0..16), so this image task needs
no download. Each digit is upscaled by pixel repetition (x4) to a 32x32 RGB image, and the ViT
reads 4x4-pixel patches, so every patch is exactly one original digit pixel and the patch grid
is the digit's own 8x8 grid.

Ground truth: the rationale is the digit's ink, the (32, 32) 0/1 mask of pixels whose original
value is nonzero. Background pixels carry no information about the class, so a plausible
explanation puts its mass on the ink.

The ViT is built from a config and trained here (about a minute on 2 CPU cores), then cached
under the user cache (`XAI_BENCH_CACHE`) keyed by task and seed, with its test accuracy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.defaults import atomic_dir, trained_model_dir
from bench.errors import InputError
from bench.models import Model, load_model
from bench.task import Task, register_task
from bench.training import METADATA, _library_versions, _progress, _seed_everything, read_metadata
from bench.types import Example
from tasks._sources import seeded_first, seeded_split

SCALE = 4
"""Upscaling factor: 8x8 digits become 32x32 images."""
IMAGE_SIZE = 8 * SCALE
BASE_MODEL = "vit-from-config"
"""The cache key's base-model part: the ViT starts from random weights, not a checkpoint."""
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DigitsViTSettings:
    """The ViT's shape and training schedule; everything besides the seed that decides the weights."""

    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 128
    position_init_std: float = 1.0
    """Each 4x4 patch is one flat gray level, so a token carries only its amount of ink and the
    digit lives entirely in where the ink is. At ViT's default init (0.02) the position
    embeddings are drowned out and training sits at chance for hundreds of steps; at unit
    scale position is visible from the first step."""
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    max_steps: int | None = None
    """Stop after this many optimizer steps (tests train for a few)."""


def digit_image(digit: np.ndarray) -> np.ndarray:
    """An 8x8 digit (ink 0..16) as a (32, 32, 3) uint8 RGB image, white ink on black."""
    gray = np.rint(np.asarray(digit, dtype=np.float64) * 255 / 16).astype(np.uint8)
    return np.repeat(np.kron(gray, np.ones((SCALE, SCALE), dtype=np.uint8))[..., None], 3, axis=2)


def ink_mask(digit: np.ndarray) -> np.ndarray:
    """The rationale: (32, 32) 0/1, 1 where the upscaled pixel's original digit pixel has ink."""
    return np.kron(np.asarray(digit) > 0, np.ones((SCALE, SCALE))).astype(np.int8)


def image_processor() -> Any:
    """Rescale to [0, 1] and normalize to [-1, 1]; images are already 32x32, so no resizing."""
    from transformers import ViTImageProcessorPil

    return ViTImageProcessorPil(
        do_resize=False,
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )


@register_task("digits_vit")
class DigitsViT(Task):
    """sklearn digits upscaled to 32x32 on a ViT trained here, rationale = the ink pixels (offline)."""

    name = "digits_vit"
    modality = "image"
    model_kind = "image-classifier"
    has_rationale = True
    labels = tuple(str(digit) for digit in range(10))

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if data is not None:
            raise InputError(
                "task 'digits_vit' reads the digits bundled with scikit-learn; it takes no data path"
            )
        super().__init__(data=None, seed=seed, **params)
        from sklearn.datasets import load_digits

        digits = load_digits()
        self._digits, self._targets = digits.images, digits.target
        self._split = seeded_split(len(self._targets), TEST_FRACTION, seed)

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        if split not in self._split:
            raise InputError(f"task 'digits_vit' has splits {', '.join(self._split)}, not {split!r}")
        return [
            Example(
                id=f"digits-{index}",
                inputs=digit_image(self._digits[index]),
                target=int(self._targets[index]),
                rationale=ink_mask(self._digits[index]),
                meta={"sklearn_index": index},
            )
            for index in seeded_first(self._split[split], n, self.seed)
        ]

    def default_model(self) -> Model:
        return load_digits_vit(trained_digits_vit(self))


def _pixels_and_labels(task: DigitsViT, split: str, processor: Any) -> tuple[torch.Tensor, torch.Tensor]:
    examples = task.examples(split)
    pixels = processor(images=[example.inputs for example in examples], return_tensors="pt")["pixel_values"]
    return pixels, torch.tensor([example.target for example in examples])


@torch.no_grad()
def _accuracy(
    hf: torch.nn.Module, pixels: torch.Tensor, labels: torch.Tensor, batch_size: int = 256
) -> float:
    hf.eval()
    predicted = torch.cat([hf(pixel_values=chunk).logits.argmax(-1) for chunk in pixels.split(batch_size)])
    return float((predicted == labels).float().mean())


def train_digits_vit(task: DigitsViT, settings: DigitsViTSettings, progress: bool = True) -> Path:
    """Train a ViT from a config on the train split, score it on the test split, and cache it."""
    from transformers import ViTConfig, ViTForImageClassification

    generator = _seed_everything(task.seed)
    processor = image_processor()
    pixels, labels = _pixels_and_labels(task, "train", processor)
    config = ViTConfig(
        image_size=IMAGE_SIZE,
        patch_size=SCALE,
        num_channels=3,
        hidden_size=settings.hidden_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size,
        num_labels=len(task.labels),
        id2label=dict(enumerate(task.labels)),
        label2id={label: i for i, label in enumerate(task.labels)},
    )
    hf = ViTForImageClassification(config)
    torch.nn.init.normal_(hf.vit.embeddings.position_embeddings, std=settings.position_init_std)
    optimizer = torch.optim.AdamW(hf.parameters(), lr=settings.learning_rate)
    steps_per_epoch = -(-len(labels) // settings.batch_size)
    total_steps = min(steps_per_epoch * settings.epochs, settings.max_steps or 10**9)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total_steps)
    started = time.perf_counter()
    hf.train()
    with _progress(progress) as bar:
        job = bar.add_task(f"training {task.name}", total=total_steps, loss=0.0)
        step = 0
        while step < total_steps:
            for rows in torch.randperm(len(labels), generator=generator).split(settings.batch_size):
                loss = hf(pixel_values=pixels[rows], labels=labels[rows]).loss
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                bar.update(job, advance=1, loss=loss.item())
                if step == total_steps:
                    break
    train_seconds = time.perf_counter() - started
    test_pixels, test_labels = _pixels_and_labels(task, "test", processor)
    metadata = {
        "task": task.name,
        "seed": task.seed,
        "settings": asdict(settings),
        "base_model": BASE_MODEL,
        "labels": list(task.labels),
        "n_train": len(labels),
        "n_test": len(test_labels),
        "steps": total_steps,
        "test_accuracy": _accuracy(hf, test_pixels, test_labels),
        "train_seconds": round(train_seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {**_library_versions(), "scikit-learn": version("scikit-learn")},
    }
    target = trained_model_dir(task.name, BASE_MODEL, task.seed)
    with atomic_dir(target) as staging:
        hf.save_pretrained(staging)
        processor.save_pretrained(staging)
        (staging / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    return target


def trained_digits_vit(
    task: DigitsViT, settings: DigitsViTSettings | None = None, force: bool = False, progress: bool = True
) -> Path:
    """The cached ViT folder for this task's seed, trained first if missing.

    With `settings` None any cached model for the seed is reused; explicit settings replace a
    cached model that was trained differently.
    """
    folder = trained_model_dir(task.name, BASE_MODEL, task.seed)
    metadata = read_metadata(folder)
    cached = metadata is not None and (settings is None or metadata["settings"] == asdict(settings))
    if cached and not force:
        return folder
    return train_digits_vit(task, settings or DigitsViTSettings(), progress=progress)


def load_digits_vit(folder: Path) -> Model:
    model = load_model(folder, kind="image-classifier")
    model.name = f"digits_vit/{BASE_MODEL}"
    return model
