"""The report on hand-made finished runs: files, pixel sizes, page content, clear errors."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import InputError
from bench.report import make_report, patches
from bench.report.bars import plot_bars
from bench.report.figures import DPI, new_figure, plain_log_axis
from bench.report.finished_run import load_run
from bench.report.page import provenance_section
from tests.bench.report.finished_runs import METHODS, MODEL_ACCURACY, SUMMARY_VALUES, image_run, text_run


@pytest.fixture(scope="module")
def text_report(tmp_path_factory):
    run_dir = text_run(tmp_path_factory.mktemp("text") / "run")
    return make_report(run_dir)


def _pixels(path) -> tuple[int, int]:
    image = mpimg.imread(path)
    assert image.std() > 0, f"{path} is blank"
    return image.shape[0], image.shape[1]


def test_figures_exist_as_png_and_pdf_with_the_designed_pixel_size(text_report):
    figures = text_report.parent / "figures"
    designed = {
        "curves_deletion": (2.0 + 0.5, 3 * 2.4),  # a panel per method in one row, the legend above
        "curves_insertion": (2.0 + 0.5, 3 * 2.4),
        "bars_faithfulness": (3.4, 2 * 3.6),
        "bars_plausibility": (3.4, 3.6),
    }
    for stem, (height, width) in designed.items():
        assert _pixels(figures / f"{stem}.png") == (round(height * DPI), round(width * DPI))
        assert (figures / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    for stem in ("cost", "agreement"):
        assert min(_pixels(figures / f"{stem}.png")) > 100
    assert not (figures / "replacement.png").exists()  # one replacement only: skipped, said on the page
    assert "records hold one replacement only (mask)" in text_report.read_text()


def test_page_holds_every_method_the_table_values_and_provenance(text_report):
    page = text_report.read_text()
    for method in METHODS:
        assert f"<th>{method}</th>" in page
    for mean, low, high, _, _ in SUMMARY_VALUES.values():
        assert f'<span class="mean">{mean:.3f}</span>' in page and f"{low:.3f}–{high:.3f}" in page
    assert "#1=" in page and "torch" in page and "9.9.9" in page and "Seed: <b>0</b>" in page
    assert "name = &quot;hand-made&quot;" in page  # the config, verbatim (escaped)
    assert "random: 1" in page  # the error row is counted, not hidden
    assert "<h3>Model test accuracy</h3>" in page
    assert f"<tr><th>fake-text</th><td>{100 * MODEL_ACCURACY:.1f}% on 40 test examples</td></tr>" in page


def test_a_model_without_metadata_and_a_run_before_the_accuracy_was_recorded(tmp_path):
    run = load_run(text_run(tmp_path / "run"))
    run.meta["model_test_accuracy"] = {"fake-text": None, "other-task": {"accuracy": 0.5, "n_test": 2}}
    section = provenance_section(run)
    assert "<tr><th>fake-text</th><td>unknown: the model has no metadata.json" in section
    assert "<tr><th>other-task</th><td>50.0% on 2 test examples</td></tr>" in section
    del run.meta["model_test_accuracy"]
    assert "Model test accuracy" not in provenance_section(run)


def test_embedded_figures_decode_to_the_written_pngs(text_report):
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', text_report.read_text())
    written = (text_report.parent / "figures" / "curves_deletion.png").read_bytes()
    assert written in [base64.b64decode(data) for data in embedded]


def test_token_heatmap_colours_follow_the_scores(text_report):
    page = text_report.read_text()
    run_dir = text_report.parent.parent
    records = pd.read_parquet(next((run_dir / "records").glob("part-*.parquet")))
    row = records[(records["method"] == "gae") & (records["example_id"] == "ex-0")].iloc[0]
    scores = np.asarray(row["scores"])
    peak = np.abs(scores[1:-1]).max()
    table = page.split("<h4>ex-0 · target 1</h4>")[1].split("</table>")[0]
    gae_row = [line for line in table.splitlines() if line.startswith("<tr><th>gae</th>")][0]
    alphas = [float(a) for a in re.findall(r"rgba\(\d+,\d+,\d+,([0-9.]+)\)", gae_row)]
    expected = np.round(np.abs(scores) / peak, 2)
    expected[[0, -1]] = 0.0  # special tokens are not coloured
    np.testing.assert_allclose(alphas, expected, atol=0.006)
    colours = re.findall(r"rgba\((\d+),", gae_row)
    assert [c == "214" for c in colours[1:-1]] == list(scores[1:-1] >= 0)
    assert _pixels(text_report.parent / "heatmaps" / "heatmap_00.png")[0] > 100


def test_image_run_overlays_patches_on_the_task_images(tmp_path):
    index = make_report(image_run(tmp_path / "run"))
    png = index.parent / "heatmaps" / "patches_02.png"
    assert _pixels(png) == (round(2.6 * DPI), round(2.2 * 4 * DPI))  # image + 3 methods
    assert "could not be loaded" not in index.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', index.read_text())
    assert any(mpimg.imread(io.BytesIO(base64.b64decode(d))).shape[:2] == (260, 880) for d in embedded)


def test_image_run_of_an_unknown_task_skips_the_overlay_with_a_note(tmp_path):
    run = load_run(image_run(tmp_path / "run", task="not-here"))
    images, note = patches.task_images(run, ["ex-0"])
    assert images == {} and note.startswith("images not overlaid: task 'not-here' could not be loaded")
    figure = patches.example_png(run, "ex-0", None, tmp_path, "bare")
    assert _pixels(figure.png) == (round(2.6 * DPI), round(2.2 * 3 * DPI))  # the bare grids only


def test_patch_scores_are_the_last_grid_positions_in_row_major_order(tmp_path):
    run = load_run(image_run(tmp_path / "run"))
    row = run.ok.iloc[4]
    scores = np.asarray(row["scores"])
    expected = np.array([[scores[1], scores[2], scores[3]], [scores[4], scores[5], scores[6]]])
    np.testing.assert_allclose(patches.patch_scores(row), expected / np.abs(scores[1:]).max())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: __import__("shutil").rmtree(d), "no run directory"),
        (lambda d: (d / "config.toml").unlink(), "has no config.toml"),
        (lambda d: (d / "config.toml").write_text("task = ["), "is not valid TOML"),
        (lambda d: next((d / "records").glob("*.parquet")).write_bytes(b"not parquet"), "is corrupt"),
        (lambda d: [p.unlink() for p in (d / "records").glob("*.parquet")], "has no records"),
    ],
)
def test_broken_run_directories_are_named_in_the_error(tmp_path, damage, message):
    run_dir = text_run(tmp_path / "run")
    damage(run_dir)
    with pytest.raises(InputError, match=message):
        make_report(run_dir)


@pytest.mark.parametrize(
    "damage",
    [lambda d: (d / "summary.csv").write_text("a,b\n1,2\n"), lambda d: (d / "summary.csv").unlink()],
)
def test_a_missing_or_broken_summary_is_recomputed_from_the_records(tmp_path, damage):
    from bench.report.finished_run import load_run

    run_dir = text_run(tmp_path / "run")
    damage(run_dir)
    run = load_run(run_dir)
    config, records = run.config, run.records
    from bench.protocol import metric_keys
    from bench.stats import summarize

    expected = summarize(records, metric_keys(config["metrics"], ["xai-bench"]), seed=config.get("seed", 0))
    pd.testing.assert_frame_equal(run.summary.reset_index(drop=True), expected.reset_index(drop=True))
    assert make_report(run_dir).exists()


def test_cli_prints_where_the_report_is(text_report, tmp_path, capsys):
    run_dir = text_report.parent.parent
    assert main(["report", str(run_dir)]) == 0
    assert f"report: {run_dir / 'report'}/" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no run directory at" in capsys.readouterr().err


def test_a_run_with_a_metric_this_version_no_longer_has_is_still_reported(tmp_path):
    """Old folders stay readable: a retired metric (e.g. the old token-overlap `iou`) is shown
    with its recorded values, not refused."""
    run_dir = text_run(tmp_path / "run")
    config = (run_dir / "config.toml").read_text()
    (run_dir / "config.toml").write_text(config.replace("metrics = [", 'metrics = ["retired", '))
    summary = pd.read_csv(run_dir / "summary.csv")
    retired = summary[summary["metric"] == summary["metric"].iloc[0]].assign(metric="retired", mean=0.123)
    pd.concat([summary, retired]).to_csv(run_dir / "summary.csv", index=False)
    page = make_report(run_dir).read_text()
    assert "retired" in page and "0.123" in page


def test_the_embedded_config_names_no_absolute_path(tmp_path):
    run_dir = text_run(tmp_path / "run")
    config = run_dir / "config.toml"
    config.write_text(config.read_text() + f'out = "{run_dir}"\ndata = "{tmp_path / "data"}"\n')
    page = make_report(run_dir).read_text()
    assert str(tmp_path) not in page
    assert "out = &quot;.&quot;" in page and "data = &quot;../data&quot;" in page


def test_many_metrics_are_drawn_in_rows_of_four_panels(tmp_path):
    run_dir = text_run(tmp_path / "run")
    summary = pd.read_csv(run_dir / "summary.csv")
    deletion = summary[summary["metric"] == "deletion"]
    extra = [deletion.assign(metric=m) for m in ("aopc", "comprehensiveness", "sufficiency")]
    pd.concat([summary, *extra]).to_csv(run_dir / "summary.csv", index=False)
    figure = plot_bars(load_run(run_dir), tmp_path / "figures", "faithfulness")
    assert _pixels(figure.png) == (round(2 * 3.4 * DPI), round(4 * 3.6 * DPI))  # 5 panels: 4 + 1


def test_log_axes_are_labelled_with_plain_numbers():
    figure = new_figure(4, 3)
    ax = figure.subplots()
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 20)
    plain_log_axis(ax.xaxis)
    figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels() if 1e-3 <= t.get_position()[0] <= 20] == [
        "0.001",
        "0.01",
        "0.1",
        "1",
        "10",
    ]
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
