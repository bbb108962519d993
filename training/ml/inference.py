"""Run a trained model over studio documents: suggestions with exact character
offsets, plus per-document uncertainty for active learning. No Django here.

* **Input** is the studio's own tokenisation: `text` and the `[start, end)` of each
  token; the words fed to the tokenizer are `text[start:end]`
  (`is_split_into_words=True`). Word pieces are mapped back to tokens with the fast
  tokenizer's `word_ids()`, never by re-reading characters, so `[UNK]` pieces,
  emoji, CRLF, combining marks and non-Latin scripts cannot shift the alignment.
  A token the tokenizer drops entirely (a lone combining mark, a zero-width
  joiner...) has no prediction (see "Tokens without word pieces" below).
* **Windows.** A document is encoded once; its word pieces are cut into windows of
  at most `max_pieces` pieces (the model's own position limit minus the special
  tokens: 510 for a 512-position BERT) that overlap by `overlap` pieces (128 by
  default, at most half a window). Each token takes its prediction from the window
  where its first piece lies furthest from a window edge (a window edge at the
  start or end of the document does not count as an edge: there is no lost
  context there). Probabilities are *not* averaged across windows.
* **Batching.** All windows of all documents of a `predict_many` call are sorted by
  length and run in batches of up to `batch_tokens` padded pieces under
  `torch.inference_mode()`, so several short documents share one forward pass and
  padding stays small (512 pieces on CPU: short sentences gain ~1.5x from sharing a
  pass, while batching full 512-piece windows is no faster per document there;
  16384 on a GPU). A window wider than `batch_tokens` runs alone.
* **Precision.** `precision="auto"` (the default) runs under bf16 autocast where the
  hardware does bf16 natively, as training does (so the dev F1 in `metrics.json` was
  measured the same way): ~1.5x less CPU time per abstract here. `"fp32"` turns it
  off. Probabilities are always computed in float32 from the logits.
* **Per token**: softmax over the tags at the token's first word piece of the logits
  divided by the model's temperature (`calibration.json`, fitted on dev after training;
  1.0 for models without one), computed in float32, so that a confidence of 0.8 is right
  about 80% of the time. The tags are the most probable *valid* IOB2 sequence
  (constrained Viterbi, `decoding.viterbi`: no `I-X` after `O`, after another label or at
  the start), aggregated into whole-token `Suggestion`s with
  `start = token_starts[first]`, `end = token_ends[last]`.
* **Span confidence** is the mean, over the span's tokens, of the probability of the tag
  each token was given. Tokens without word pieces inside a span do not count.
* **Uncertainty** per document, over tokens that have word pieces:
  `min_max_probability` (lowest per-token max probability: 1.0 = sure, down to
  1/len(tags)), `mean_entropy` (mean per-token entropy of the tag distribution in
  nats, between 0 and ln(len(tags))), and `expected_counts[label]` = the sum over
  tokens of P(B-label), an estimate of how many `label` entities the document
  holds; `rare_label_first` orders documents by it.
* **Tokens without word pieces** get the tag `O`, or `I-X` when they sit between
  two tokens of one `X` entity (so "🙂\u200d🙂"-style joiners never cut a span);
  they count in no uncertainty figure.

`load_predictor(model_dir)` keeps up to `CACHE_SIZE` loaded models per process (an
LRU keyed by the resolved model directory and its `label_map.json` modification
time, so a directory replaced in place is reloaded); a per-directory lock makes
concurrent threads wait for one load instead of loading twice.
`clear_predictor_cache()` empties it.
"""

from __future__ import annotations

import bisect
import functools
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from training.ml.calibration import stored_temperature
from training.ml.data import PRECISIONS
from training.ml.decoding import entity_spans, fill_pieceless, span_confidence, viterbi
from training.ml.device import cpu_supports_bf16, cuda_supports_bf16
from training.ml.examples import repair_bio

CACHE_SIZE = 4
DEFAULT_OVERLAP = 128  # word pieces shared by consecutive windows
# Padded word pieces per forward pass. On CPU a batch bigger than one full window is no
# faster per document (padding and attention cost more than the per-call overhead saved),
# but short documents gain ~1.5x from sharing a pass; a GPU wants big batches.
CPU_BATCH_TOKENS = 512
GPU_BATCH_TOKENS = 16384


