"""Train and evaluate the pipeline on CoNLL files, without the studio or a database.

    python -m training.evaluate_corpus --train train.conll --dev devel.conll \\
        [--test test.conll] [--epochs N] [--out report.json] [--base-model DIR] [--limit-train N]

Consecutive CoNLL sentences make one document, so that `--context` has neighbouring text
to show. With `--train-pubtator` / `--dev-pubtator` (the same split as PubTator, whose
abstracts hold the CoNLL sentences in order, as NCBI-disease ships), a document is one
abstract, with the PMID as its id. Without, it is `--sentences-per-document` sentences (9
by default, the mean abstract of NCBI-disease and BC5CDR, whose CoNLL files have no
-DOCSTART- lines; where a file has them, a document never spans two), with ids
`<file>:<document>:<first sentence>`.
Sentences from --train are the training split, sentences from --dev the dev split
(is_dev set explicitly, so the hash split is not used). The best epoch on dev is
kept, and --test, when given, is scored with that model.

The JSON report: model, labels, epochs_run, best_epoch, train_seconds (pretraining not
included), train_examples_per_second, dev_f1_per_epoch, dev and test (each with micro,
macro, weighted, per_label, token_accuracy, confusion, error counts),
dev_argmax_micro_f1 (the same model decoded token by token instead of by constrained
Viterbi), calibration (the temperature and the expected calibration error of tokens and
entities before and after it), pretraining (its steps and seconds, or null), total_seconds, runtime and
hyperparameters.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from annotation.text.formats.conll import parse_conll
from annotation.text.formats.errors import FormatError
from annotation.text.formats.pubtator import read_pubtator
from training.ml import examples as ex
from training.ml.base_model import default_base_model
from training.ml.data import LARGE_CORPUS_WORDS, Hyperparameters, Progress, TrainingDocument, defaults_for
from training.ml.decoding import decode
from training.ml.evaluation import evaluate
from training.ml.pipeline import load_model, train


def read_conll(
    path: Path,
    is_dev: bool | None,
    limit: int | None = None,
    sentences_per_document: int = 9,
    pubtator: Path | None = None,
) -> list[TrainingDocument]:
    """Documents of consecutive sentences: the abstracts of `pubtator` where given, else up to
    `sentences_per_document` at a time; `limit` counts sentences."""
    with open(path, encoding="utf-8") as handle:
        try:
            documents = parse_conll(handle)
        except FormatError as error:
            error.filename = str(path)
            raise
    sentences = []  # (group, sentence)
    for doc_index, doc_sentences in enumerate(documents):
        for index, sentence in enumerate(doc_sentences):
            sentences.append(((path.name, doc_index, index // sentences_per_document), sentence))
    if limit is not None:
        sentences = sentences[:limit]
    if pubtator is not None:
        owners = abstract_owners(pubtator, [[token for token, _ in sentence] for _, sentence in sentences])
        sentences = [(owner, sentence) for owner, (_, sentence) in zip(owners, sentences)]
    result = []
    for group, members in itertools.groupby(sentences, key=lambda item: item[0]):
        members = [sentence for _, sentence in members]
        doc_id = group if isinstance(group, str) else f"{group[0]}:{group[1]}:{group[2] * sentences_per_document}"
        result.append(
            TrainingDocument(
                doc_id=doc_id,
                tokens=[token for sentence in members for token, _ in sentence],
                tags=[tag for sentence in members for _, tag in sentence],
                is_dev=is_dev,
            )
        )
    return result


def abstract_owners(pubtator: Path, sentences: list[list[str]]) -> list[str]:
    """The PMID of the abstract that holds each sentence (its tokens found, spaces aside, in
    the title and abstract): after the previous sentence in its abstract, or else in the next
    abstract that holds it."""
    with open(pubtator, encoding="utf-8") as handle:
        try:
            abstracts = [(d.external_id, re.sub(r"\s+", "", d.text)) for d in read_pubtator(handle)]
        except FormatError as error:
            error.filename = str(pubtator)
            raise
    owners, current, position = [], 0, 0
    for number, tokens in enumerate(sentences, start=1):
        joined = "".join(tokens)
        at = abstracts[current][1].find(joined, position) if abstracts else -1
        if at < 0:  # the next abstract that holds it
            order = itertools.chain(range(current + 1, len(abstracts)), range(current + 1))
            current = next((i for i in order if joined in abstracts[i][1]), -1)
            if current < 0:
                raise ValueError(f"sentence {number} ({' '.join(tokens[:8])} …) is in no abstract of {pubtator}")
            at = abstracts[current][1].find(joined)
        position = at + len(joined)
        owners.append(abstracts[current][0])
    return owners


def labels_of(*corpora: list[TrainingDocument]) -> list[str]:
    labels: list[str] = []
    for documents in corpora:
        for doc in documents:
            for tag in doc.tags:
                if tag != "O" and tag[2:] not in labels:
                    labels.append(tag[2:])
    return labels


def summary(evaluation: dict) -> dict:
    """The report's view of an evaluation: scores and counts, not every error."""
    keep = ("micro", "macro", "weighted", "per_label", "token_accuracy", "confusion", "documents", "tokens")
    result = {key: evaluation[key] for key in keep}
    result["false_positives"] = evaluation["false_positives_count"]
    result["false_negatives"] = evaluation["false_negatives_count"]
    return result


