"""What the run pages show: progress with charts, and the per-label report of a finished run."""

from pathlib import Path

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse

from annotation.access import RANK, Role
from annotation.selectors import document_names
from studio import access_log
from studio.background import silent_seconds
from training import learning_curves
from training.charts import line_chart
from training.forms import ERROR_KINDS, ErrorFilterForm
from training.ml.evaluation import small_dev_reasons, threshold_for
from training.ml.learning_curve import advice
from training.models import ModelVersion, Suggestion, SuggestionDecision, TrainingRun

LOSS_COLOUR, F1_COLOUR = "#1f6feb", "#067647"
PERFECT_COLOUR, BEFORE_COLOUR, AFTER_COLOUR = "#98a2b3", "#d1495b", "#1f6feb"
ERRORS_SHOWN = 200


def progress_context(run: TrainingRun) -> dict:
    progress = run.progress or {}
    losses = [(step, loss) for step, loss in progress.get("loss", [])]
    dev_f1 = list(enumerate(progress.get("dev_f1_per_epoch", []), start=1))
    eta = progress.get("eta_seconds")
    return {
        "progress": progress,
        "silent_seconds": silent_seconds(run.heartbeat_at) if run.status == TrainingRun.Status.RUNNING else None,
        "heartbeat_timeout": settings.HEARTBEAT_TIMEOUT,
        "eta": _duration(eta) if eta is not None and run.is_queued_or_running else None,
        "elapsed": _duration(progress.get("elapsed_seconds")),
        "loss_chart": line_chart(
            [("training loss", losses, LOSS_COLOUR)], title="Training loss by step", x_label="step"
        ),
        "f1_chart": line_chart(
            [("dev F1", dev_f1, F1_COLOUR)], title="Dev micro F1 by epoch", x_label="epoch", y_range=(0.0, 1.0)
        ),
    }


# Runs evaluated before errors were paired into rows stored these two lists instead.
LEGACY_ERROR_LISTS = ("false_negatives", "false_positives")
QUOTING_KEYS = ("errors", *LEGACY_ERROR_LISTS)


def may_read_errors(role) -> bool:
    """The dev error lists quote other people's annotations (text, offsets, documents)."""
    return RANK.get(role, 0) >= RANK[Role.REVIEWER]


def metrics_for(run: TrainingRun, role) -> dict | None:
    """A run's metrics as someone of `role` may read them: annotators get the error counts,
    not the errors."""
    evaluation = (run.metrics or {}).get("evaluation")
    if not evaluation or may_read_errors(role):
        return run.metrics
    counts = {f"{name}_count": len(evaluation.get(name) or []) for name in LEGACY_ERROR_LISTS if name in evaluation}
    trimmed = {key: value for key, value in evaluation.items() if key not in QUOTING_KEYS}
    return {**run.metrics, "evaluation": {**trimmed, **counts}}


def record_quoted_reads(user, project, run: TrainingRun, rows: list[dict], *, via: str) -> None:
    """Dev error rows quote their documents' text: showing them is reading those documents."""
    documents = sorted({int(row["doc_id"]) for row in rows})
    if documents:
        detail = f"dev errors of run {run.pk}"
        access_log.record(user, access_log.Action.OPEN, via=via, project=project, documents=documents, detail=detail)


def quoted_rows(run: TrainingRun, role) -> list[dict]:
    """The dev error rows the run's metrics quote to someone of `role` (none to annotators)."""
    evaluation = (run.metrics or {}).get("evaluation")
    return error_rows(evaluation) if evaluation and may_read_errors(role) else []


def error_rows(evaluation: dict) -> list[dict]:
    """The evaluation's error rows; in a run stored with the two legacy lists, each missed and
    each spurious entity is a row of its own, with the kind it was given then."""
    if "errors" in evaluation:
        return evaluation["errors"]
    rows = []
    for name, side in zip(LEGACY_ERROR_LISTS, ("gold", "predicted")):
        for error in evaluation.get(name) or []:
            entity = {"label": error["label"], "text": error.get("text", "")}
            rows.append({"gold": [], "predicted": [], **error, side: [entity]})
    return rows


def filtered_errors(rows: list[dict], label: str, kind: str) -> list[dict]:
    return [
        row
        for row in rows
        if (not kind or row.get("kind") == kind)
        and (not label or any(entity["label"] == label for entity in row["gold"] + row["predicted"]))
    ]


def marked_pieces(row: dict) -> list[dict]:
    """The row's stretch of text cut where a gold or predicted entity starts or ends, each piece
    with the sides that cover it ("gold", "predicted", both or neither) as `marks`, so that
    the snippet marks them apart. Rows without character offsets (legacy ones) are one piece."""
    entities = [*(("gold", e) for e in row["gold"]), *(("predicted", e) for e in row["predicted"])]
    if "start" not in row or any("start" not in entity for _, entity in entities):
        return [{"text": row.get("text", ""), "marks": " ".join(side for side, _ in entities[:1])}]
    edges = sorted({row["start"], row["end"], *(e[k] for _, e in entities for k in ("start", "end"))})
    pieces = []
    for a, b in zip(edges, edges[1:]):
        covering = dict.fromkeys(side for side, e in entities if e["start"] <= a and b <= e["end"])
        pieces.append({"text": row["text"][a - row["start"] : b - row["start"]], "marks": " ".join(covering)})
    return pieces


