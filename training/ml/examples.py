"""From word-level BIO documents to word-piece training examples, and back.

* `chunk_spans` cuts a document into sentence-sized token ranges: a sentence ends
  after a whole-token `.`, `!` or `?` followed by a capitalised token, but never
  where the next token continues an entity (`I-`). A sentence longer than the word-piece budget falls back to
  overlapping sliding windows whose edges never fall inside an entity, so every
  entity that fits in a window is seen whole.
* With `pack`, consecutive whole sentences share one chunk while they fit, so every word is
  labelled once and still reads its neighbours, at no extra cost.
* With `context`, each chunk is encoded with up to `context` word pieces of the
  neighbouring text of its document on each side, so the model sees beyond the sentence;
  only the chunk itself (the centre) carries labels and gives predictions.
* `encode_chunks` runs the fast tokenizer with `is_split_into_words=True` and
  aligns labels with `word_ids()`: a word's first piece carries its label, its
  other pieces and the special tokens get -100.
* `length_grouped_batches` + `collate` give dynamic padding with batches of
  similar length, in a shuffled order.
* `word_logits` runs a model over documents and maps first-piece logits back to
  one row per word (overlapping windows: each word takes the row of the window
  where it sits furthest from an edge); `predict_tags` decodes them into valid
  IOB2 (constrained Viterbi, `decoding.py`).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from training.ml.decoding import decode

IGNORE_INDEX = -100
SENTENCE_END = frozenset({".", "!", "?"})


def tag_label(tag: str) -> str | None:
    return None if tag == "O" else tag[2:]


def repair_bio(tags: Sequence[str]) -> list[str]:
    """conlleval-style repair: an `I-X` that does not continue an `X` entity starts one (`B-X`)."""
    repaired: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
        previous = tag
    return repaired


def _inside(tags: Sequence[str] | None, index: int) -> bool:
    """True when a cut just before `index` would split an entity."""
    return bool(tags) and index < len(tags) and tags[index].startswith("I-")


def _entity_start(tags: Sequence[str], index: int) -> int:
    while index > 0 and tags[index].startswith("I-"):
        index -= 1
    return index


def _starts_sentence(tokens: Sequence[str], index: int) -> bool:
    """A new sentence starts at `index` (just after a . ! or ?): the end of the document,
    or a capitalised token that does not follow an initial.

    This keeps "p < 0 . 01", "i . p .", "vs . 72" and "J . N . Feder" whole (corpora
    split decimals, abbreviations and initials into separate tokens)."""
    if index >= len(tokens):
        return True
    initial = index >= 2 and len(tokens[index - 2]) == 1 and tokens[index - 2].isalpha()
    return tokens[index][:1].isupper() and not initial


def sentence_spans(tokens: Sequence[str], tags: Sequence[str] | None = None) -> list[tuple[int, int]]:
    """Token ranges [start, end) of sentences: cut after a whole-token . ! or ? that is
    followed by a capitalised token (or the end), unless an entity continues there."""
    spans: list[tuple[int, int]] = []
    start = 0
    for index, token in enumerate(tokens):
        if token in SENTENCE_END and _starts_sentence(tokens, index + 1) and not _inside(tags, index + 1):
            spans.append((start, index + 1))
            start = index + 1
    if start < len(tokens):
        spans.append((start, len(tokens)))
    return spans


def window_spans(
    start: int,
    end: int,
    piece_counts: Sequence[int],
    max_pieces: int,
    tags: Sequence[str] | None = None,
    overlap: float = 0.5,
) -> list[tuple[int, int]]:
    """Overlapping windows over tokens [start, end), each at most `max_pieces` word pieces.

    A window never ends inside an entity (it ends before the entity instead, and the
    next window starts at or before the entity), so an entity that fits in a window
    lies whole in at least one. Only an entity longer than a whole window, or a
    single word longer than a window (truncated), can be cut.
    """
    windows: list[tuple[int, int]] = []
    overlap_pieces = int(max_pieces * overlap)
    s = covered_until = start
    while True:  # s strictly increases
        e, total = s, 0
        while e < end and total + piece_counts[e] <= max_pieces:
            total += piece_counts[e]
            e += 1
        if e == s:  # one word longer than the whole window: alone, truncated
            e = s + 1
        if e >= end:
            windows.append((s, end))
            return windows
        if _inside(tags, e):
            entity_start = _entity_start(tags, e)
            if entity_start > s:
                e = entity_start
        if e <= covered_until:
            # Nothing new before the entity at e: start the next window at that entity.
            s = e
            continue
        windows.append((s, e))
        covered_until = e
        next_start, covered = e, 0
        while next_start - 1 > s and covered + piece_counts[next_start - 1] <= overlap_pieces:
            covered += piece_counts[next_start - 1]
            next_start -= 1
        if _inside(tags, next_start):
            entity_start = _entity_start(tags, next_start)
            if entity_start > s:
                next_start = entity_start
        s = next_start


def chunk_spans(
    tokens: Sequence[str],
    piece_counts: Sequence[int],
    max_pieces: int,
    tags: Sequence[str] | None = None,
    pack: bool = False,
) -> list[tuple[int, int]]:
    """Sentence-sized chunks of one document, each at most `max_pieces` word pieces; with
    `pack`, runs of consecutive whole sentences that fit together share a chunk.

    Pass `tags` (repaired BIO) when training so no cut falls inside an entity;
    leave them out for prediction, where cuts depend on the text alone.
    """
    spans: list[tuple[int, int]] = []
    packed_pieces: int | None = None  # pieces of the last chunk, None when it is a window
    for start, end in sentence_spans(tokens, tags):
        pieces = sum(piece_counts[start:end])
        if pieces > max_pieces:
            spans.extend(window_spans(start, end, piece_counts, max_pieces, tags))
            packed_pieces = None  # nothing joins a window
        elif pack and packed_pieces is not None and spans[-1][1] == start and packed_pieces + pieces <= max_pieces:
            spans[-1] = (spans[-1][0], end)
            packed_pieces += pieces
        else:
            spans.append((start, end))
            packed_pieces = pieces
    return spans


def word_piece_counts(tokenizer, documents: Sequence[Sequence[str]]) -> list[list[int]]:
    """Number of word pieces for each word of each document (0 for words the tokenizer drops)."""
    counts: list[list[int]] = []
    nonempty = [list(doc) for doc in documents if doc]
    encoded = (
        tokenizer(nonempty, is_split_into_words=True, add_special_tokens=False, verbose=False) if nonempty else None
    )
    position = 0
    for doc in documents:
        doc_counts = [0] * len(doc)
        if doc:
            for word_id in encoded.word_ids(position):
                if word_id is not None:
                    doc_counts[word_id] += 1
            position += 1
        counts.append(doc_counts)
    return counts


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """First piece of each word gets the word's label id; other pieces and specials -100."""
    labels: list[int] = []
    previous = None
    for word_id in word_ids:
        if word_id is None or word_id == previous:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(word_labels[word_id])
        previous = word_id
    return labels


