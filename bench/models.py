"""Model adapters: everything model-specific, so methods and metrics stay model-agnostic.

A `Model` wraps one HF model and its tokenizer (or image processor). It turns inputs into an
`Encoded` (ids, tokens, special-token mask, target), scores a batch of input variants by the
target's log-probability, exposes the embedding layer for gradient methods, and switches the
attention implementation for methods that read or change attention.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForCausalLM,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from bench.cost import PassCounter
from bench.errors import InputError, NotApplicableError
from bench.precision import DEFAULT_DTYPE, check_dtype, set_dtype
from bench.units import DEFAULT_GRANULARITY, Units, check_granularity, text_units, token_units

KINDS = ("classifier", "causal-lm", "image-classifier")
DEFAULT_MAX_NEW_TOKENS = 20
"""How many tokens a causal LM generates, greedily, when it is explained without a target."""
TARGET_OUTPUTS = ("logit", "logprob")
"""What gradient methods differentiate: the target's pre-softmax logit, or its log-probability."""
_AUTO_CLASSES = {
    "classifier": AutoModelForSequenceClassification,
    "causal-lm": AutoModelForCausalLM,
    "image-classifier": AutoModelForImageClassification,
}


@dataclass
class Encoded:
    """One input ready for the model.

    `input_ids` is the whole sequence the model reads (for a causal LM: prompt, then target; for
    one token of a generation, `target_token`, the tokens generated before it in between).
    `tokens` and `special` cover the explained positions only: every input token of a
    classifier (special ones included), the prompt of a causal LM, [CLS] and the patches of a ViT.
    """

    input_ids: torch.Tensor
    tokens: list[str]
    special: np.ndarray
    target: int | str
    target_ids: torch.Tensor | None = None
    pixel_values: torch.Tensor | None = None
    patch_grid: tuple[int, int] | None = None
    offsets: list[tuple[int, int]] | None = None
    """Character span of each explained text token in the input ((0, 0) for special tokens)."""
    text: str | None = None
    """The input text, for methods that tokenise it themselves (shap's Text masker)."""
    units: Units | None = None
    """What methods score and metrics remove (bench/units.py); None means one unit per position."""

    def __post_init__(self) -> None:
        if self.units is None:
            self.units = token_units(self.tokens, self.special)

    @property
    def n_positions(self) -> int:
        return len(self.tokens)

    @property
    def target_start(self) -> int:
        """Sequence position of a causal LM's first target token: right after the prompt, or,
        for one token of a generation (`target_token`), after the tokens generated before it."""
        return len(self.input_ids) - len(self.target_ids)

    def target_token(self, t: int) -> Encoded:
        """Target token t alone, teacher-forced: the model reads the prompt and the target's
        tokens before t (neither explained nor scored), and t is the whole target."""
        end = self.target_start + t + 1
        return replace(self, input_ids=self.input_ids[:end], target_ids=self.target_ids[t : t + 1])

    def token_mask(self, spans: list[tuple[int, int]]) -> np.ndarray:
        """0/1 per explained token: 1 where the token's characters overlap any of `spans`,
        e.g. a human rationale given as character spans of the input text."""
        if self.offsets is None:
            raise ValueError("character spans map onto text tokens only")
        mask = np.zeros(self.n_positions, dtype=np.int8)
        for i, (start, end) in enumerate(self.offsets):
            if end > start and not self.special[i]:
                mask[i] = any(start < span_end and span_start < end for span_start, span_end in spans)
        return mask


def check_image_granularity(granularity: str) -> None:
    """Images explain patches (or grid cells): their token granularity is the only one."""
    if granularity != DEFAULT_GRANULARITY:
        raise InputError(f"granularity={granularity!r} applies to text; images explain patches (token)")


def check_max_new_tokens(max_new_tokens: Any) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise InputError(f"max_new_tokens={max_new_tokens!r} must be an integer >= 1")