def error_list_context(run: TrainingRun, project, query) -> dict:
    """The dev errors a reviewer reads, filtered by `query`'s label and kind; an unknown label
    or kind is reported on the form and leaves that filter off."""
    evaluation = (run.metrics or {}).get("evaluation") or {}
    filters = ErrorFilterForm(query, labels=list(evaluation.get("per_label") or {}))
    filters.is_valid()
    chosen = {name: filters.cleaned_data.get(name) or "" for name in ("label", "kind")}
    rows = error_rows(evaluation)
    matching = filtered_errors(rows, **chosen)
    shown = matching[:ERRORS_SHOWN]
    names = document_names(int(row["doc_id"]) for row in shown)
    colours = {label.name: label.css_class for label in project.labels.all()}
    errors = [
        {
            **row,
            "kind_label": ERROR_KINDS.get(row.get("kind"), row.get("kind", "")),
            "sides": [
                (side.capitalize(), [{**entity, "css_class": colours.get(entity["label"], "")} for entity in row[side]])
                for side in ("gold", "predicted")
            ],
            "pieces": marked_pieces(row),
            "url": reverse("annotate", args=[run.project_id, int(row["doc_id"])]),
            "name": names.get(int(row["doc_id"]), f"Document {row['doc_id']}"),
        }
        for row in shown
    ]
    return {
        "filters": filters,
        "filtered": any(chosen.values()),
        "errors": errors,
        "error_count": len(rows),
        "matching_count": len(matching),
    }


def base_model_for(run: TrainingRun, role) -> str:
    """Project admins see where the base model lives on the server; others see its name."""
    if role == Role.ADMIN or not run.base_model.startswith(("/", "~", ".")):
        return run.base_model
    return Path(run.base_model).name


def run_context(run: TrainingRun, role) -> dict:
    context = progress_context(run)
    evaluation = (run.metrics or {}).get("evaluation") or {}
    context["configuration"] = {
        "base_model": base_model_for(run, role),
        "documents": len(run.data_snapshot or []),
        "dev_documents": evaluation.get("documents"),
        "hyperparameters": [
            (name.replace("_", " ").capitalize(), value) for name, value in sorted((run.hyperparameters or {}).items())
        ],
    }
    context["found_nothing"] = (
        run.status == TrainingRun.Status.SUCCEEDED and (evaluation.get("micro") or {}).get("f1", 0) == 0
    )
    version = ModelVersion.objects.filter(run=run).first()
    if version is not None:
        context.update(version=version, suggestion_stats=suggestion_statistics(version))
    calibration = (run.metrics or {}).get("calibration")
    if calibration:
        context["calibration"] = calibration_context(run.project, calibration)
    evaluation = (run.metrics or {}).get("evaluation")
    if run.status != TrainingRun.Status.SUCCEEDED or not evaluation:
        return context
    previous = (
        TrainingRun.objects.filter(
            project=run.project_id, status=TrainingRun.Status.SUCCEEDED, created_at__lt=run.created_at
        )
        .order_by("-created_at")
        .first()
    )
    before = ((previous.metrics or {}).get("evaluation") or {}).get("per_label", {}) if previous else {}
    intervals = evaluation.get("f1_intervals") or {}
    rows = []
    for label, scores in evaluation["per_label"].items():
        delta = scores["f1"] - before[label]["f1"] if label in before else None
        interval = (intervals.get("per_label") or {}).get(label)
        rows.append({"label": label, **scores, "delta": delta, "interval": interval})
    averages = [
        (name, {**evaluation[name], "interval": intervals.get(name)}) for name in ("micro", "macro", "weighted")
    ]
    supports = {label: scores["support"] for label, scores in evaluation["per_label"].items()}
    confusion = evaluation["confusion"]
    largest_off_diagonal = max(
        (v for i, row in enumerate(confusion["matrix"]) for j, v in enumerate(row) if i != j), default=0
    )
    context.update(
        rows=rows,
        averages=averages,
        previous=previous,
        confusion_labels=confusion["labels"],
        confusion_rows=[
            (label, [(value, _heat(value, largest_off_diagonal, i == j)) for j, value in enumerate(row)])
            for i, (label, row) in enumerate(zip(confusion["labels"], confusion["matrix"]))
        ],
        small_dev=small_dev_reasons(evaluation.get("documents") or 0, supports),
        f1_intervals=intervals,
    )
    return context


