"""Who may see and do what, in one place: every page, partial, export, download and API
endpoint gets its project through `project_for`, so an object in a project the user does not
belong to is a 404, and a role too low for the action is a 403. A document comes with the
text its visitor may read (`masking`)."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from annotation.masking import mask_for_visitor
from annotation.models import Document, Membership, Project
from studio.users import creates_projects

Role = Membership.Role
RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def visible_projects(user) -> QuerySet[Project]:
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def check_creates_projects(user) -> None:
    if not creates_projects(user):
        raise PermissionDenied(
            "Only staff, and people a staff member has allowed to, create projects: "
            "ask a staff member to create this one for you, or to allow you."
        )


def role_in(user, project: Project) -> str | None:
    if user.is_staff:
        return Role.ADMIN
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def project_for(user, project_id, role: str = Role.ANNOTATOR) -> Project:
    """The project, if `user` belongs to it with at least `role`. One query: every page and
    API call starts here."""
    if user.is_staff:
        project, held = Project.objects.filter(pk=project_id).first(), Role.ADMIN
    else:
        membership = Membership.objects.select_related("project").filter(project_id=project_id, user=user).first()
        project, held = (membership.project, membership.role) if membership else (None, None)
    if project is None:
        raise Http404("No such project.")
    if RANK[held] < RANK[role]:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {project.name}.")
    project.role, project.visitor = held, user
    return project


def uses_assignments(project: Project, user) -> bool:
    """Annotators of a project that assigns documents see only their own queue."""
    return bool(project.annotators_per_document) and role_in(user, project) == Role.ANNOTATOR


def document_for(project: Project, document_id, queryset=None):
    """A document of `project` (from `project_for`) that its visitor may open: where the
    project assigns documents, an annotator's own queue only. Anything else is a 404."""
    documents = (queryset if queryset is not None else Document.objects).filter(project=project)
    if project.annotators_per_document and project.role == Role.ANNOTATOR:
        documents = documents.filter(assignments__user=project.visitor)
    document = documents.filter(pk=document_id).first()
    if document is None:
        raise Http404("No such document in your queue.")
    document.project = project
    mask_for_visitor(project, [document])
    return document