def read_image(image: Any) -> Any:
    """An image model's input as a PIL image or an array: a file is read here into an (H, W, 3)
    RGB array, so a text, a missing or a non-image file fails with one line naming it."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, str | os.PathLike):
        path = Path(image).expanduser()
        if not path.is_file():
            shown = str(image) if len(str(image)) <= 60 else str(image)[:57] + "..."
            raise InputError(
                f"an image model explains an image (a file, a PIL image or an (H, W, C) array); "
                f"{shown!r} is no image file"
            )
        try:
            with Image.open(path) as opened:
                return np.array(opened.convert("RGB"))
        except (UnidentifiedImageError, OSError) as error:
            raise InputError(f"cannot read {path} as an image: {error}") from error
    if isinstance(image, np.ndarray) and image.ndim in (2, 3) and min(image.shape[:2]) > 0:
        return image
    shape = f" of shape {image.shape}" if isinstance(image, np.ndarray) else ""
    raise InputError(
        "an image model explains an image (a file, a PIL image or an (H, W, C) array); "
        f"got {type(image).__name__}{shape}"
    )


def infer_kind(config: Any, class_name: str = "") -> str:
    """The adapter kind from the model class or its config's architectures."""
    architectures = " ".join([class_name, *(getattr(config, "architectures", None) or [])])
    if "CausalLM" in architectures or "LMHead" in architectures:
        return "causal-lm"
    if "ImageClassification" in architectures or getattr(config, "model_type", "") in ("vit", "deit"):
        return "image-classifier"
    return "classifier"