@dataclass(frozen=True)
class Suggestion:
    start: int  # character offsets into the original text, [start, end)
    end: int
    label: str
    confidence: float  # mean over the span's tokens of the (calibrated) probability of their tag
    first_token: int  # token indices, inclusive
    last_token: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DocumentPrediction:
    suggestions: list[Suggestion]
    tags: list[str]  # one valid IOB2 tag per token
    token_confidences: list[float | None]  # probability of each token's tag; None: no word pieces
    min_max_probability: float  # lowest token max-probability (1.0 for a document with no pieces)
    mean_entropy: float  # mean token entropy in nats (0.0 for a document with no pieces)
    expected_counts: dict[str, float] = field(default_factory=dict)  # label -> sum of P(B-label)
    windows: int = 0  # forward-pass windows the document needed

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- pure helpers


def piece_windows(n_pieces: int, max_pieces: int, overlap: int) -> list[tuple[int, int]]:
    """Windows `[start, end)` over `n_pieces` word pieces, each at most `max_pieces` long,
    consecutive ones sharing `overlap` pieces (the last window is shifted back to end
    exactly at `n_pieces`, so it may share more)."""
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be at least 1, got {max_pieces}")
    if n_pieces <= 0:
        return []
    overlap = max(0, min(overlap, max_pieces - 1))
    stride = max_pieces - overlap
    windows = []
    start = 0
    while True:
        end = min(start + max_pieces, n_pieces)
        windows.append((start, end))
        if end >= n_pieces:
            return windows
        start = min(start + stride, n_pieces - max_pieces)


def aggregate(
    tags: Sequence[str],
    confidences: Sequence[float | None],
    token_starts: Sequence[int],
    token_ends: Sequence[int],
) -> list[Suggestion]:
    """Whole-token spans from IOB2 tags (repaired here too, so any tag sequence works).

    A span's confidence is the mean of its tokens' confidences, skipping None."""
    tags = repair_bio(tags)
    return [
        Suggestion(
            start=token_starts[first],
            end=token_ends[last],
            label=label,
            confidence=span_confidence(confidences, first, last),
            first_token=first,
            last_token=last,
        )
        for first, last, label in entity_spans(tags)
    ]


def rare_label_first(predictions: Sequence[DocumentPrediction], label_counts: Mapping[str, int]) -> list[int]:
    """Indices of `predictions`, the documents most likely to hold the rarest label first.

    `label_counts`: how often each label is annotated so far (labels missing from it
    count 0). Labels are taken from rarest to most frequent; documents are sorted by
    their expected count of the rarest label, ties broken by the next rarest, then by
    uncertainty (lower `min_max_probability` first)."""
    labels = sorted(
        {label for p in predictions for label in p.expected_counts} | set(label_counts),
        key=lambda label: (label_counts.get(label, 0), label),
    )

    def key(index: int):
        counts = predictions[index].expected_counts
        return (*(-counts.get(label, 0.0) for label in labels), predictions[index].min_max_probability, index)

    return sorted(range(len(predictions)), key=key)


def _check_tokens(text: str, token_starts: Sequence[int], token_ends: Sequence[int]) -> None:
    if len(token_starts) != len(token_ends):
        raise ValueError(f"{len(token_starts)} token starts but {len(token_ends)} token ends")
    for index, (start, end) in enumerate(zip(token_starts, token_ends)):
        if not 0 <= start <= end <= len(text):
            raise ValueError(f"token {index}: [{start}, {end}) is not within the text (length {len(text)})")


