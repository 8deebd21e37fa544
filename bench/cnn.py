"""Adapter for plain torch image classifiers (CNNs such as EfficientNet-Lite0), not transformers.

A CNN has no tokens and no attention, so its explained positions are a fixed grid of equal
square cells over the preprocessed input (no [CLS]: nothing is special). Methods read the
same adapter surface as for a ViT (`encode`, `batch`, `forward_for_target`, `passes`, `device`,
`num_labels`), so pixel and cell methods run unchanged; attention methods get a clean
NotApplicableError instead of fake scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from bench.cost import PassCounter
from bench.errors import InputError, NotApplicableError
from bench.grid import cell_size
from bench.models import Encoded, Model, check_image_granularity, read_image
from bench.precision import DEFAULT_DTYPE
from bench.units import DEFAULT_GRANULARITY

Preprocess = Callable[[Any], torch.Tensor]
"""Image (H, W, 3 uint8 array or PIL image) -> float pixels (3, h, w) or (1, 3, h, w)."""


class CNNModel(Model):
    """A torch module mapping pixels (B, 3, h, w) to class logits (B, classes), with its preprocessing.

    `grid` is the (rows, cols) of explained cells; it must tile the preprocessed input exactly.
    `num_labels` is read off the first forward pass when not given.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        preprocess: Preprocess,
        kind: str | None = None,
        name: str = "",
        grid: tuple[int, int] = (14, 14),
        num_labels: int | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        if kind not in (None, "image-classifier"):
            raise ValueError(f"a plain torch module is wrapped as an image-classifier, not {kind!r}")
        self.hf = module.eval()
        self.kind = "image-classifier"
        self.name = name or type(module).__name__
        self.processor = preprocess
        self.tokenizer = None
        self.grid = tuple(grid)
        self.labels = tuple(labels) if labels is not None else None
        self._num_labels = len(self.labels) if self.labels is not None else num_labels
        self.passes = PassCounter()
        self.passes.attach(self.hf)
        self.precision = DEFAULT_DTYPE

    @property
    def num_labels(self) -> int:
        if self._num_labels is None:
            raise InputError(f"{self.name}: the class count is known after the first encode")
        return self._num_labels

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf.parameters()).dtype

    @property
    def embedding_layer(self) -> torch.nn.Module:
        raise NotApplicableError(f"{self.name} is a CNN: it has no token embeddings")

    def attention_implementation(self, name: str):
        raise NotApplicableError(f"{self.name} is a CNN: CNN has no attention to read or suppress")

    def pixels(self, image: Any) -> torch.Tensor:
        """The preprocessed image as (1, 3, h, w)."""
        pixels = torch.as_tensor(self.processor(image))
        if pixels.dim() == 3:
            pixels = pixels[None]
        if pixels.dim() != 4 or pixels.shape[:2] != (1, 3):
            shape = tuple(pixels.shape)
            raise InputError(f"preprocessing must give (3, h, w) or (1, 3, h, w) pixels, got {shape}")
        return pixels

    def encode(
        self, inputs: Any, target: int | None = None, granularity: str = DEFAULT_GRANULARITY
    ) -> Encoded:
        check_image_granularity(granularity)
        pixel_values = self.pixels(read_image(inputs))
        cell_size(tuple(pixel_values.shape[-2:]), self.grid)  # refuses a grid that does not tile
        with torch.no_grad():
            logits = self.hf(pixel_values.to(self.device, dtype=self.dtype))
        if self._num_labels is None:
            self._num_labels = int(logits.shape[-1])
        if target is None:
            target = int(logits[0].argmax())
        rows, cols = self.grid
        tokens = [f"cell[{r},{c}]" for r in range(rows) for c in range(cols)]
        return Encoded(
            input_ids=torch.arange(len(tokens)),
            tokens=tokens,
            special=np.zeros(len(tokens), dtype=bool),
            target=self._check_class(target),
            pixel_values=pixel_values,
            patch_grid=self.grid,
        )

    def batch(self, rows: Sequence[Encoded], input_ids: Sequence[torch.Tensor] | None = None) -> dict:
        pixels = torch.cat([row.pixel_values for row in rows])
        return {"pixel_values": pixels.to(self.device, dtype=self.dtype)}

    def _forward(self, inputs: dict, **hf_kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(logits=self.hf(inputs["pixel_values"]))

    def _preprocess_image(self, image: Any) -> torch.Tensor:
        return self.pixels(image)
