from django.db.models import Count, Q
from django.shortcuts import render

from annotation.models import Annotation, Project


def project_list(request):
    projects = (
        Project.objects.prefetch_related("labels")
        .annotate(
            document_count=Count("documents", distinct=True),
            submitted_count=Count(
                "documents__annotations",
                filter=Q(documents__annotations__status=Annotation.Status.SUBMITTED),
                distinct=True,
            ),
        )
        .order_by("name")
    )
    return render(request, "annotation/project_list.html", {"projects": projects})
