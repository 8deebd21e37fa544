"""Tiny models built from configs (offline) shared by the tests."""

from __future__ import annotations

import numpy as np
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessorPil,
)

import bench

WORDS = (
    "free win prize cash call now claim urgent reply stop hello how are you see later "
    "meeting lunch tomorrow the a to and is in it of for on my me your text msg".split()
)
PIECES = ("win", "##ner", "##s", "pri", "##ze", "##x", "!", ",", ".")
"""Word pieces and punctuation for tokenizers whose words span several tokens ("winners" = win
##ner ##s), for the word and sentence granularity tests."""
# Small random transformers have nearly uniform attention; a larger init range makes
# attention (and so its suppression) matter.
INIT_RANGE = 0.4


def make_tokenizer(pieces: bool = False) -> BertTokenizerFast:
    """WordPiece over `WORDS` (and `PIECES` when asked: words of several tokens)."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = list(WORDS) + ([p for p in PIECES if p not in WORDS] if pieces else [])
    vocab = {token: i for i, token in enumerate(specials + words)}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True)


def tiny_bert(num_labels: int = 2, seed: int = 0, pieces: bool = False) -> bench.Model:
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(pieces)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=num_labels,
        initializer_range=INIT_RANGE,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return bench.wrap(BertForSequenceClassification(config), tokenizer)


def tiny_gpt2(seed: int = 0, pieces: bool = False) -> bench.Model:
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(pieces)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        bos_token_id=2,
        eos_token_id=3,
        initializer_range=INIT_RANGE,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return bench.wrap(GPT2LMHeadModel(config), tokenizer)


def tiny_llama(seed: int = 0) -> bench.Model:
    """Llama with grouped-query attention (4 query heads share 2 key/value heads)."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        initializer_range=INIT_RANGE,
        pad_token_id=0,
    )
    return bench.wrap(LlamaForCausalLM(config), tokenizer)


def tiny_vit(seed: int = 0) -> bench.Model:
    torch.manual_seed(seed)
    config = ViTConfig(
        image_size=16,
        patch_size=4,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=3,
        initializer_range=INIT_RANGE,
    )
    processor = ViTImageProcessorPil(size={"height": 16, "width": 16}, do_resize=True)
    return bench.wrap(ViTForImageClassification(config), processor)


def tiny_image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)


def tiny_cnn_preprocess(image: np.ndarray) -> torch.Tensor:
    """(16, 16, 3) uint8 -> (3, 16, 16) floats in [-1, 1]."""
    return torch.as_tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1) / 127.5 - 1


def tiny_cnn(seed: int = 0) -> bench.Model:
    """A plain torch CNN (no transformers, no attention) on 16x16 images, explained on a 4x4 grid."""
    torch.manual_seed(seed)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 8 * 8, 3),
    )
    return bench.wrap(module, tiny_cnn_preprocess, name="tiny-cnn", grid=(4, 4))
