"""From what confidence a person sees a project's suggestions, label by label.

Without a choice of their own, each label of the active model shows from the lowest
confidence at which that model's dev predictions at or above it reached the project's
target precision (`Project.target_precision`; read from the precision curves the
calibration stored with the run, so a new target applies at once). No suggestion is ever
shown below the project's `suggestion_threshold`, which alone applies to labels the model
has no curve for (models trained before calibration, a label it never predicted on dev)
and to imported pre-annotations. A label whose dev predictions never reach the target
shows nothing.

A person may choose one threshold for themselves with the threshold control
(`PersonalThreshold`); it replaces all of the above in their own view.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from training.ml.evaluation import threshold_for
from training.models import ModelVersion, PersonalThreshold

NEVER = 1.01  # above every confidence: a label whose dev predictions never reach the target


@dataclass(frozen=True)
class ShownFrom:
    labels: dict[str, float]  # label -> lowest confidence shown (NEVER: none)
    others: float  # labels without their own threshold, and imported pre-annotations
    own: float | None  # the viewer's own choice, when they made one
    target: float

    def threshold(self, label: str) -> float:
        return self.labels.get(label, self.others)

    def allows(self, label: str, confidence: float) -> bool:
        return confidence >= self.threshold(label)

    def condition(self) -> Q:
        """The same rule as `allows`, on `Suggestion` rows."""
        others = Q(confidence__gte=self.others) & ~Q(label__name__in=list(self.labels))
        return others | Q(
            *[Q(label__name=label, confidence__gte=threshold) for label, threshold in self.labels.items()],
            _connector=Q.OR,
        )


def model_thresholds(project, version: ModelVersion | None) -> dict[str, float]:
    """Per label, the confidence from which `version`'s suggestions reach the project's target
    precision on dev, never below the project's `suggestion_threshold`."""
    if version is None:
        return {}
    calibration = (version.run.metrics or {}).get("calibration") or {}
    thresholds = {}
    for label, curve in (calibration.get("precision_curves") or {}).items():
        if not curve:
            continue
        reached = threshold_for(curve, project.target_precision)
        thresholds[label] = NEVER if reached is None else max(reached, project.suggestion_threshold)
    return thresholds


def shown_from(project, version: ModelVersion | None, user) -> ShownFrom:
    own = PersonalThreshold.objects.filter(project=project, user=user).values_list("threshold", flat=True).first()
    if own is not None:
        return ShownFrom(labels={}, others=own, own=own, target=project.target_precision)
    return ShownFrom(
        labels=model_thresholds(project, version),
        others=project.suggestion_threshold,
        own=None,
        target=project.target_precision,
    )


class BadThreshold(ValueError):
    """Not a confidence between 0 and 1; the message says so."""


def parse_threshold(value: str) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise BadThreshold(f"The threshold must be a number from 0 to 1, not {value!r}.") from None
    if not 0 <= threshold <= 1:
        raise BadThreshold(f"The threshold must be from 0 to 1, not {threshold:g}.")
    return threshold


@transaction.atomic
def choose_threshold(project, user, threshold: float | None) -> None:
    """Show `user` the project's suggestions from `threshold` on, whatever their label; None
    goes back to the model's thresholds. A choice of one's own view, not kept in the audit log."""
    if threshold is None:
        PersonalThreshold.objects.filter(project=project, user=user).delete()
    else:
        PersonalThreshold.objects.update_or_create(project=project, user=user, defaults={"threshold": threshold})


def threshold_control(project, shown: ShownFrom) -> dict:
    """What the threshold control shows: from what confidence each of the project's labels is
    shown, and why (the viewer's choice, the model's dev threshold, or the project's), and
    where its slider starts."""
    rows = []
    for label in project.labels.all():
        threshold = shown.threshold(label.name)
        source = "own" if shown.own is not None else "model" if label.name in shown.labels else "project"
        rows.append(
            {
                "label": label.name,
                "css_class": label.css_class,
                "threshold": threshold if threshold <= 1 else None,
                "source": source,
            }
        )
    # The slider starts at the viewer's choice, else at the lowest threshold that shows anything.
    shown_at = [row["threshold"] for row in rows if row["threshold"] is not None]
    slider = shown.own if shown.own is not None else min(shown_at, default=1.0)
    return {"shown_from": shown, "threshold_rows": rows, "slider": slider}
