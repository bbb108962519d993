"""Hugging Face token classification: JSON lines of `{"id", "tokens": [...], "ner_tags": [...]}`.

Reading takes IOB2 tags as strings, or as integers given the tag names (a dataset's
`labels.json`). Export writes a dataset folder as a ZIP: `data.jsonl` with integer tags,
`labels.json` with the tag names, and a dataset card (`README.md`) whose `dataset_info`
lets `datasets.load_dataset(folder)` give `ner_tags` their ClassLabel names."""

import io
import json
import zipfile
from collections.abc import Iterable, Iterator

from annotation.text.bio import spans_to_tags
from annotation.text.formats.conll import check_token_and_tag
from annotation.text.formats.documents import ExportDocument, ImportedDocument, from_tagged_sentences, sentences_of
from annotation.text.formats.errors import FormatError
from annotation.text.formats.jsonl import id_string, iter_json_lines, json_line, unclaimed
from annotation.text.formats.zipstream import ZipSink


def read_hf_jsonl(lines: Iterable[str], tag_names: list[str] | None = None) -> Iterator[ImportedDocument]:
    for number, record in iter_json_lines(lines):
        tokens, tags = record.get("tokens"), record.get("ner_tags")
        if tag_names is not None and _integers(tags):
            if any(not 0 <= tag < len(tag_names) for tag in tags):
                raise FormatError(f"a tag id is not among the {len(tag_names)} tag names", line=number)
            tags = [tag_names[tag] for tag in tags]
        if not _strings(tokens) or not _strings(tags):
            raise FormatError(
                '"tokens" and "ner_tags" must be lists of strings, or of integers with the tag names given '
                "(a dataset's labels.json)",
                line=number,
            )
        if len(tokens) != len(tags):
            raise FormatError(f"{len(tokens)} tokens but {len(tags)} tags", line=number)
        sentence = [(token.strip(), tag) for token, tag in zip(tokens, tags)]
        for token, tag in sentence:
            check_token_and_tag(token, tag, line=number)
        yield from_tagged_sentences(
            [sentence],
            external_id=id_string(record.get("id")),
            metadata=unclaimed(record, ("id", "tokens", "ner_tags")),
            line=number,
        )


def read_hf_dataset(files: dict[str, str]) -> Iterator[ImportedDocument]:
    """A dataset folder the studio exported (or any with `labels.json` beside its JSON lines)."""
    try:
        tag_names = json.loads(files["labels.json"])
    except (KeyError, ValueError):
        raise FormatError("the archive has no readable labels.json with the tag names") from None
    if not _strings(tag_names):
        raise FormatError("labels.json must be a list of tag names")
    for name in sorted(name for name in files if name.endswith(".jsonl")):
        try:
            yield from read_hf_jsonl(io.StringIO(files[name]), tag_names=tag_names)
        except FormatError as error:
            error.filename = name
            raise


def write_hf_dataset(
    documents: Iterable[ExportDocument], *, labels: Iterable[str] = (), sentences: bool = False
) -> Iterator[bytes]:
    """The dataset ZIP, streamed: `data.jsonl` as the documents come, then the tag names."""
    tag_names = ["O"] + [f"{prefix}-{label}" for label in labels for prefix in ("B", "I")]
    ids = {name: index for index, name in enumerate(tag_names)}
    sink = ZipSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("data.jsonl", "w", force_zip64=True) as data:
            for document in documents:
                for record in _records(document, sentences):
                    for tag in record["ner_tags"]:
                        if tag not in ids:  # a label made after the export began
                            ids[tag] = len(tag_names)
                            tag_names.append(tag)
                    record["ner_tags"] = [ids[tag] for tag in record["ner_tags"]]
                    data.write(json_line(record).encode("utf-8"))
                yield sink.take()
        archive.writestr("labels.json", json.dumps(tag_names, ensure_ascii=False, indent=1) + "\n")
        archive.writestr("README.md", _dataset_card(tag_names))
    yield sink.take()


def _records(document: ExportDocument, sentences: bool) -> list[dict]:
    text, starts, ends = document.text, document.token_starts, document.token_ends
    tags = spans_to_tags(starts, ends, document.spans)
    name = document.external_id or str(document.id)
    if not sentences:
        return [{"id": name, "tokens": [text[s:e] for s, e in zip(starts, ends)], "ner_tags": tags}]
    return [
        {
            "id": f"{name}-{number}",
            "tokens": [text[starts[i] : ends[i]] for i in group],
            # A mention across a line break starts again in the next sentence, as B-.
            "ner_tags": [
                ("B-" + tags[i][2:]) if i == group[0] and tags[i].startswith("I-") else tags[i] for i in group
            ],
        }
        for number, group in enumerate(sentences_of(document), start=1)
    ]


def _dataset_card(tag_names: list[str]) -> str:
    names = "\n".join(f"          '{index}': {json.dumps(name)}" for index, name in enumerate(tag_names))
    return f"""---
dataset_info:
  features:
  - name: id
    dtype: string
  - name: tokens
    sequence: string
  - name: ner_tags
    sequence:
      class_label:
        names:
{names}
configs:
- config_name: default
  data_files:
  - split: train
    path: data.jsonl
---
# Token classification data

Exported from the clinical NER studio: `data.jsonl` holds one example a line (`id`, `tokens`,
integer `ner_tags`); `labels.json` names the tags in id order. Load it with
`datasets.load_dataset("<this folder>")`.
"""


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _integers(value) -> bool:
    return isinstance(value, list) and all(type(item) is int for item in value)
