"""Training runs and model versions: start, watch, cancel, activate, delete."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.access import Role, project_for
from studio import access_log
from studio.navigation import redirect_to_next
from training import forgetting, learning_curves, preannotation, reports, services
from training.forms import TrainingForm
from training.ml.data import Hyperparameters
from training.models import ModelVersion, TrainingRun
from training.plan import plan_run


@require_http_methods(["GET", "POST"])
def train(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    try:
        annotations, warnings = services.check_training_data(project)
        data_refusal = None
    except services.TrainingRefused as error:
        annotations, warnings, data_refusal = [], [], str(error)
    defaults = services.default_options(annotations)
    form = TrainingForm(request.POST or None, initial=defaults)
    active = services.runs_of(project).filter(status__in=TrainingRun.QUEUED_OR_RUNNING).first()
    refusal, plan, status = None, None, 200
    if request.method == "POST" and form.is_valid():
        try:
            run = services.start_run(project, request.user, form.hyperparameters())
        except services.RunAlreadyActive as error:
            active, refusal, status = error.run, str(error), 409
        except services.TrainingRefused as error:
            refusal, status = str(error), 400
        else:
            return redirect("training_run", project.pk, run.pk)
    elif request.method == "POST":
        status = 400
    refusal = refusal or data_refusal
    if refusal is None:
        asked = TrainingForm(request.POST if request.method == "POST" else request.GET)
        plan = plan_run(annotations, _planned_hyperparameters(asked, defaults), services.base_model())
    if request.htmx and request.method == "GET":  # an option changed: the plan for it
        if plan is None or active:  # training cannot start now: the page says why once reloaded
            return HttpResponse(status=204)
        return render(request, "training/partials/training_plan.html", {"plan": plan})
    context = {
        "project": project,
        "form": form,
        "active": active,
        "refusal": refusal,
        "warnings": warnings + (plan.warnings if plan else []),
        "plan": plan,
    }
    return render(request, "training/train.html", context, status=status)


def _planned_hyperparameters(form: TrainingForm, defaults: dict) -> Hyperparameters:
    """The options typed so far, each where it is valid and else its default: what the page's
    estimate is for."""
    form.is_valid()
    return Hyperparameters(**{**defaults, **form.hyperparameters()})


@require_GET
def runs(request, project_id):
    project = project_for(request.user, project_id)
    runs = list(services.runs_of(project).select_related("started_by", "model_version"))
    forgetting.count_deleted_documents(runs)
    return render(request, "training/runs.html", {"project": project, "runs": runs})


@require_GET
def run_detail(request, project_id, run_id):
    project = project_for(request.user, project_id)
    run = get_object_or_404(services.runs_of(project).select_related("model_version"), pk=run_id)
    preannotation.fail_stale_preannotations(project)
    context = {"project": project, "run": run, "may_read_errors": reports.may_read_errors(project.role)}
    if context["may_read_errors"]:
        context.update(reports.error_list_context(run, project, request.GET))
        reports.record_quoted_reads(request.user, project, run, context["errors"], via=access_log.Via.PAGE)
    status = 400 if "filters" in context and context["filters"].errors else 200
    if request.htmx:  # the error list's filters
        return render(request, "training/partials/error_list.html", context, status=status)
    context.update(reports.run_context(run, project.role))
    if run.status == TrainingRun.Status.SUCCEEDED:
        context.update(reports.learning_curve_context(run, project))
    return render(request, "training/run.html", context, status=status)


@require_POST
def learning_curve_start(request, project_id, run_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    try:
        learning_curves.start(run, request.user)
    except services.TrainingRefused as error:
        messages.error(request, str(error))
    else:
        messages.info(request, "Learning curve queued: four models train in the background; the active model stays.")
    return redirect(reverse("training_run", args=[project.pk, run.pk]) + "#learning-curve")


@require_GET
def learning_curve_progress(request, project_id, run_id):
    project = project_for(request.user, project_id)
    run = get_object_or_404(services.runs_of(project), pk=run_id)
    context = {"project": project, "run": run, **reports.learning_curve_context(run, project)}
    return render(request, "training/partials/learning_curve.html", context)


@require_GET
def run_progress(request, project_id, run_id):
    project = project_for(request.user, project_id)
    run = get_object_or_404(services.runs_of(project), pk=run_id)
    context = {"project": project, "run": run, **reports.progress_context(run)}
    response = render(request, "training/partials/run_progress.html", context)
    if not run.is_queued_or_running:
        response["HX-Refresh"] = "true"  # show the finished report
    return response


@require_POST
def run_cancel(request, project_id, run_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    if run.is_queued_or_running:
        services.cancel_run(run, actor=request.user)
        messages.info(request, "Cancelling: the run stops after its current step.")
    return redirect("training_run", project_id, run.pk)


@require_POST
@transaction.atomic  # whatever fails after the activation takes it back
def version_activate(request, project_id, version_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    services.activate(version, actor=request.user)
    messages.success(request, f"{version} is now the active model; suggestions use it.")
    return redirect_to_next(request, reverse("training_runs", args=[project_id]))


@require_POST
def version_delete(request, project_id, version_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    if version.is_active:
        messages.error(request, "Activate another version before deleting the active one.")
    else:
        services.delete_version(version, actor=request.user)
        messages.success(request, f"{version} deleted and its files removed.")
    return redirect("training_runs", project_id)


@require_GET
def preannotation_progress(request, project_id, version_id):
    project = project_for(request.user, project_id)
    preannotation.fail_stale_preannotations(project)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    return render(request, "training/partials/preannotation.html", {"project": project, "version": version})
