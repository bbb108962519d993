"""The "Try it" page: the active model on any text typed in."""

import math

from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from annotation.access import project_for
from annotation.rendering import SpanView, render_text
from annotation.text.tokenize import tokenize
from studio import access_log
from training import prediction
from training.models import ModelVersion
from training.thresholds import shown_from, threshold_control
from training.throttles import PredictThrottle


@require_GET
def page(request, project_id):
    project = project_for(request.user, project_id)
    version = ModelVersion.objects.active_for(project)
    context = {"project": project, "version": version, "project_id": project.pk}
    if version is not None:
        context.update(threshold_control(project, shown_from(project, version, request.user)))
    return render(request, "training/try_it.html", context)


@require_POST
def predict(request, project_id):
    project = project_for(request.user, project_id)
    text = request.POST.get("text", "")
    throttle = PredictThrottle()
    if not throttle.allow_request(request, None):
        wait = math.ceil(throttle.wait() or 1)
        return render(
            request,
            "training/partials/prediction.html",
            {"error": f"Too many predictions in a row; try again in {wait} s."},
        )
    try:
        version, found = prediction.predict(project, text)
    except prediction.PredictionRefused as refused:
        return render(request, "training/partials/prediction.html", {"error": str(refused)})
    prediction.log_prediction(request.user, project, version, text, via=access_log.Via.PAGE)
    shown = shown_from(project, version, request.user)
    hidden = sum(not shown.allows(s.label, s.confidence) for s in found)
    found = [s for s in found if shown.allows(s.label, s.confidence)]
    colours = {label.name: label.color for label in project.labels.all()}
    tokens = tokenize(text)
    marks = [
        SpanView(index, s.start, s.end, s.label, colours.get(s.label, "#888888"), confidence=s.confidence)
        for index, s in enumerate(found)
    ]
    context = {
        "version": version,
        "html": render_text(text, tokens.starts, tokens.ends, marks),
        "found": [{"text": text[s.start : s.end], **s.to_dict()} for s in found],
        "hidden": hidden,
    }
    return render(request, "training/partials/prediction.html", context)
