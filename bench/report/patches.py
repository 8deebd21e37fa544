"""Patch heatmaps over the images of a vision task: each method's scores on the patch grid,
upsampled onto the image (red supports the class, blue opposes it).

The records hold scores and patch_grid but not the pixels, so the images are re-made from the
task (config task/data/seed/split/n, no model needed). When the task cannot be loaded here,
the overlay is skipped with the reason and the bare patch grids are drawn instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.report.figures import FigureFile, new_figure, save
from bench.report.finished_run import FinishedRun
from bench.report.heatmaps import example_rows, normalised

PANEL = 2.2


def task_images(run: FinishedRun, example_ids: list[str]) -> tuple[dict[str, np.ndarray], str]:
    """Images by example id from the run's image tasks, and a note ('' when every image was found)."""
    import importlib

    from bench.registry import TASKS

    config = run.config
    names = config["task"] if isinstance(config["task"], list) else [config["task"]]
    data = config.get("data")
    images: dict[str, np.ndarray] = {}
    try:
        for module in config.get("plugins", []):
            importlib.import_module(module)
        for name in names:
            task_class = TASKS.get(name)
            if task_class.modality != "image":
                continue
            path = data.get(name) if isinstance(data, dict) else data
            task = task_class(data=path, seed=int(config.get("seed", 0)))
            examples = task.examples(config.get("split", "test"), config.get("n"))
            images.update({e.id: np.asarray(e.inputs) for e in examples if e.id in set(example_ids)})
    except Exception as error:  # noqa: BLE001 - any failure only costs the overlay, said on the page
        return {}, f"images not overlaid: task {config.get('task')!r} could not be loaded here ({error})"
    missing = set(example_ids) - set(images)
    return images, f"no image found for {len(missing)} examples" if missing else ""


def patch_scores(row: Any) -> np.ndarray:
    """The (rows, cols) patch scores: the last rows*cols explained positions ([CLS] comes first)."""
    rows, cols = (int(v) for v in row["patch_grid"])
    return normalised(row)[-rows * cols :].reshape(rows, cols)


def draw_overlay(ax: Any, grid: np.ndarray, image: np.ndarray | None) -> None:
    """Normalised patch scores on their grid, stretched over the image when there is one."""
    if image is None:
        ax.imshow(grid, cmap="bwr", vmin=-1, vmax=1, interpolation="nearest")
        return
    height, width = image.shape[:2]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.imshow(
        grid,
        cmap="bwr",
        vmin=-1,
        vmax=1,
        alpha=0.55,
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
        interpolation="nearest",
    )


def example_png(
    run: FinishedRun, example_id: str, image: np.ndarray | None, out_dir: Path, stem: str
) -> FigureFile:
    """The image, then one overlay per method."""
    rows = example_rows(run, example_id)
    panels = len(rows) + (image is not None)
    figure = new_figure(PANEL * panels, PANEL + 0.4)
    axes = np.atleast_1d(figure.subplots(1, panels))
    if image is not None:
        axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None)
        axes[0].set_title(f"target {rows.iloc[0]['target']}", fontsize=8)
    for ax, (method, row) in zip(axes[panels - len(rows) :], rows.iterrows(), strict=True):
        draw_overlay(ax, patch_scores(row), image)
        ax.set_title(method, fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return save(figure, out_dir, stem, example_id, pdf=False)
