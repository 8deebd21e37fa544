"""index.html: one self-contained page per run (figures embedded as base64 PNG, PDFs and
heatmap PNGs linked relative to DIR/report/): the ranked summary table, then token or patch
heatmaps for the first examples in a scrolling box (so the first screen shows both), the
figures, and what is needed to reproduce the run (config, library versions, seed)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from bench.precision import DEFAULT_DTYPE
from bench.protocol import metric_keys
from bench.report import heatmaps, patches, summary_table
from bench.report.agreement import plot_agreement
from bench.report.bars import plot_bars
from bench.report.cost import plot_cost
from bench.report.critical_difference import plot_critical_difference, ranking_notes
from bench.report.curves import plot_curves
from bench.report.figures import FigureFile, Skipped
from bench.report.finished_run import FinishedRun, load_run
from bench.report.protocols import plot_protocols
from bench.report.replacement import plot_replacement
from bench.run_folder import MODEL_ACCURACY
from bench.summary import footnotes

HEATMAP_EXAMPLES = 20
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1em; max-width: 1330px; color: #222; }
h1 { font-size: 1.5em; margin: 0 0 0.3em; } h2 { font-size: 1.25em; margin: 0.8em 0 0.3em; }
h3 { font-size: 1em; margin: 0.5em 0 0.2em; }
p.facts { font-size: 0.85em; margin: 0 0 0.5em; color: #444; }
p.legend { font-size: 0.8em; margin: 0.3em 0 0.8em; color: #444; }
table.summary { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1em; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
table.heatmap th { text-align: right; vertical-align: top; padding-right: 8px; font-size: 0.8em; }
td.tokens { font-family: monospace; font-size: 0.8em; line-height: 1.8; }
.word { white-space: pre; }
.tok { padding: 1px 1px; }
.tok.piece { border-left: 1px solid rgba(0, 0, 0, 0.35); }
.tok.special { color: #999; }
.tok.gold { text-decoration: underline 2px #2a2; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
div.heatmaps { max-height: 700px; overflow-y: auto; border: 1px solid #ddd; padding: 0 0.8em; }
.note { color: #865; font-style: italic; }
pre { background: #f6f6f6; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
"""


def _embedded(figure: FigureFile, root: Path) -> str:
    data = base64.b64encode(figure.png.read_bytes()).decode()
    links = f' · <a href="{figure.pdf.relative_to(root)}">PDF</a>' if figure.pdf else ""
    return (
        f'<figure><img alt="{html.escape(figure.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(figure.caption)}{links}</figcaption></figure>"
    )


def _figure_section(item: FigureFile | Skipped, root: Path) -> str:
    body = (
        _embedded(item, root)
        if isinstance(item, FigureFile)
        else f'<p class="note">Skipped: {html.escape(item.reason)}</p>'
    )
    return f"<h3>{html.escape(item.title)}</h3>\n{body}"


def summary_section(run: FinishedRun) -> str:
    metrics = list(dict.fromkeys(run.summary["metric"]))
    if run.config.get("metrics"):
        metrics = metric_keys(run.config["metrics"], run.protocols)
    parts = []
    for (task, model), group in run.summary.groupby(["task", "model"], sort=True):
        parts.append(f"<h3>{html.escape(f'{task} / {model}')}</h3>")
        parts.append(summary_table.summary_table(group, metrics))
    parts.append(
        "<p class=\"legend\">Cells: mean #rank, the 95% bootstrap CI under it; '=' marks a tie with another "
        "method (paired Wilcoxon, Holm-corrected, p ≥ 0.05); green: rank 1. ↑ higher is better, ↓ lower is "
        "better; cost: means per example. Click a column's header to sort by it, best first (▼); again: "
        "worst first (▲).</p>"
    )
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in footnotes(run.summary)]
    errors = run.records[run.records["error"].notna()]
    if len(errors):
        counts = errors.groupby("method").size()
        listed = ", ".join(f"{m}: {c}" for m, c in counts.items())
        parts.append(f'<p class="note">Error rows (left out of every statistic): {html.escape(listed)}</p>')
    return "\n".join(parts)


