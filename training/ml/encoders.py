"""What any BERT-like encoder needs to train and predict on the studio's pre-split words.

`BASE_MODEL` may name any encoder with a token-classification head and a fast tokenizer:
BERT and ELECTRA (WordPiece, "##" continuation pieces), RoBERTa (byte-level BPE, "Ġ" before a
word) and DeBERTa-v3 (sentencepiece, "▁" before a word). Labels and offsets go through the fast
tokenizer's `word_ids()`, never through the piece strings, so every family aligns the same way;
what differs is handled here:

* A byte-level BPE tokenizer marks a word start only when a space precedes it, so pre-split
  words would be encoded as pieces from inside a word unless it adds that space itself
  (`add_prefix_space`). `load_tokenizer` checks that pre-split words come out as they do in
  running text and turns the option on where they do not.
* RoBERTa-style models count positions from after their padding index (514 embeddings, 512
  usable); `usable_positions` says how many a sequence may use, and the tokenizer saved with a
  trained model declares it, so prediction windows fit.
"""

from __future__ import annotations

import os

# A tokenizer that declares no limit reports a huge sentinel instead.
NO_DECLARED_LIMIT = 1_000_000


def _pieces(tokenizer, words: list[str]) -> list[str]:
    encoded = tokenizer([words], is_split_into_words=True, add_special_tokens=False, verbose=False)
    return tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])


def splits_words_like_text(tokenizer) -> bool:
    """True when pre-split words get the pieces the same words get in running text."""
    words = ["the", "patient", "recovered"]
    running = tokenizer(" ".join(words), add_special_tokens=False, verbose=False)["input_ids"]
    return _pieces(tokenizer, words) == tokenizer.convert_ids_to_tokens(running)


def load_tokenizer(base_model: str):
    """The fast tokenizer of `base_model`, set up for pre-split words (see the module doc).

    Raises ValueError, naming the model, when it has no fast tokenizer or cannot be made to
    encode pre-split words as it encodes running text."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{base_model}: a fast tokenizer is needed (word_ids alignment)")
    if not splits_words_like_text(tokenizer):
        tokenizer = AutoTokenizer.from_pretrained(base_model, add_prefix_space=True)
        if not splits_words_like_text(tokenizer):
            raise ValueError(f"{base_model}: its tokenizer encodes pre-split words unlike running text")
    return tokenizer


def usable_positions(model) -> int | None:
    """How many positions one sequence may use, special tokens included (None: no limit)."""
    configured = getattr(model.config, "max_position_embeddings", None)
    if not configured:
        return None
    embeddings = getattr(model.base_model, "embeddings", None)
    padding_index = getattr(getattr(embeddings, "position_embeddings", None), "padding_idx", None)
    return int(configured) - (padding_index + 1 if padding_index is not None else 0)


def declare_positions(tokenizer, model) -> None:
    """Make the tokenizer declare the model's limit, so the predictor reading it from a saved
    model never builds a window the position embeddings cannot hold."""
    limit = usable_positions(model)
    declared = getattr(tokenizer, "model_max_length", None) or NO_DECLARED_LIMIT
    if limit is not None and declared > limit:
        tokenizer.model_max_length = limit


def quiet_transformers():
    """A context in which transformers logs only errors and draws no progress bars."""
    from transformers.utils import logging as hf_logging

    class Quiet:
        def __enter__(self):
            self.level = hf_logging.get_verbosity()
            self.bars = hf_logging.is_progress_bar_enabled()
            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()

        def __exit__(self, *exc):
            hf_logging.set_verbosity(self.level)
            if self.bars:
                hf_logging.enable_progress_bar()
            return False

    return Quiet()