class Model:
    """Adapter around one HF model. Build it with `bench.wrap` or `bench.load_model`."""

    def __init__(self, hf_model: PreTrainedModel, processor: Any, kind: str | None = None, name: str = ""):
        kind = kind or infer_kind(hf_model.config, type(hf_model).__name__)
        if kind not in KINDS:
            raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.hf = hf_model.eval()
        self.kind = kind
        self.name = name or getattr(hf_model.config, "name_or_path", "") or type(hf_model).__name__
        self.processor = processor
        self.tokenizer = None if kind == "image-classifier" else processor
        self.folder: Path | None = None
        """The local folder the weights came from (`load_model`), None for a model built in memory."""
        self.passes = PassCounter()
        self.passes.attach(self.hf)
        self.precision = DEFAULT_DTYPE
        """The dtype setting of its passes (`set_dtype`, bench/precision.py)."""

    def set_dtype(self, dtype: str) -> Model:
        """Run the model's passes in `dtype` (float32 | bfloat16 | mixed: bench/precision.py)."""
        if dtype != self.precision:
            if self.precision != DEFAULT_DTYPE:
                raise InputError(f"{self.name} already runs in {self.precision}; load it again for {dtype}")
            set_dtype(self.hf, dtype)
            self.precision = dtype
        return self

    # ----- facts about the model -------------------------------------------------------
    @functools.cached_property
    def _accepts_logits_to_keep(self) -> bool:
        return "logits_to_keep" in inspect.signature(self.hf.forward).parameters

    @property
    def device(self) -> torch.device:
        return next(self.hf.parameters()).device

    @property
    def modality(self) -> str:
        return "image" if self.kind == "image-classifier" else "text"

    @property
    def max_length(self) -> int:
        limits = [getattr(self.hf.config, "max_position_embeddings", None)]
        if self.tokenizer is not None:
            limits.append(getattr(self.tokenizer, "model_max_length", None))
        limits = [limit for limit in limits if isinstance(limit, int) and 0 < limit < 10**7]
        return min(limits) if limits else 10**6

    @property
    def num_labels(self) -> int:
        return int(self.hf.config.num_labels)

    @property
    def baseline_token_id(self) -> int:
        """The token that stands for 'removed': mask, else pad, else unk."""
        for name in ("mask_token_id", "pad_token_id", "unk_token_id"):
            token_id = getattr(self.tokenizer, name, None)
            if token_id is not None:
                return int(token_id)
        raise NotApplicableError(f"tokenizer of {self.name} has no mask, pad or unk token")

    @property
    def embedding_layer(self) -> torch.nn.Module:
        return self.hf.get_input_embeddings()

    # ----- inputs ----------------------------------------------------------------------
    def encode(
        self,
        inputs: Any,
        target: int | str | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        granularity: str = DEFAULT_GRANULARITY,
    ) -> Encoded:
        """`inputs` ready for the model, with its units at `granularity` (bench/units.py). A
        causal LM without a target generates one greedily, up to `max_new_tokens` or its
        end-of-sequence token (not part of the target), and explains that generation: the
        generated ids are its target ids, their text its target."""
        if self.kind == "image-classifier":
            check_image_granularity(granularity)
            return self._encode_image(read_image(inputs), target)
        check_granularity(granularity)
        if not isinstance(inputs, str):
            raise InputError(
                f"{self.name} is a text model ({self.kind}): it explains a str; got {type(inputs).__name__}"
            )
        if not inputs.strip():
            raise InputError("input text is empty: there is nothing to explain")
        encoding = self.tokenizer(inputs, add_special_tokens=True, return_offsets_mapping=True)
        prompt_ids = encoding["input_ids"]
        # [UNK] stands for a word of the input: metrics may remove it like any other token
        special_ids = set(self.tokenizer.all_special_ids) - {self.tokenizer.unk_token_id}
        if all(i in special_ids for i in prompt_ids):
            raise InputError(
                "input text is empty after tokenisation (only control, zero-width or special characters)"
            )
        target_ids: list[int] = []
        if self.kind == "causal-lm":
            if target is None:
                target_ids = self.generate(prompt_ids, max_new_tokens)
                target = self.tokenizer.decode(target_ids)
            if not isinstance(target, str) or not target:
                raise InputError("a causal LM needs the target as a non-empty text")
            target_ids = target_ids or self.tokenizer(target, add_special_tokens=False)["input_ids"]
        total = len(prompt_ids) + len(target_ids)
        if total > self.max_length:
            raise InputError(
                f"input has {total} tokens but {self.name} accepts at most {self.max_length}; "
                "shorten the text or truncate it before explaining"
            )
        ids = torch.tensor(prompt_ids + target_ids, dtype=torch.long)
        if self.kind == "classifier":
            if target is None:
                target = self.predict(ids)
            target = self._check_class(target)
        tokens = self.tokenizer.convert_ids_to_tokens(prompt_ids)
        special = np.array([i in special_ids for i in prompt_ids], dtype=bool)
        # a Python (slow) tokenizer gives neither offsets nor word ids: token units only
        offsets = [tuple(span) for span in encoding["offset_mapping"]] if encoding.is_fast else None
        word_ids = encoding.word_ids() if encoding.is_fast else None
        return Encoded(
            input_ids=ids,
            tokens=tokens,
            special=special,
            target=target,
            target_ids=torch.tensor(target_ids, dtype=torch.long) if target_ids else None,
            offsets=offsets,
            text=inputs,
            units=text_units(granularity, tokens, special, inputs, offsets, word_ids),
        )

    def _encode_image(self, image: Any, target: int | None) -> Encoded:
        pixel_values = self._preprocess_image(image)
        config = self.hf.config
        grid = (config.image_size // config.patch_size, config.image_size // config.patch_size)
        tokens = ["[CLS]"] + [f"patch[{r},{c}]" for r in range(grid[0]) for c in range(grid[1])]
        if target is None:
            target = int(self.hf(pixel_values=pixel_values.to(self.device)).logits.argmax(-1))
        special = np.zeros(len(tokens), dtype=bool)
        special[0] = True
        return Encoded(
            input_ids=torch.arange(len(tokens)),
            tokens=tokens,
            special=special,
            target=self._check_class(target),
            pixel_values=pixel_values,
            patch_grid=grid,
        )

    def _check_class(self, target: Any) -> int:
        if not isinstance(target, int | np.integer) or not 0 <= int(target) < self.num_labels:
            raise InputError(
                f"target class {target!r} is out of range: {self.name} has {self.num_labels} classes"
            )
        return int(target)

    @torch.no_grad()
    def predicted_class(self, encoded: Encoded) -> int:
        """The class the model predicts for an encoded input (classifiers, image classifiers)."""
        return int(self._forward(self.batch([encoded])).logits[0].argmax())

    @torch.no_grad()
    def predict(self, ids: torch.Tensor) -> int:
        return int(self.hf(input_ids=ids[None].to(self.device)).logits[0].argmax())

    @torch.no_grad()
    def generate(self, prompt_ids: list[int], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> list[int]:
        """The greedy continuation of a prompt (transformers' `generate`), at most
        `max_new_tokens` and no further than the model's length limit, without its end token."""
        check_max_new_tokens(max_new_tokens)
        room = self.max_length - len(prompt_ids)
        if room < 1:
            raise InputError(
                f"the prompt has {len(prompt_ids)} tokens, {self.name}'s limit: no room to generate a target"
            )
        ids = torch.tensor([prompt_ids], device=self.device)
        output = self.hf.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=min(max_new_tokens, room),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        generated = output[0, len(prompt_ids) :].tolist()
        eos = self.hf.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        generated = next((generated[:i] for i, token in enumerate(generated) if token in stops), generated)
        if not generated:
            raise InputError(
                f"{self.name} ends the prompt at once (end-of-sequence): there is no target to explain"
            )
        return generated

    def batch(self, rows: Sequence[Encoded], input_ids: Sequence[torch.Tensor] | None = None) -> dict:
        """Model inputs for a batch of rows, right-padded; `input_ids` overrides each row's ids."""
        if self.kind == "image-classifier":
            pixels = torch.cat([row.pixel_values for row in rows])
            return {"pixel_values": pixels.to(self.device, dtype=self.hf.dtype)}
        sequences = list(input_ids) if input_ids is not None else [row.input_ids for row in rows]
        length = max(len(seq) for seq in sequences)
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else 0
        ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), length), dtype=torch.long)
        for b, seq in enumerate(sequences):
            ids[b, : len(seq)] = seq
            mask[b, : len(seq)] = 1
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}

    # ----- outputs ---------------------------------------------------------------------
    def target_values_from_logits(
        self, logits: torch.Tensor, rows: Sequence[Encoded], first_position: int = 0, output: str = "logprob"
    ) -> list[torch.Tensor]:
        """Per row, one value per target token: its log-probability (`"logprob"`, in float64)
        or its pre-softmax logit (`"logit"`). A classifier's target is one class; a causal LM's
        target tokens are read at the positions that predict them (teacher forcing).
        `first_position` is the sequence position of the first logit, when a causal LM ran on a
        suffix after a cache or kept only its last logits."""
        if output not in TARGET_OUTPUTS:
            raise InputError(f"target_output={output!r} is not one of {', '.join(TARGET_OUTPUTS)}")
        if output == "logprob":  # float64: a 49k-word logsumexp loses digits in float32
            logits = logits.double().log_softmax(-1)
        if self.kind != "causal-lm":
            targets = torch.tensor([row.target for row in rows], device=logits.device)
            return list(logits.gather(-1, targets[:, None]))
        out = []
        for b, row in enumerate(rows):
            start = row.target_start - first_position
            target_ids = row.target_ids.to(logits.device)
            predicted = logits[b, start - 1 : start - 1 + len(target_ids)]
            out.append(predicted.gather(-1, target_ids[:, None])[:, 0])
        return out

    def target_logprob(self, inputs: dict, rows: Sequence[Encoded], first_position: int = 0) -> torch.Tensor:
        """log p(target) per row from one forward pass on `inputs` (see `forward_for_target`): the
        class log-probability, or a causal LM's summed log-probability of its target tokens."""
        return self.forward_for_target(inputs, rows, first_position)[0]

    def target_output(self, inputs: dict, rows: Sequence[Encoded], output: str = "logprob") -> torch.Tensor:
        """The explained output per row, summed over a causal LM's target tokens: the target's
        log-probability or its logit (see `target_values_from_logits`)."""
        return self.forward_for_target(inputs, rows, output=output)[0]

    def forward_for_target(
        self,
        inputs: dict,
        rows: Sequence[Encoded],
        first_position: int = 0,
        output: str = "logprob",
        per_token: bool = False,
        **hf_kwargs: Any,
    ) -> tuple[torch.Tensor | list[torch.Tensor], Any]:
        """One forward pass: the target's output per row (summed over target tokens, or with
        `per_token` a list of one value per target token), and the model's raw output.

        A causal LM projects onto its vocabulary only the positions that predict target tokens
        (that projection is a fifth of SmolLM2's compute per position and its largest tensor),
        and keeps no KV cache unless asked with `use_cache=True`. `first_position` is the
        sequence position where `inputs` start, after a given cache."""
        if self.kind == "causal-lm" and self._accepts_logits_to_keep:
            sequence = inputs["input_ids"] if "input_ids" in inputs else inputs["inputs_embeds"]
            end = first_position + sequence.shape[1]
            first_position = min(row.target_start for row in rows) - 1
            hf_kwargs.setdefault("use_cache", False)
            raw = self.hf(**inputs, **hf_kwargs, logits_to_keep=end - first_position)
        else:
            raw = self._forward(inputs, **hf_kwargs)
        values = self.target_values_from_logits(raw.logits, rows, first_position, output)
        return (values if per_token else torch.stack([v.sum() for v in values])), raw

    def _forward(self, inputs: dict, **hf_kwargs: Any) -> Any:
        """The model's raw output (with `.logits`) on batched inputs."""
        return self.hf(**inputs, **hf_kwargs)

    def black_fill(self, pixels: torch.Tensor) -> torch.Tensor:
        """A black image as the model reads it, the shape of `pixels`: an all-zero image in pixel
        space through the model's own preprocessing (ImageNet-normalised black is not 0)."""
        height, width = pixels.shape[-2:]
        black = self._preprocess_image(np.zeros((height, width, 3), dtype=np.uint8))
        per_channel = black.to(pixels.device, pixels.dtype).mean(dim=(-2, -1), keepdim=True)
        return per_channel.expand_as(pixels).clone()

    def _preprocess_image(self, image: Any) -> torch.Tensor:
        """(1, C, H, W) pixels of an image, as `encode` computes them."""
        return self.processor(images=image, return_tensors="pt")["pixel_values"]

    # ----- attention -------------------------------------------------------------------
    @contextmanager
    def attention_implementation(self, name: str) -> Iterator[None]:
        """Run the body with another attention implementation, then restore the model's own."""
        if not getattr(self.hf, "_supports_attention_backend", False):
            raise NotApplicableError(
                f"{type(self.hf).__name__} does not route attention through transformers' "
                "AttentionInterface, so its attention cannot be read or changed"
            )
        previous = self.hf.config._attn_implementation
        self.hf.set_attn_implementation(name)
        try:
            yield
        finally:
            self.hf.set_attn_implementation(previous)


