"""What "Train model" will do, said before the run starts: how the documents split into train
and dev, and how long the run may take at the speed runs have had on this installation."""

from dataclasses import dataclass

from django.db.models import F, Func, IntegerField, Sum, Value

from annotation.models import Annotation
from training.ml.data import Hyperparameters, TrainingDocument, split_documents
from training.models import TrainingRun
from training.services import unannotated_documents

RECENT_RUNS = 3  # the finished runs the speed is measured from
# Words (times epochs) a second when nothing was measured here yet: the bundled model on
# 2 CPU cores trained NCBI-disease at about 1,400 (README, accuracy table), so this errs long.
ROUGH_WORDS_PER_SECOND = 1000
STEADY_DEV = 5  # fewer dev documents give scores that swing with each one


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured_runs: int  # the finished runs the speed came from; 0: the rough guess

    def __str__(self) -> str:
        minutes = self.seconds / 60
        if minutes < 1:
            duration = "under a minute"
        elif minutes < 90:
            duration = f"about {round(minutes)} minute{'s' if round(minutes) != 1 else ''}"
        else:
            duration = f"about {minutes / 60:.1f} hours"
        if not self.measured_runs:
            return f"{duration} (a rough guess for 2 CPU cores: no run has finished on this machine yet)"
        runs = "the last run" if self.measured_runs == 1 else f"the last {self.measured_runs} runs"
        return f"{duration} (from {runs} on this machine)"


@dataclass(frozen=True)
class TrainingPlan:
    train_documents: int
    dev_documents: int
    warnings: list[str]
    estimate: Estimate


def plan_run(annotations: list[Annotation], hyperparameters: Hyperparameters, base_model: str) -> TrainingPlan:
    """The split the run will make of these annotations' documents (the pipeline's own
    `split_documents`), warnings about a dev split too small to judge by, and the estimate."""
    documents = [
        TrainingDocument(doc_id=str(a.document_id), tokens=[], tags=[], is_dev=a.document.is_dev) for a in annotations
    ]
    train, dev = split_documents(documents, hyperparameters.dev_fraction)
    warnings = []
    if not dev:
        warnings.append(
            "No document is held out for dev: the run will have no scores, and its model will not become "
            "the active one by itself. Set a few documents to “Dev: evaluate on it” on the labelling page."
        )
    elif len(dev) < STEADY_DEV:
        warnings.append(
            f"Only {len(dev)} document{'s are' if len(dev) != 1 else ' is'} held out for dev: the scores will "
            f"swing with every document. {STEADY_DEV} or more give steadier ones."
        )
    annotated_words = sum(len(a.document.token_starts) for a in annotations)
    words = annotated_words * hyperparameters.epochs
    if hyperparameters.mlm_epochs and annotations:
        # Pretraining reads the training documents and up to as many unannotated, non-dev words.
        train_ids = {d.doc_id for d in train}
        train_words = sum(len(a.document.token_starts) for a in annotations if str(a.document_id) in train_ids)
        extra = min(train_words, unannotated_words(annotations))  # the pipeline's cap
        words += (train_words + extra) * hyperparameters.mlm_epochs
    return TrainingPlan(len(train), len(dev), warnings, estimate_duration(words, base_model))


def unannotated_words(annotations: list[Annotation]) -> int:
    documents = unannotated_documents(annotations[0].document.project_id, annotations)
    return (
        documents.aggregate(
            words=Sum(Func(F("token_starts"), Value(1), function="array_length", output_field=IntegerField()))
        )["words"]
        or 0
    )


def estimate_duration(words: int, base_model: str) -> Estimate:
    """`words` (times epochs) at the speed of the last finished runs of the same base model:
    words they trained over their time from start to finish, model loading and saving included."""
    runs = list(
        TrainingRun.objects.filter(
            status=TrainingRun.Status.SUCCEEDED,
            base_model=base_model,
            metrics__words_seen__gt=0,
            started_at__isnull=False,
            finished_at__gt=F("started_at"),
        )
        .order_by("-finished_at")
        .values_list("metrics__words_seen", "started_at", "finished_at")[:RECENT_RUNS]
    )
    if not runs:
        return Estimate(words / ROUGH_WORDS_PER_SECOND, 0)
    seen = sum(words_seen for words_seen, _, _ in runs)
    seconds = sum((finished - started).total_seconds() for _, started, finished in runs)
    return Estimate(words * seconds / seen, len(runs))