@dataclass
class Example:
    doc_index: int
    start: int  # token range of the document this example covers, context included
    end: int
    input_ids: list[int]
    word_ids: list[int | None]  # relative to `start`
    labels: list[int] | None = None
    centre: tuple[int, int] | None = None  # the labelled and predicted token range; None: [start, end)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def centre_range(self) -> tuple[int, int]:
        return self.centre or (self.start, self.end)


def max_pieces_for(tokenizer, max_length: int) -> int:
    return max_length - tokenizer.num_special_tokens_to_add(pair=False)


def context_range(start: int, end: int, piece_counts: Sequence[int], context: int) -> tuple[int, int]:
    """[start, end) widened by whole words on each side, up to `context` word pieces a side."""
    left, budget = start, context
    while left > 0 and piece_counts[left - 1] <= budget:
        budget -= piece_counts[left - 1]
        left -= 1
    right, budget = end, context
    while right < len(piece_counts) and piece_counts[right] <= budget:
        budget -= piece_counts[right]
        right += 1
    return left, right


def build_examples(
    tokenizer,
    documents: Sequence[Sequence[str]],
    max_length: int,
    tags: Sequence[Sequence[str]] | None = None,
    tag_to_id: dict[str, int] | None = None,
    context: int = 0,
    pack: bool = False,
) -> list[Example]:
    """Chunk and encode documents. With `tags` and `tag_to_id`, examples carry aligned labels
    (and the chunk cuts avoid entities). Chunks hold at most `max_length` pieces, special
    tokens included; `context` adds up to that many pieces of neighbouring text a side."""
    max_pieces = max_pieces_for(tokenizer, max_length)
    if max_pieces < 1:
        raise ValueError(f"max_length {max_length} leaves no room for word pieces")
    counts = word_piece_counts(tokenizer, documents)
    spans: list[tuple[int, int, int, int, int]] = []
    for doc_index, doc in enumerate(documents):
        doc_tags = tags[doc_index] if tags is not None else None
        for start, end in chunk_spans(doc, counts[doc_index], max_pieces, doc_tags, pack):
            left, right = context_range(start, end, counts[doc_index], context) if context else (start, end)
            spans.append((doc_index, left, right, start, end))
    if not spans:
        return []
    encoded = tokenizer(
        [list(documents[d][left:right]) for d, left, right, _, _ in spans],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length + 2 * context,
        verbose=False,
    )
    examples = []
    for i, (doc_index, left, right, start, end) in enumerate(spans):
        word_ids = encoded.word_ids(i)
        labels = None
        if tags is not None and tag_to_id is not None:
            word_labels = [
                tag_to_id[tag] if start <= left + offset < end else IGNORE_INDEX
                for offset, tag in enumerate(tags[doc_index][left:right])
            ]
            labels = align_labels(word_ids, word_labels)
        centre = (start, end) if (left, right) != (start, end) else None
        examples.append(Example(doc_index, left, right, encoded["input_ids"][i], word_ids, labels, centre))
    return examples


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, megabatch: int = 50
) -> list[list[int]]:
    """Indices in batches of similar length, in a shuffled order.

    Shuffle all indices, cut them into mega-batches of `megabatch` batches, sort each
    mega-batch by length and cut it into batches, then shuffle the batch order. The
    batches differ from epoch to epoch but pad little.
    """
    indices = list(range(len(lengths)))
    rng.shuffle(indices)
    size = batch_size * megabatch
    batches: list[list[int]] = []
    for offset in range(0, len(indices), size):
        group = sorted(indices[offset : offset + size], key=lambda i: lengths[i], reverse=True)
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_token_id: int, with_labels: bool = True) -> dict[str, torch.Tensor]:
    """Pad to the longest example of the batch (dynamic padding)."""
    width = max(len(example) for example in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long) if with_labels else None
    for row, example in enumerate(examples):
        n = len(example)
        input_ids[row, :n] = torch.tensor(example.input_ids, dtype=torch.long)
        attention_mask[row, :n] = 1
        if labels is not None:
            labels[row, :n] = torch.tensor(example.labels, dtype=torch.long)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None:
        batch["labels"] = labels
    return batch