def wrap(
    hf_model: PreTrainedModel | torch.nn.Module,
    tokenizer_or_processor: Any,
    kind: str | None = None,
    **cnn_options: Any,
) -> Model:
    """Wrap an in-memory HF model and its tokenizer or image processor, or a plain torch image
    classifier (a CNN) and its preprocessing callable; `cnn_options` go to `bench.cnn.CNNModel`."""
    if not isinstance(hf_model, PreTrainedModel):
        from bench.cnn import CNNModel  # bench.cnn builds on this module

        return CNNModel(hf_model, tokenizer_or_processor, kind=kind, **cnn_options)
    return Model(hf_model, tokenizer_or_processor, kind=kind)


def looks_like_a_path(name: str) -> bool:
    """A local path rather than a hub id (`org/name` or `name`)."""
    return (
        Path(name).expanduser().is_absolute()
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or "\\" in name
    )


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether huggingface.co resolves and answers, checked once, quickly (no retries)."""
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_model(
    name_or_path: str | Path, kind: str | None = None, dtype: str = DEFAULT_DTYPE, **hf_kwargs: Any
) -> Model:
    """Load a model from a local folder or a hub id; the kind is read from its config unless given.
    `dtype` is the precision of its passes (float32 | bfloat16 | mixed: bench/precision.py).

    A path that does not exist, a folder without config.json and a hub id that is neither
    reachable nor in the local cache fail at once with one line saying so; so does a folder
    whose files cannot be loaded (a truncated safetensors file, a broken config)."""
    name_or_path = str(name_or_path)
    check_dtype(dtype)
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise InputError(f"{local} has no config.json: a model folder holds config.json and its weights")
    elif local.exists() or looks_like_a_path(name_or_path):
        raise InputError(f"no such local folder: {name_or_path}")
    elif not hub_reachable():
        hf_kwargs = {**hf_kwargs, "local_files_only": True}
    try:
        model = _load(name_or_path, kind, **hf_kwargs)
        model.folder = local if local.is_dir() else None
        return model.set_dtype(dtype)
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - every loading failure becomes one line
        where = f"the folder {local}" if local.is_dir() else f"hub model {name_or_path!r}"
        offline = (
            ""
            if local.is_dir() or "local_files_only" not in hf_kwargs
            else " (the hub is unreachable and it is not in the local cache)"
        )
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"cannot load {where}{offline}: {first}") from error


def _load(name_or_path: str, kind: str | None, **hf_kwargs: Any) -> Model:
    config = AutoConfig.from_pretrained(name_or_path, **hf_kwargs)
    kind = kind or infer_kind(config)
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    hf_model = _AUTO_CLASSES[kind].from_pretrained(name_or_path, **hf_kwargs)
    if kind == "image-classifier":
        processor = AutoImageProcessor.from_pretrained(name_or_path, **hf_kwargs)
    else:
        processor = AutoTokenizer.from_pretrained(name_or_path, **hf_kwargs)
        if processor.pad_token_id is None:
            processor.pad_token = processor.eos_token or processor.unk_token
    return Model(hf_model, processor, kind=kind, name=name_or_path)