def calibration_context(project, calibration: dict) -> dict:
    """The temperature fitted on dev, the expected calibration error before and after it for
    tokens and for entities, a reliability diagram of each, and the confidence from which each
    label's suggestions reach the project's target precision on dev."""
    kinds = [("tokens", "Tokens", "each token's tag"), ("entities", "Entities", "each predicted entity, as suggested")]
    charts = []
    for key, name, what in kinds:
        series = [("perfect calibration", [(0.0, 0.0), (1.0, 1.0)], PERFECT_COLOUR)]
        series += [
            (
                f"{moment} calibration",
                [(b["confidence"], b["accuracy"]) for b in calibration[key][moment]["bins"]],
                colour,
            )
            for moment, colour in (("before", BEFORE_COLOUR), ("after", AFTER_COLOUR))
        ]
        title = f"{name}: accuracy by confidence ({what}), before and after calibration"
        charts.append(
            {
                "name": name,
                "svg": line_chart(series, title=title, x_label="confidence", y_range=(0.0, 1.0), x_range=(0.0, 1.0)),
            }
        )
    thresholds = []
    for label, curve in (calibration.get("precision_curves") or {}).items():
        reached = threshold_for(curve, project.target_precision)
        point = next((p for p in curve if p[0] == reached), None)
        thresholds.append(
            {
                "label": label,
                "threshold": reached,
                "precision": point[1] if point else None,
                "shown": point[2] if point else 0,
                "predicted": curve[-1][2] if curve else 0,
            }
        )
    return {
        "temperature": calibration["temperature"],
        "bins": calibration["bins"],
        "rows": [
            {"name": name, "what": what, "count": calibration[key]["after"]["count"]}
            | {moment: calibration[key][moment]["ece"] for moment in ("before", "after")}
            for key, name, what in kinds
        ],
        "charts": charts,
        "thresholds": thresholds,
        "target": project.target_precision,
        "floor": project.suggestion_threshold,
    }


def curve_chart(points: list[dict], colours: dict[str, str], title: str) -> str:
    """Micro F1 and each label's F1 against the training documents of `points`."""
    scored = [p for p in points if "micro" in p]
    labels = list(dict.fromkeys(label for p in scored for label in p["per_label"]))
    series = [("micro F1", [(p["documents"], p["micro"]) for p in scored], F1_COLOUR)]
    series += [
        (
            f"{label} F1",
            [(p["documents"], p["per_label"][label]) for p in scored if label in p["per_label"]],
            colours.get(label, LOSS_COLOUR),
        )
        for label in labels
    ]
    return line_chart(series, title=title, x_label="training documents", y_range=(0.0, 1.0))


def curve_words(points: list[dict]) -> dict:
    """The chart of `points` and what its fitted curve says (None below two sizes)."""
    return {"points": points, "advice": advice([(p["documents"], p["micro"]) for p in points if "micro" in p])}


def learning_curve_context(run: TrainingRun, project) -> dict:
    """The run report's learning curve: from the project's runs of this base model, and from
    the latest learning-curve run, each with a chart, legend and words."""
    labels = list(project.labels.all())
    colours = {label.name: label.color for label in labels}
    history = learning_curves.history_points(run)
    curve = learning_curves.latest(run)
    context = {
        "curve": curve,
        "curve_legend": labels,
        "history": {
            **curve_words(history),
            "chart": curve_chart(history, colours, "Dev F1 by training documents, one point per run")
            if len(history) > 1
            else "",
        },
    }
    if curve is not None and curve.points:
        context["curve_result"] = {
            **curve_words(curve.points),
            "chart": curve_chart(curve.points, colours, "Dev F1 on 25, 50, 75 and 100% of the training documents"),
            "skipped": [p for p in curve.points if "error" in p],
        }
    sources = [
        ("the learning-curve run", context.get("curve_result")),
        ("the runs of this project", context["history"]),
    ]
    context["verdicts"] = [(name, words["advice"]) for name, words in sources if words and words["advice"]]
    return context


def _heat(value: int, largest: int, diagonal: bool) -> int:
    """How red an off-diagonal cell is, in tenths (the stylesheet's heat-0 to heat-10)."""
    if diagonal or not largest:
        return 0
    return round(10 * min(1.0, value / largest))


def _duration(seconds) -> str | None:
    if seconds is None:
        return None
    seconds = int(seconds)
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def suggestion_statistics(version: ModelVersion) -> list[dict]:
    """Per label: suggestions shown, and the annotators' decisions on them (accepted as is,
    after an edit, rejected; one per annotator), with the model's precision as they see it."""
    rows = (
        Suggestion.objects.filter(model_version=version, shown_at__isnull=False)
        .values("label__name")
        .annotate(
            shown=Count("pk", distinct=True),
            accepted=Count("decisions", filter=Q(decisions__status=SuggestionDecision.Status.ACCEPTED)),
            edited=Count("decisions", filter=Q(decisions__status=SuggestionDecision.Status.EDITED)),
            rejected=Count("decisions", filter=Q(decisions__status=SuggestionDecision.Status.REJECTED)),
        )
        .order_by("label__name")
    )
    result = []
    for row in rows:
        decided = row["accepted"] + row["edited"] + row["rejected"]
        result.append(
            {
                "label": row["label__name"],
                "shown": row["shown"],
                "accepted": row["accepted"],
                "edited": row["edited"],
                "rejected": row["rejected"],
                "precision": (row["accepted"] + row["edited"]) / decided if decided else None,
            }
        )
    return result