def model_logits(model_dir: Path, documents: list[TrainingDocument], hp: Hyperparameters):
    """The trained model's word logits over `documents`, and its tags in id order."""
    from training.ml.device import select_runtime

    tokenizer, model, tags = load_model(model_dir)
    runtime = select_runtime("auto")
    model.to(runtime.device)
    logits = ex.word_logits(
        model,
        tokenizer,
        [d.tokens for d in documents],
        max_length=hp.max_length,
        context=hp.context,
        pack=hp.pack_sentences,
        device=runtime.device,
        autocast=runtime.autocast,
    )
    return logits, tags


def argmax_tags(logits, tags: list[str]) -> list[str]:
    """The most probable tag of each token on its own, made valid IOB2 afterwards (conlleval's
    repair): the decoding constrained Viterbi replaces, kept to measure what Viterbi adds."""
    return ex.repair_bio(["O" if row[0] != row[0] else tags[int(row.argmax())] for row in logits])


def score(documents: list[TrainingDocument], predicted: list[list[str]], labels: list[str]) -> dict:
    gold = [ex.repair_bio(d.tags) for d in documents]
    return evaluate(
        gold, predicted, labels=labels, doc_ids=[d.doc_id for d in documents], tokens=[d.tokens for d in documents]
    )


def calibration_summary(calibration: dict | None) -> dict | None:
    """The fitted temperature and expected calibration error before and after, of tokens and entities."""
    if calibration is None:
        return None
    return {
        "temperature": calibration["temperature"],
        **{
            kind: {moment: calibration[kind][moment]["ece"] for moment in ("before", "after")}
            for kind in ("tokens", "entities")
        },
    }