def _model_position_limit(model, tokenizer) -> int:
    limits = []
    configured = getattr(model.config, "max_position_embeddings", None)
    if configured:
        limits.append(int(configured))
    # RoBERTa-style models reserve positions (514 embeddings, 512 usable); their
    # tokenizer says so. A tokenizer without a limit reports a huge sentinel.
    declared = getattr(tokenizer, "model_max_length", None)
    if declared and declared < 1_000_000:
        limits.append(int(declared))
    if not limits:
        raise ValueError("cannot tell the model's maximum sequence length")
    return min(limits)


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after a single sequence."""
    encoded = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)
    ids, word_ids = encoded["input_ids"], encoded.word_ids()
    content = [i for i, w in enumerate(word_ids) if w is not None]
    if not content:
        raise ValueError("the tokenizer produced no word piece for 'a'")
    return list(ids[: content[0]]), list(ids[content[-1] + 1 :])


# ---------------------------------------------------------------- the predictor


@dataclass
class _Document:
    n_words: int
    piece_ids: list[int]
    first_piece_positions: list[int]  # piece position of each word's first piece, sorted
    first_piece_words: list[int]  # the word each of those belongs to
    probabilities: torch.Tensor | None = None  # (n_words, n_tags), rows of pieceless words unused
    margins: list[int] = field(default_factory=list)
    windows: int = 0


class Predictor:
    """A loaded model that predicts suggestions for whole documents. Thread-safe:
    the model is only read (eval mode, inference mode); tokenizer calls are serialised."""

    def __init__(
        self,
        tokenizer,
        model,
        tags: Sequence[str],
        *,
        model_dir: str | Path | None = None,
        max_pieces: int | None = None,
        overlap: int = DEFAULT_OVERLAP,
        batch_tokens: int | None = None,
        device: str | torch.device | None = None,
        precision: str = "auto",
        temperature: float = 1.0,
    ):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("a fast tokenizer is needed (word_ids alignment)")
        self.tokenizer = tokenizer
        self.tags = list(tags)
        if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.temperature = float(temperature)
        if model.config.num_labels != len(self.tags):
            raise ValueError(f"the model has {model.config.num_labels} outputs but {len(self.tags)} tags")
        for tag in self.tags:
            if tag != "O" and (tag[:2] not in ("B-", "I-") or not tag[2:]):
                raise ValueError(f"{tag!r} is not an IOB2 tag")
        self.labels = list(dict.fromkeys(tag[2:] for tag in self.tags if tag != "O"))
        self._begin_index = {label: self.tags.index(f"B-{label}") for label in self.labels if f"B-{label}" in self.tags}
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        supported = cuda_supports_bf16() if self.device.type == "cuda" else cpu_supports_bf16()
        self.bf16 = precision != "fp32" and supported
        self.prefix, self.suffix = _special_tokens(tokenizer)
        limit = _model_position_limit(model, tokenizer) - len(self.prefix) - len(self.suffix)
        if max_pieces is None:
            max_pieces = limit
        if not 1 <= max_pieces <= limit:
            raise ValueError(f"max_pieces must be between 1 and {limit} for this model, got {max_pieces}")
        self.max_pieces = max_pieces
        self.overlap = max(0, min(overlap, max_pieces // 2))
        if batch_tokens is None:
            batch_tokens = GPU_BATCH_TOKENS if self.device.type == "cuda" else CPU_BATCH_TOKENS
        self.batch_tokens = batch_tokens
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def from_dir(cls, model_dir: str | Path, **options) -> Predictor:
        from training.ml.pipeline import load_model

        tokenizer, model, tags = load_model(model_dir)
        options.setdefault("temperature", stored_temperature(model_dir))
        return cls(tokenizer, model, tags, model_dir=model_dir, **options)

    # ------------------------------------------------------------ public API

    def predict(self, text: str, token_starts: Sequence[int], token_ends: Sequence[int]) -> DocumentPrediction:
        return self.predict_many([(text, token_starts, token_ends)])[0]

    def predict_text(self, text: str) -> DocumentPrediction:
        """Tokenise with the studio's tokenizer, then predict (the "Try it" page)."""
        from annotation.text.tokenize import tokenize

        tokens = tokenize(text)
        return self.predict(text, tokens.starts, tokens.ends)

    def predict_many(self, documents: Iterable[tuple[str, Sequence[int], Sequence[int]]]) -> list[DocumentPrediction]:
        """`documents`: (text, token_starts, token_ends) triples; one prediction each, in order."""
        documents = [(text, list(starts), list(ends)) for text, starts, ends in documents]
        for text, starts, ends in documents:
            _check_tokens(text, starts, ends)
        encoded = self._encode([[text[s:e] for s, e in zip(starts, ends)] for text, starts, ends in documents])
        self._run(encoded)
        return [self._document_prediction(doc, starts, ends) for doc, (_, starts, ends) in zip(encoded, documents)]

    # ------------------------------------------------------------ steps

    def _encode(self, word_lists: list[list[str]]) -> list[_Document]:
        with self._tokenizer_lock:
            encoded = self.tokenizer(word_lists, is_split_into_words=True, add_special_tokens=False, verbose=False)
        documents = []
        for index, words in enumerate(word_lists):
            positions, owners = [], []
            previous = None
            for position, word_id in enumerate(encoded.word_ids(index)):
                if word_id is not None and word_id != previous:
                    positions.append(position)
                    owners.append(word_id)
                previous = word_id
            documents.append(_Document(len(words), list(encoded["input_ids"][index]), positions, owners))
        return documents

    def _run(self, documents: list[_Document]) -> None:
        n_tags = len(self.tags)
        windows = []  # (doc, start, end)
        for doc in documents:
            doc.probabilities = torch.zeros((doc.n_words, n_tags), dtype=torch.float32)
            doc.margins = [-1] * doc.n_words
            spans = piece_windows(len(doc.piece_ids), self.max_pieces, self.overlap)
            doc.windows = len(spans)
            windows.extend((doc, start, end) for start, end in spans)
        windows.sort(key=lambda w: w[2] - w[1])
        specials = len(self.prefix) + len(self.suffix)
        batches, batch = [], []
        for window in windows:
            width = window[2] - window[1] + specials  # sorted, so the widest yet
            if batch and (len(batch) + 1) * width > self.batch_tokens:
                batches.append(batch)
                batch = []
            batch.append(window)
        if batch:
            batches.append(batch)
        with torch.inference_mode():
            for batch in batches:
                self._forward(batch)

    def _forward(self, batch) -> None:
        rows = [self.prefix + doc.piece_ids[start:end] + self.suffix for doc, start, end in batch]
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[i, : len(row)] = 1
        inputs = {"input_ids": input_ids.to(self.device), "attention_mask": attention_mask.to(self.device)}
        if self.bf16:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                logits = self.model(**inputs).logits
        else:
            logits = self.model(**inputs).logits
        probabilities = torch.softmax(logits.float() / self.temperature, dim=-1).cpu()
        offset = len(self.prefix)
        for row, (doc, start, end) in enumerate(batch):
            low = bisect.bisect_left(doc.first_piece_positions, start)
            high = bisect.bisect_left(doc.first_piece_positions, end)
            n_pieces = len(doc.piece_ids)
            take_rows, take_words = [], []
            for k in range(low, high):
                position = doc.first_piece_positions[k]
                word = doc.first_piece_words[k]
                before = position - start if start > 0 else n_pieces
                after = end - 1 - position if end < n_pieces else n_pieces
                margin = min(before, after)
                if margin > doc.margins[word]:
                    doc.margins[word] = margin
                    take_rows.append(offset + position - start)
                    take_words.append(word)
            if take_words:
                doc.probabilities[take_words] = probabilities[row, take_rows]

    def _document_prediction(self, doc: _Document, starts: list[int], ends: list[int]) -> DocumentPrediction:
        predicted = [word for word in range(doc.n_words) if doc.margins[word] >= 0]
        raw_tags: list[str | None] = [None] * doc.n_words
        confidences: list[float | None] = [None] * doc.n_words
        expected = dict.fromkeys(self.labels, 0.0)
        min_max, mean_entropy = 1.0, 0.0
        if predicted:
            probabilities = doc.probabilities[predicted]
            best = probabilities.max(dim=-1).values
            entropy = -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum(dim=-1)
            min_max = float(best.min())
            mean_entropy = float(entropy.mean())
            begin = probabilities.sum(dim=0).tolist()
            expected = {label: float(begin[i]) for label, i in self._begin_index.items()}
            for label in self.labels:
                expected.setdefault(label, 0.0)
            path = viterbi(torch.log(probabilities.clamp_min(1e-30)).numpy(), self.tags)
            chosen = probabilities[torch.arange(len(predicted)), path]
            for word, tag_index, value in zip(predicted, path, chosen.tolist()):
                raw_tags[word] = self.tags[tag_index]
                confidences[word] = value
        tags = fill_pieceless(raw_tags)
        return DocumentPrediction(
            suggestions=aggregate(tags, confidences, starts, ends),
            tags=tags,
            token_confidences=confidences,
            min_max_probability=min_max,
            mean_entropy=mean_entropy,
            expected_counts=expected,
            windows=doc.windows,
        )


# ---------------------------------------------------------------- the per-process cache

_locks_guard = threading.Lock()
_load_locks: dict[tuple, threading.Lock] = {}


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_cached(key: tuple) -> Predictor:
    return Predictor.from_dir(key[0])


def _cache_key(model_dir: str | Path) -> tuple:
    path = Path(model_dir).resolve()
    # label_map.json is written with the model and the directory renamed into place as a
    # whole, so its mtime changes when a directory is replaced; a missing one fails here.
    return (str(path), os.stat(path / "label_map.json").st_mtime_ns)


def load_predictor(model_dir: str | Path) -> Predictor:
    """The cached `Predictor` for `model_dir` (loaded at most once per process while cached)."""
    key = _cache_key(model_dir)
    with _locks_guard:
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:  # a second thread asking for the same model waits, then hits the cache
        return _load_cached(key)


def clear_predictor_cache() -> None:
    with _locks_guard:
        _load_cached.cache_clear()
        _load_locks.clear()


def predictor_cache_info():
    return _load_cached.cache_info()
