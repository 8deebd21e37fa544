"""The patch grid of an image: which pixels each explained cell covers.

A ViT explains one score per patch and a CNN adapter one score per grid cell; both are
(rows, cols) grids of equal cells tiling the model's input. Pixel-level methods pool their
scores into the cells, patch-level methods upsample cell scores to pixels for display and
evaluation, and metrics map pixel rationales onto cells, all through these helpers so every
stage agrees on the geometry.
"""

from __future__ import annotations

import numpy as np

from bench.errors import InputError


def cell_size(shape: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """Pixels per cell (height, width); the grid must tile the image exactly."""
    (height, width), (rows, cols) = shape, grid
    if rows <= 0 or cols <= 0 or height % rows or width % cols:
        raise InputError(f"a {rows}x{cols} grid does not tile a {height}x{width} image into equal cells")
    return height // rows, width // cols


def cell_of_pixel(shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """(H, W) array: the row-major index of the cell each pixel belongs to."""
    cell_h, cell_w = cell_size(shape, grid)
    rows = np.arange(shape[0]) // cell_h
    cols = np.arange(shape[1]) // cell_w
    return rows[:, None] * grid[1] + cols[None, :]


def pool_to_cells(pixel_scores: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Signed sum of (H, W) pixel scores within each cell, flattened row-major (rows * cols,)."""
    cell_h, cell_w = cell_size(pixel_scores.shape[-2:], grid)
    blocks = pixel_scores.reshape(grid[0], cell_h, grid[1], cell_w)
    return blocks.sum(axis=(1, 3)).reshape(-1)


def cells_to_pixels(cell_scores: np.ndarray, grid: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) image where each pixel carries its cell's score (nearest-neighbour upsampling)."""
    return np.asarray(cell_scores).reshape(-1)[cell_of_pixel(shape, grid)]
