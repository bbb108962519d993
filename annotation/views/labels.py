"""Adding, renaming, recolouring and deleting a project's labels."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from annotation.access import Role, project_for
from annotation.forms import (
    LabelForm,
)
from annotation.models import Label
from annotation.services import (
    LabelInUse,
    delete_label,
    save_label,
)


@require_POST
def label_save(request, project_id, label_id=None):
    project = project_for(request.user, project_id, Role.ADMIN)
    label = get_object_or_404(Label, pk=label_id, project=project) if label_id else None
    form = LabelForm(request.POST, instance=label, project=project)
    if form.is_valid():
        save_label(form.save(commit=False), actor=request.user)
        messages.success(request, f"Label {form.instance.name} saved.")
    else:
        for field, errors in form.errors.items():
            name = form.fields[field].label if field in form.fields else "Label"
            messages.error(request, f"{name}: {' '.join(errors)}")
    return redirect("project_settings", project.pk)


@require_POST
def label_delete(request, project_id, label_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    label = get_object_or_404(Label, pk=label_id, project=project)
    try:
        delete_label(label, actor=request.user)
    except LabelInUse as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Label {label.name} deleted.")
    return redirect("project_settings", project_id)
