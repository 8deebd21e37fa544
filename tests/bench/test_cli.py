import json
import subprocess
import sys

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.errors import InputError


@pytest.fixture
def model_dir(bert, tmp_path):
    bert.hf.save_pretrained(tmp_path)
    bert.tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_list_shows_methods_with_modalities(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in bench.list_methods():
        assert name in out
    assert "modalities: image,text" in out
    from bench.registry import METRICS, PROTOCOLS

    lines = out.splitlines()
    for name, metric in METRICS.items():
        line = next(line for line in lines if line.split()[:1] == [name])
        assert metric.family in line and ("higher" if metric.higher_is_better else "lower") in line
    assert set(PROTOCOLS.names()) == {"eraser", "ferret", "xai-bench"}
    from bench.suites import SUITES

    for name, tasks in SUITES.items():
        assert any(line.split() == [name, *(f"{t}," for t in tasks[:-1]), tasks[-1]] for line in lines)
    assert all(any(line.split()[:1] == [name] for line in lines) for name in PROTOCOLS.names())


def test_run_refuses_an_unknown_protocol_or_family_with_exit_code_2(tmp_path, capsys):
    assert main(["run", "--protocol", "erasr", "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "unknown protocol 'erasr'" in capsys.readouterr().err
    assert main(["run", "--families", "+robust", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "unknown metric family 'robust'" in capsys.readouterr().err


def test_explain_json_matches_api(model_dir, capsys):
    assert (
        main(
            [
                "explain",
                "--model",
                str(model_dir),
                "--method",
                "atman",
                "--json",
                "--target",
                "1",
                "free cash",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    expected = bench.explain("atman", bench.load_model(model_dir), "free cash", target=1)
    assert payload["tokens"] == expected.tokens
    assert payload["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)


def test_explain_table_and_module_entry_point(model_dir):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "explain", "--model", str(model_dir), "free cash"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "free" in result.stdout and "cost:" in result.stdout


def test_bad_input_is_a_clear_error(model_dir, capsys):
    assert main(["explain", "--model", str(model_dir), "--method", "nope", "free"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["explain", "--model", str(model_dir), ""]) == 2
    assert "empty" in capsys.readouterr().err


def test_explain_a_task_example(model_dir, capsys):
    from tasks.spam import Spam

    argv = [
        "explain",
        "--task",
        "spam",
        "--index",
        "3",
        "--model",
        str(model_dir),
        "--method",
        "atman",
        "--json",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    example = Spam().examples("test", 4)[3]
    expected = bench.explain("atman", bench.load_model(model_dir), example.inputs, target=example.target)
    assert payload["target"] == example.target == 1
    assert payload["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)
    assert "spam-test-3" in captured.err
    assert main(["explain", "--task", "spam", "--index", "500", "--model", str(model_dir)]) == 2
    assert "--index 500 is out of range" in capsys.readouterr().err
    assert main(["explain", "--method", "atman"]) == 2
    assert "give a text and --model, or --task" in capsys.readouterr().err


@pytest.mark.parametrize("named", [True, False], ids=["data-and-unit-named", "task-defaults"])
def test_explain_a_task_example_as_the_task_fits_it_to_the_model(model_dir, capsys, monkeypatch, named):
    from bench import task as task_module
    from tasks.movies import Movies
    from tests.data import shared_data

    data = shared_data("movie_rationales")
    # unnamed: the task's offline copy (as runs read it) and its own unit, sentences
    monkeypatch.setattr(task_module, "SHARED_DATA", data.parent)
    chosen = ["--data", str(data), "--granularity", "sentence"] if named else []
    argv = ["explain", "--task", "movies", *chosen, "--index", "4", "--model", str(model_dir),
            "--method", "random", "--json"]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    model, task = bench.load_model(model_dir), Movies(data=data)
    review = task.examples("test", 5)[4]
    with pytest.raises(InputError, match="accepts at most 64"):
        model.encode(review.inputs)  # the whole review is too long for the tiny BERT
    (fitted,) = task.fit([review], model)
    expected = model.encode(fitted.inputs, review.target, granularity="sentence")
    assert payload["tokens"] == expected.units.texts and len(payload["tokens"]) == 2 + 3  # 3 sentences


def test_explain_prints_tokens_that_look_like_markup(bert, tmp_path, capsys):
    bert.tokenizer.add_tokens(["[/INST]", "x[/bold]y"])
    bert.hf.resize_token_embeddings(len(bert.tokenizer))
    bert.hf.save_pretrained(tmp_path)
    bert.tokenizer.save_pretrained(tmp_path)
    assert main(["explain", "--model", str(tmp_path), "--method", "random", "[/INST] free x[/bold]y"]) == 0
    out = capsys.readouterr().out
    assert "[/inst]" in out and "x[/bold]y" in out  # the uncased tokenizer lowercases it


def test_explain_target_is_a_class_index_or_label_and_otherwise_one_line(model_dir, capsys):
    assert main(["explain", "--model", str(model_dir), "--method", "random", "--target", "spam", "free"]) == 2
    assert "--target 'spam' is neither a class index nor a label" in capsys.readouterr().err
    assert (
        main(["explain", "--model", str(model_dir), "--method", "random", "--target", "LABEL_1", "free"]) == 0
    )


@pytest.fixture
def unregisters_fake_task():
    """The test imports the fake task's plugin module: after it, forget the module and whatever it
    registered, so the next import registers them again (unless it was imported before)."""
    import sys

    from bench.registry import METHODS, TASKS

    imported = "tests.bench.fake_task" in sys.modules
    tasks, methods = set(TASKS.names()), set(METHODS.names())
    yield
    if not imported:
        for name in set(TASKS.names()) - tasks:
            TASKS._entries.pop(name)
        for name in set(METHODS.names()) - methods:
            METHODS._entries.pop(name)
        sys.modules.pop("tests.bench.fake_task", None)


def test_plugins_named_by_a_config_file_need_consent(tmp_path, capsys, unregisters_fake_task):
    config = tmp_path / "theirs.toml"
    settings = 'task = "fake-spam"\nmethods = ["random"]\nmetrics = ["deletion"]\nn = 2\nquiet = true\n'
    config.write_text(f'plugins = ["tests.bench.fake_task"]\n{settings}out = "{tmp_path / "run"}"\n')
    assert main(["run", "--config", str(config)]) == 2
    assert "imports the plugin modules tests.bench.fake_task" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main(["run", "--config", str(config), "--allow-plugins", "--no-report"]) == 0
    assert "importing plugin modules: tests.bench.fake_task" in capsys.readouterr().err


def test_run_writes_the_report_and_prints_its_path_unless_told_not_to(
    tmp_path, capsys, unregisters_fake_task
):
    out = tmp_path / "run"
    flags = ["--plugins", "tests.bench.fake_task", "--task", "fake-spam", "--methods", "random,occlusion"]
    flags += ["--metrics", "deletion,map", "--n", "2", "--out", str(out), "--quiet"]
    assert main(["run", *flags, "--no-report"]) == 0
    assert (out / "summary.csv").exists() and not (out / "report").exists()
    assert "report:" not in capsys.readouterr().out
    assert main(["run", *flags]) == 0  # resumes the finished run: nothing to compute, then the report
    index = out / "report" / "index.html"
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {index}"
    page = index.read_text()
    assert all(f'<td class="method" data-value="{m}">' in page for m in ("random", "occlusion"))


def test_transformers_load_reports_and_bars_stay_off_the_terminal_unless_verbose(bert, tmp_path):
    """A folder with an encoder but no classification head: transformers reports the missing
    head and draws its loading bar; the CLI shows both only with --verbose."""
    bert.hf.bert.save_pretrained(tmp_path)  # the encoder alone: the head will be missing
    bert.tokenizer.save_pretrained(tmp_path)
    command = [sys.executable, "-m", "bench", "explain", "--model", str(tmp_path), "--kind", "classifier",
               "--method", "occlusion", "free prize now"]  # fmt: skip
    quiet = subprocess.run(command, capture_output=True, text=True, check=True)
    verbose = [*command[:3], "--verbose", *command[3:]]
    loud = subprocess.run(verbose, capture_output=True, text=True, check=True)
    assert "Loading weights" in loud.stderr and "MISSING" in loud.stderr
    assert "Loading weights" not in quiet.stderr and "MISSING" not in quiet.stderr
    assert "occlusion on" in quiet.stdout


@pytest.fixture
def vit_dir(vit, tmp_path):
    vit.hf.save_pretrained(tmp_path / "vit")
    vit.processor.save_pretrained(tmp_path / "vit")
    return tmp_path / "vit"


@pytest.fixture
def gpt2_dir(gpt2, tmp_path):
    """tiny_gpt2 whose end token is "prize": it generates "call msg me" after "free cash now"."""
    gpt2.hf.generation_config.eos_token_id = gpt2.tokenizer.convert_tokens_to_ids("prize")
    gpt2.hf.save_pretrained(tmp_path / "gpt2")
    gpt2.tokenizer.save_pretrained(tmp_path / "gpt2")
    return tmp_path / "gpt2"


def image_file(tmp_path):
    from PIL import Image

    from tests.tiny import tiny_image

    path = tmp_path / "photo.png"
    Image.fromarray(tiny_image()).save(path)
    return path


def colour_fraction(png_path) -> float:
    """The share of clearly coloured (not grey) pixels of a PNG."""
    from PIL import Image

    pixels = np.asarray(Image.open(png_path).convert("RGB")).astype(int)
    return float(np.mean(pixels.max(-1) - pixels.min(-1) > 60))


def test_explain_an_image_file_and_draw_it(vit, vit_dir, tmp_path, capsys):
    from tests.tiny import tiny_image

    image = image_file(tmp_path)
    argv = ["explain", "--model", str(vit_dir), "--method", "atman", "--json", str(image)]
    assert main([*argv, "--png", str(tmp_path / "a.png"), "--html", str(tmp_path / "a.html")]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = bench.explain("atman", vit, tiny_image())
    assert payload["tokens"] == expected.tokens and payload["target"] == expected.target
    assert payload["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)
    assert colour_fraction(tmp_path / "a.png") > 0.05
    page = (tmp_path / "a.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1 and "atman · target" in page


def test_explain_a_generation_per_token_and_draw_it(gpt2, gpt2_dir, tmp_path, capsys):
    argv = ["explain", "--model", str(gpt2_dir), "--method", "atman", "--per-token", "free cash now"]
    html_file, png_file = tmp_path / "g.html", tmp_path / "g.png"
    assert main([*argv, "--json", "--html", str(html_file), "--png", str(png_file)]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = bench.explain("atman", gpt2, "free cash now", per_token=True)
    assert payload["target"] == expected.target == "call msg me"
    assert payload["target_tokens"] == ["call", "msg", "me"]
    np.testing.assert_allclose(payload["per_token_scores"], expected.per_token_scores, atol=1e-6)
    np.testing.assert_allclose(payload["scores"], expected.scores, atol=1e-6)
    page = html_file.read_text()
    assert page.count("<tr>") == 4  # the whole target, then one row per generated token
    for label in ("atman (whole target)", "0: call", "1: msg", "2: me", ">free<", ">cash<", ">now<"):
        assert label in page
    assert colour_fraction(png_file) > 0.05
    assert main([*argv, "--max-new-tokens", "2"]) == 0
    out = capsys.readouterr().out
    assert "target: 'call msg'" in out and "per generated token" in out
    assert main(["explain", "--model", str(gpt2_dir), "--method", "saliency", "--json", "free cash now"]) == 0
    assert json.loads(capsys.readouterr().out)["per_token_scores"] is None


def test_bad_inputs_are_one_line_errors_with_exit_code_2(model_dir, vit_dir, gpt2_dir, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    image = image_file(tmp_path)
    cases = [
        ([str(model_dir), str(image)], f"{image} is an image file but"),
        ([str(gpt2_dir), str(image)], "is a text model (causal-lm)"),
        ([str(vit_dir), "a photo of a cat"], "'a photo of a cat' is no image file"),
        ([str(vit_dir), str(notes)], f"cannot read {notes} as an image"),
        ([str(model_dir), "--per-token", "free cash"], "per_token explains each target token of a causal LM"),
        ([str(vit_dir), "--per-token", str(image)], "per_token explains each target token of a causal LM"),
        ([str(gpt2_dir), "--max-new-tokens", "0", "free"], "max_new_tokens=0 must be an integer >= 1"),
    ]
    for args, message in cases:
        assert main(["explain", "--method", "atman", "--model", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("flag", [["--granularity", "word"], ["--param", "granularity=word"]])
def test_explain_at_word_granularity_prints_words(flag, tmp_path, capsys):
    from tests.tiny import tiny_bert

    model = tiny_bert(pieces=True)
    model.hf.save_pretrained(tmp_path)
    model.tokenizer.save_pretrained(tmp_path)
    text = "free prizes call the winners"
    args = [
        "explain",
        "--model",
        str(tmp_path),
        "--method",
        "occlusion",
        "--json",
        "--target",
        "1",
        *flag,
        text,
    ]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = bench.explain("occlusion", bench.load_model(tmp_path), text, target=1, granularity="word")
    assert payload["granularity"] == "word"
    assert (
        payload["tokens"] == ["[CLS]", "free", "prizes", "call", "the", "winners", "[SEP]"] == expected.tokens
    )
    assert payload["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)
    assert main(["explain", "--model", str(tmp_path), "--param", "granularity=phrase", text]) == 2
    assert "granularity='phrase' is not one of token, word, sentence" in capsys.readouterr().err
