"""Request-time prediction on any text with a project's active model (the "Try it" page and
the API's predict endpoint)."""

import logging

from django.conf import settings

from annotation.models import Project
from studio import access_log
from training.models import ModelVersion

logger = logging.getLogger(__name__)


def log_prediction(user, project: Project, version: ModelVersion, text: str, *, via: str) -> None:
    """A prediction on a typed text reads no stored document: the log keeps its size and model."""
    detail = f"a text of {len(text):,} characters, model v{version.pk}"
    access_log.record(user, access_log.Action.PREDICT, via=via, project=project, detail=detail)


class PredictionRefused(Exception):
    """No prediction is possible; the message says why."""


class ModelUnavailable(PredictionRefused):
    """The project has no usable active model: none yet, or its files are gone."""


def predict(project: Project, text: str) -> tuple[ModelVersion, list]:
    """Entities the active model finds in any text (the "Try it" page and the API)."""
    from training.ml.inference import load_predictor

    if not isinstance(text, str) or not text.strip():
        raise PredictionRefused("Type or paste some text to see what the model finds.")
    if "\0" in text:
        raise PredictionRefused("The text contains a NUL character.")
    limit = settings.PREDICT_MAX_CHARACTERS
    if len(text) > limit:
        raise PredictionRefused(f"The text has {len(text):,} characters; the limit is {limit:,}.")
    version = ModelVersion.objects.active_for(project)
    if version is None:
        raise ModelUnavailable("This project has no active model yet: train one first.")
    try:
        predictor = load_predictor(version.artifact_path)
    except Exception as error:  # a missing or damaged model directory fails in many ways
        logger.exception("model %s could not be loaded", version.pk)
        raise ModelUnavailable(f"The active model (v{version.pk}) could not be loaded: {error}") from None
    return version, predictor.predict_text(text).suggestions