def heatmap_section(run: FinishedRun, out_dir: Path, root: Path) -> str:
    ids = heatmaps.first_examples(run, HEATMAP_EXAMPLES)
    if not ids:
        return '<p class="note">No example was explained without error.</p>'
    is_image = run.ok["patch_grid"].notna().any() if "patch_grid" in run.ok else False
    parts = []
    if is_image:
        images, note = patches.task_images(run, ids)
        if note:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        for i, example_id in enumerate(ids):
            figure = patches.example_png(run, example_id, images.get(example_id), out_dir, f"patches_{i:02d}")
            parts.append(_embedded(figure, root))
        return "\n".join(parts)
    parts.append(
        "<p>Red supports the target, blue opposes it; each method is scaled by its own largest "
        "|score| on the example; underlined tokens are the ground-truth rationale.</p>"
    )
    for i, example_id in enumerate(ids):
        figure = heatmaps.example_png(run, example_id, out_dir, f"heatmap_{i:02d}")
        parts.append(heatmaps.example_html(run, example_id))
        parts.append(f'<p><a href="{figure.png.relative_to(root)}">PNG version</a></p>')
    return "\n".join(parts)


def portable_config(run: FinishedRun) -> str:
    """config.toml with local paths relative to the run folder: the page names no folder of the
    machine that made it."""
    import os

    import tomli_w

    config = dict(run.config)
    for key in ("out", "data", "model"):
        value = config.get(key)
        if isinstance(value, str) and os.path.isabs(value):
            config[key] = os.path.relpath(value, run.path.resolve())
    return tomli_w.dumps(config)


def _table_rows(values: dict) -> str:
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in values.items()
    )


def model_accuracy_table(run: FinishedRun) -> str:
    """The explained model's test accuracy per task, as meta.json recorded it from the model's
    metadata.json: explanations of a model that is often wrong say little about the task."""
    recorded = run.meta.get(MODEL_ACCURACY) or {}
    cells = {
        task: "unknown: the model has no metadata.json for this task (e.g. a model given by path)"
        if value is None
        else f"{value['accuracy']:.1%} on {value['n_test']} test examples"
        for task, value in recorded.items()
    }
    rows = _table_rows(cells)
    return f'<h3>Model test accuracy</h3><table class="summary">{rows}</table>' if rows else ""


def provenance_section(run: FinishedRun) -> str:
    versions = run.meta.get("versions", {})
    rows = _table_rows(versions)
    facts = {k: run.meta.get(k) for k in ("started", "platform", "config_hash") if run.meta.get(k)}
    listed = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in facts.items())
    return (
        f"<p>Seed: <b>{run.seed}</b></p><ul>{listed}</ul>{model_accuracy_table(run)}"
        f'<h3>Library versions</h3><table class="summary">{rows}</table>'
        f"<h3>Run config (config.toml)</h3><pre>{html.escape(portable_config(run))}</pre>"
    )


def make_report(run_dir: str | Path) -> Path:
    """Write DIR/report/ (figures as PNG + PDF, heatmaps, index.html); returns index.html's path."""
    run = load_run(run_dir)
    root = run.path / "report"
    figures_dir, heatmaps_dir = root / "figures", root / "heatmaps"
    figures = [
        plot_curves(run, figures_dir, "deletion"),
        plot_curves(run, figures_dir, "insertion"),
        plot_bars(run, figures_dir, "faithfulness"),
        plot_bars(run, figures_dir, "plausibility"),
        plot_cost(run, figures_dir),
        plot_agreement(run, figures_dir),
        plot_replacement(run, figures_dir),
        plot_protocols(run, figures_dir),
    ]
    title = f"xai-bench report: {run.config.get('name') or run.path.name}"
    tasks = ", ".join(sorted(set(run.records["task"])))
    models = ", ".join(sorted(set(run.records["model"])))
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="facts">Task: <b>{html.escape(tasks)}</b>'
        f" · model: <b>{html.escape(models)}</b> · "
        f"{run.records['example_id'].nunique()} examples · methods: {html.escape(', '.join(run.methods))} · "
        f"seed {run.seed} · dtype {html.escape(str(run.config.get('dtype', DEFAULT_DTYPE)))} · "
        f"protocols: {html.escape(', '.join(run.protocols))}</p>",
        "<h2>Summary</h2>",
        summary_section(run),
        f"<h2>Heatmaps (first {HEATMAP_EXAMPLES} examples; scroll inside the box)</h2>",
        f'<div class="heatmaps">{heatmap_section(run, heatmaps_dir, root)}</div>',
        '<section id="cd-diagram"><h2>Rankings across examples and tasks</h2>',
        *(f"<p>{html.escape(line)}</p>" for line in ranking_notes(run)),
        *(_figure_section(item, root) for item in plot_critical_difference(run, figures_dir)),
        "</section>",
        "<h2>Figures</h2>",
        *(_figure_section(item, root) for item in figures),
        "<h2>Reproducibility</h2>",
        provenance_section(run),
    ]
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}{summary_table.STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{summary_table.SCRIPT}</script>\n</body></html>\n"
    )
    root.mkdir(parents=True, exist_ok=True)  # no figure may have made it (every row an error)
    index = root / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
