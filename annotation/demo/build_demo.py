"""Build clinical_ner_demo.jsonl, the demo project's documents, from NCBI-disease's PubTator train split.

    python -m annotation.demo.build_demo path/to/ncbi-disease/train.pubtator

Annotated abstracts carry the corpus' gold mentions as DISEASE and the whole-word matches of
treatment_terms.txt as TREATMENT; the others carry no span list, so the studio counts them as
not annotated and the first model's suggestions show on them at once. Each TREATMENT match is
printed in its context so that a person can check the list.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

HERE = Path(__file__).resolve().parent
TERMS_FILE = HERE / "treatment_terms.txt"
DEMO_FILE = HERE / "clinical_ner_demo.jsonl"
ANNOTATED = 200
UNANNOTATED = 40
# Every sixth chosen abstract is left unannotated, so both kinds hold the same mix of texts.
UNANNOTATED_EVERY = 6


@dataclass
class Abstract:
    pmid: str
    title: str
    text: str
    diseases: list[tuple[int, int]] = field(default_factory=list)


def read_pubtator(lines) -> list[Abstract]:
    abstracts: dict[str, Abstract] = {}
    for line in lines:
        line = line.rstrip("\n")
        if "|t|" in line[:20]:
            pmid, _, title = line.split("|", 2)
            abstracts[pmid] = Abstract(pmid, title, title)
        elif "|a|" in line[:20]:
            pmid, _, body = line.split("|", 2)
            abstracts[pmid].text += " " + body
        elif line:
            pmid, start, end, *_ = line.split("\t")
            abstracts[pmid].diseases.append((int(start), int(end)))
    return list(abstracts.values())


NOT_A_TREATMENT = "not:"


@dataclass
class TermList:
    terms: list[str]
    not_treatments: list[str]

    @cached_property
    def pattern(self) -> re.Pattern:
        # Longest first, so that "dietary therapy" wins over "therapy" and "treatment of cells"
        # over "treatment"; a hyphen counts as part of a word, so "L-dopa-responsive" or
        # "non-insulin-dependent" never yield a partial match.
        phrases = sorted(self.terms + self.not_treatments, key=len, reverse=True)
        alternatives = (r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases)
        return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


def read_terms(path: Path = TERMS_FILE) -> TermList:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    phrases = [line for line in lines if line and not line.startswith("#")]
    return TermList(
        terms=[phrase for phrase in phrases if not phrase.startswith(NOT_A_TREATMENT)],
        not_treatments=[
            phrase.removeprefix(NOT_A_TREATMENT).strip() for phrase in phrases if phrase.startswith(NOT_A_TREATMENT)
        ],
    )


def treatment_spans(text: str, diseases: list[tuple[int, int]], terms: TermList) -> list[tuple[int, int]]:
    """Whole-word term matches that neither lie inside nor cross a DISEASE mention."""
    not_treatments = {" ".join(phrase.lower().split()) for phrase in terms.not_treatments}
    return [
        match.span()
        for match in terms.pattern.finditer(text)
        if " ".join(match.group().lower().split()) not in not_treatments
        and not any(start < match.end() and match.start() < end for start, end in diseases)
    ]


def choose(abstracts: list[Abstract], terms: TermList) -> tuple[list[Abstract], list[Abstract]]:
    """The abstracts with most TREATMENT matches first, then the shortest, so that the first
    model trains on both labels within minutes; every sixth of them is left unannotated."""
    ranked = sorted(
        abstracts,
        key=lambda a: (-len(treatment_spans(a.text, a.diseases, terms)), len(a.text), a.pmid),
    )
    chosen = ranked[: ANNOTATED + UNANNOTATED]
    unannotated = chosen[UNANNOTATED_EVERY - 1 :: UNANNOTATED_EVERY][:UNANNOTATED]
    annotated = [a for a in chosen if a not in unannotated]
    return annotated, unannotated


def demo_records(annotated: list[Abstract], unannotated: list[Abstract], terms: TermList) -> list[dict]:
    left = {a.pmid for a in unannotated}
    records = []
    for abstract in sorted(annotated + unannotated, key=lambda a: int(a.pmid)):
        record = {"id": abstract.pmid, "title": abstract.title, "text": abstract.text}
        if abstract.pmid not in left:
            spans = [(s, e, "DISEASE") for s, e in abstract.diseases]
            spans += [(s, e, "TREATMENT") for s, e in treatment_spans(abstract.text, abstract.diseases, terms)]
            record["label"] = [list(span) for span in sorted(spans)]
        records.append(record)
    return records


def print_tagged(records: list[dict], out) -> None:
    tagged = Counter()
    for record in records:
        for start, end, label in record.get("label", []):
            if label == "TREATMENT":
                text = record["text"]
                tagged[text[start:end].lower()] += 1
                context = text[max(0, start - 40) : start] + "[" + text[start:end] + "]" + text[end : end + 40]
                print(f"{record['id']}\t{context}", file=out)
    print("\nTREATMENT terms tagged:", file=out)
    for term, count in tagged.most_common():
        print(f"{count:5}  {term}", file=out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pubtator", type=Path, help="NCBI-disease's train split in PubTator format")
    parser.add_argument("--out", type=Path, default=DEMO_FILE)
    args = parser.parse_args(argv)
    terms = read_terms()
    with args.pubtator.open(encoding="utf-8") as lines:
        annotated, unannotated = choose(read_pubtator(lines), terms)
    records = demo_records(annotated, unannotated, terms)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print_tagged(records, sys.stdout)
    labels = Counter(label for record in records for *_, label in record.get("label", []))
    print(
        f"\nWrote {args.out.name}: {len(annotated)} annotated and {len(unannotated)} unannotated abstracts, "
        f"{labels['DISEASE']} DISEASE and {labels['TREATMENT']} TREATMENT spans.",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