def word_logits(
    model,
    tokenizer,
    documents: Sequence[Sequence[str]],
    *,
    max_length: int,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    autocast: Callable[[], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    examples: list[Example] | None = None,
    context: int = 0,
    pack: bool = False,
) -> list[np.ndarray]:
    """The model's float32 logits at each word's first piece: one (words, tags) array per
    document, NaN rows for words the tokenizer drops (no word pieces).

    With overlapping windows each word takes the logits of the window where it sits furthest
    from an edge of the window's centre. `should_stop` is checked between batches; when it returns True we raise
    `InterruptedError`.
    """
    if examples is None:
        examples = build_examples(tokenizer, documents, max_length, context=context, pack=pack)
    n_tags = model.config.num_labels
    logits_per_word = [np.full((len(doc), n_tags), np.nan, dtype=np.float32) for doc in documents]
    margins: list[list[int]] = [[-1] * len(doc) for doc in documents]
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for offset in range(0, len(order), batch_size):
                if should_stop is not None and should_stop():
                    raise InterruptedError("prediction stopped")
                batch_examples = [examples[i] for i in order[offset : offset + batch_size]]
                batch = collate(batch_examples, tokenizer.pad_token_id, with_labels=False)
                batch = {k: v.to(device) for k, v in batch.items()}
                with autocast() if autocast is not None else contextlib.nullcontext():
                    logits = model(**batch).logits
                rows = logits.float().cpu().numpy()
                for example, row in zip(batch_examples, rows):
                    centre_start, centre_end = example.centre_range
                    previous = None
                    for position, word_id in enumerate(example.word_ids):
                        if word_id is None or word_id == previous:
                            previous = word_id
                            continue
                        previous = word_id
                        token = example.start + word_id
                        if not centre_start <= token < centre_end:
                            continue
                        margin = min(token - centre_start, centre_end - 1 - token)
                        if margin > margins[example.doc_index][token]:
                            margins[example.doc_index][token] = margin
                            logits_per_word[example.doc_index][token] = row[position]
    finally:
        model.train(was_training)
    return logits_per_word


def predict_tags(
    model, tokenizer, documents: Sequence[Sequence[str]], id_to_tag: Sequence[str], **options
) -> list[list[str]]:
    """One predicted tag per word of each document: the most probable valid IOB2 sequence
    (`decoding.decode`) over `word_logits(**options)`."""
    return [decode(logits, id_to_tag) for logits in word_logits(model, tokenizer, documents, **options)]