def print_scores(name: str, evaluation: dict, out=sys.stdout) -> None:
    micro = evaluation["micro"]
    print(f"{name}: P {micro['precision']:.4f}  R {micro['recall']:.4f}  F1 {micro['f1']:.4f}", file=out)
    for label, scores in evaluation["per_label"].items():
        print(
            f"  {label:<20} P {scores['precision']:.4f}  R {scores['recall']:.4f}  "
            f"F1 {scores['f1']:.4f}  support {scores['support']}",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    defaults = Hyperparameters()
    parser = argparse.ArgumentParser(prog="python -m training.evaluate_corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="CoNLL training file")
    parser.add_argument("--dev", type=Path, required=True, help="CoNLL dev file (the dev split)")
    parser.add_argument("--test", type=Path, help="CoNLL test file, scored with the best epoch's model")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    large = "default: %s, or %s from %s annotated words on"
    parser.add_argument(
        "--learning-rate", type=float, help=large % (defaults.learning_rate, "2e-4", f"{LARGE_CORPUS_WORDS:,}")
    )
    parser.add_argument("--batch-size", type=int, help=large % (defaults.batch_size, 8, f"{LARGE_CORPUS_WORDS:,}"))
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=defaults.precision)
    parser.add_argument("--context", type=int, default=defaults.context, help="word pieces of context a side")
    parser.add_argument(
        "--pack-sentences", action="store_true", default=None, help=large % ("off", "on", f"{LARGE_CORPUS_WORDS:,}")
    )
    parser.add_argument("--no-pack-sentences", dest="pack_sentences", action="store_false")
    parser.add_argument(
        "--layer-decay", type=float, help=large % (defaults.layer_decay, 0.8, f"{LARGE_CORPUS_WORDS:,}")
    )
    parser.add_argument("--ema-decay", type=float, default=defaults.ema_decay)
    parser.add_argument("--mlm-epochs", type=int, help=large % (defaults.mlm_epochs, 1, f"{LARGE_CORPUS_WORDS:,}"))
    parser.add_argument("--warmup-ratio", type=float, default=defaults.warmup_ratio)
    parser.add_argument("--sentences-per-document", type=int, default=9)
    parser.add_argument("--train-pubtator", type=Path, help="PubTator file of the training split: its abstracts")
    parser.add_argument("--dev-pubtator", type=Path, help="PubTator file of the dev split: its abstracts")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--base-model", help="model directory (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--limit-train", type=int, help="use only the first N training sentences")
    parser.add_argument("--model-dir", type=Path, help="keep the trained model here (default: discarded)")
    args = parser.parse_args(argv)

    try:
        if args.sentences_per_document < 1:
            raise ValueError("--sentences-per-document must be at least 1")
        group = args.sentences_per_document
        train_docs = read_conll(args.train, False, args.limit_train, group, args.train_pubtator)
        dev_docs = read_conll(args.dev, True, sentences_per_document=group, pubtator=args.dev_pubtator)
        test_docs = read_conll(args.test, None, sentences_per_document=group) if args.test else []
        given = {
            "learning_rate": args.learning_rate,
            "batch_size": args.batch_size,
            "pack_sentences": args.pack_sentences,
            "layer_decay": args.layer_decay,
            "mlm_epochs": args.mlm_epochs,
        }
        words = sum(len(document.tokens) for document in train_docs + dev_docs)  # as the studio counts them
        hp = Hyperparameters(
            epochs=args.epochs,
            max_length=args.max_length,
            patience=args.patience,
            seed=args.seed,
            precision=args.precision,
            context=args.context,
            ema_decay=args.ema_decay,
            warmup_ratio=args.warmup_ratio,
            **{**defaults_for(words), **{name: value for name, value in given.items() if value is not None}},
        )
        hp.validate()
    except (ValueError, OSError, FormatError) as error:
        parser.error(str(error))
    labels = labels_of(train_docs, dev_docs)
    base_model = args.base_model or default_base_model()
    print(
        f"train {len(train_docs)} documents, dev {len(dev_docs)}"
        + (f", test {len(test_docs)}" if test_docs else "")
        + f"; labels {', '.join(labels)}; base model {base_model}",
        file=sys.stderr,
    )

    def on_progress(progress: Progress) -> None:
        if progress.phase == "evaluated":
            f1 = progress.dev_f1_per_epoch[-1]
            print(
                f"epoch {progress.epoch}/{progress.epochs}: loss {progress.loss:.4f}  dev F1 {f1:.4f}  "
                f"elapsed {progress.elapsed_seconds:.0f}s  eta {progress.eta_seconds or 0:.0f}s",
                file=sys.stderr,
                flush=True,
            )

    with tempfile.TemporaryDirectory(prefix="evaluate-corpus-") as scratch:
        model_dir = args.model_dir or Path(scratch) / "model"
        started = time.perf_counter()
        result = train(
            train_docs + dev_docs, labels, hp, base_model=base_model, output_dir=model_dir, on_progress=on_progress
        )
        report = {
            "model": base_model,
            "labels": labels,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "train_seconds": round(result.train_seconds, 2),
            "train_examples_per_second": round(result.train_examples_per_second, 2),
            "dev_f1_per_epoch": result.dev_f1_per_epoch,
            "dev": summary(result.evaluation),
            "runtime": result.runtime,
            "hyperparameters": hp.to_dict(),
            "train_documents": len(train_docs),
            "dev_documents": len(dev_docs),
        }
        logits, tags = model_logits(model_dir, dev_docs, hp)
        argmax = score(dev_docs, [argmax_tags(rows, tags) for rows in logits], labels)
        report["dev_argmax_micro_f1"] = argmax["micro"]["f1"]
        report["pretraining"] = result.pretraining
        report["calibration"] = calibration_summary(result.calibration)
        if test_docs:
            logits, tags = model_logits(model_dir, test_docs, hp)
            report["test"] = summary(score(test_docs, [decode(rows, tags) for rows in logits], labels))
            report["test_documents"] = len(test_docs)
        report["total_seconds"] = round(time.perf_counter() - started, 2)

    print(
        f"trained {result.epochs_run} epochs (best {result.best_epoch}) in {result.train_seconds:.0f}s, "
        f"{result.train_examples_per_second:.1f} examples/s, {result.runtime['precision']} on {result.runtime['device']}",
        file=sys.stderr,
    )
    print_scores("dev", report["dev"])
    print(f"dev micro F1 with argmax decoding instead of Viterbi: {report['dev_argmax_micro_f1']:.4f}")
    if report["calibration"]:
        c = report["calibration"]
        print(
            f"calibration: temperature {c['temperature']:.2f}; expected calibration error of tokens "
            f"{c['tokens']['before']:.4f} -> {c['tokens']['after']:.4f}, of entities "
            f"{c['entities']['before']:.4f} -> {c['entities']['after']:.4f}"
        )
    if result.pretraining:
        print(
            f"pretraining on the training text: {result.pretraining['seconds']:.0f}s, {result.pretraining['steps']} steps"
        )
    if "test" in report:
        print_scores("test", report["test"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
