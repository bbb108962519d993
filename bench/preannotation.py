"""Pre-annotating abstracts with a model version, end to end, against the naive way.

    nice python -m bench.preannotation [--documents 1000] [--baseline 200]

Ours: `training.preannotation.preannotate`, as the worker runs it after an activation: read
the unfinished documents, predict in batches (`Predictor.predict_many`), store suggestions
and uncertainty scores in PostgreSQL. Baseline, same model and texts: the `transformers`
token-classification pipeline (`aggregation_strategy="simple"`) called one document at a
time, storing nothing. The model is the bundled all-MiniLM-L6-v2 with an untrained head
for DISEASE and TREATMENT (speed does not depend on the weights).
"""

import argparse
import sys
import tempfile
from pathlib import Path

from bench.common import bench_admin, delete_projects, imported_documents, print_table, setup_django, stopwatch

PROJECT = "bench-preannotation"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=200, help="documents the baseline runs on")
    args = parser.parse_args(argv)
    setup_django()
    import torch
    from transformers import pipeline

    from annotation.models import Document
    from annotation.services import create_project, import_documents
    from bench.inference_latency import make_model_dir
    from training import preannotation
    from training.ml.device import available_cores
    from training.ml.encoders import quiet_transformers
    from training.ml.inference import clear_predictor_cache, load_predictor
    from training.models import ModelVersion, Suggestion, TrainingRun

    torch.set_num_threads(available_cores())
    user = bench_admin()
    delete_projects(PROJECT)
    project = create_project(PROJECT, created_by=user)
    documents = imported_documents(args.documents, first=500_000)
    for document in documents:
        document.mentions = []  # unannotated, so every document gets pre-annotated
    import_documents(project, documents, importer=user)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_model_dir(Path(tmp), ("DISEASE", "TREATMENT"))
        run = TrainingRun.objects.create(project=project, status="succeeded")
        version = ModelVersion.objects.create(project=project, run=run, artifact_path=str(model_dir), is_active=True)
        clear_predictor_cache()
        load_predictor(model_dir)  # loading the model is not what is measured
        with stopwatch() as ours:
            preannotation.preannotate(version.pk)
        version.refresh_from_db()
        assert version.preannotation_status == "done", version.preannotation_error

        predictor = load_predictor(model_dir)
        with quiet_transformers():
            naive = pipeline(
                "token-classification",
                model=predictor.model,
                tokenizer=predictor.tokenizer,
                aggregation_strategy="simple",
                device="cpu",
            )
        texts = list(
            Document.objects.filter(project=project).order_by("pk").values_list("text", flat=True)[: args.baseline]
        )
        naive(texts[0])
        with stopwatch() as baseline:
            for text in texts:
                naive(text)

    ours_rate = args.documents / ours()
    baseline_rate = len(texts) / baseline()
    print_table(
        ["way", "documents", "seconds", "docs/s"],
        [
            ["studio pre-annotation (batched, stored)", f"{args.documents:,}", f"{ours():.1f}", f"{ours_rate:.1f}"],
            [
                "pipeline, one document at a time (baseline)",
                f"{len(texts):,}",
                f"{baseline():.1f}",
                f"{baseline_rate:.1f}",
            ],
        ],
        f"Pre-annotating abstracts on {torch.get_num_threads()} threads",
    )
    print(
        f"ratio: {ours_rate / baseline_rate:.2f}x the baseline; "
        f"{Suggestion.objects.filter(model_version=version).count():,} suggestions stored"
    )
    delete_projects(PROJECT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
