"""Writes to projects, documents and annotations. Views, the API, tasks and commands call these."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.assistance import assistant
from annotation.bulk import copy_rows, reserve_ids
from annotation.models import DEFAULT_LABELS, Annotation, Assignment, Document, Label, Membership, Project, Span
from annotation.text.bio import SpanError, char_span_to_token_span, spans_to_tags
from annotation.text.formats.documents import ImportedDocument, validated
from annotation.text.tokenize import tokenize
from studio.audit import record

LABEL_PALETTE = ["#e4572e", "#2e86ab", "#76b041", "#9c6ade", "#f2a541", "#17bebb", "#d1495b"]
HOTKEYS = "123456789"
BATCH_SIZE = 2000


@dataclass
class ImportSummary:
    filename: str = ""
    documents_created: int = 0
    duplicates_skipped: int = 0
    annotations_imported: int = 0
    suggestions_imported: int = 0  # a pre-annotation to review, as suggestions
    annotations_added_to_existing: int = 0  # another annotator's work on a text the project held
    empty_annotations: int = 0  # annotations that found nothing to tag, imported as decided
    mentions_imported: int = 0
    mentions_dropped: int = 0
    mentions_off_token_edges: int = 0  # on a text the project held, not on its token edges
    nested_dropped: int = 0
    mentions_trimmed: int = 0
    tags_repaired: int = 0
    forced_splits: int = 0
    labels_created: list[str] = field(default_factory=list)
    label_mapping: dict[str, str] = field(default_factory=dict)  # incoming name -> label ("" dropped)
    annotators: list[str] = field(default_factory=list)  # the accounts the file's annotations went to

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PROJECT_NAME_TAKEN = "A project of this name exists already."


class ProjectRefused(Exception):
    """The user may not create another project; the message says why."""


@transaction.atomic
def create_project(name: str, *, description="", guidelines="", created_by=None) -> Project:
    if created_by is not None and not created_by.is_staff:
        made = Project.objects.filter(created_by=created_by).count()
        if made >= settings.MAX_PROJECTS_PER_USER:
            raise ProjectRefused(
                f"You have created {made} projects, the most one person may; ask a staff member to create this one."
            )
    project = Project.objects.create(name=name, description=description, guidelines=guidelines, created_by=created_by)
    Label.objects.bulk_create(
        Label(project=project, name=label, color=color, hotkey=hotkey) for label, color, hotkey in DEFAULT_LABELS
    )
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.ADMIN)
    record(created_by, "project.create", project_id=project.pk, obj=project, after={"name": name})
    return project


def create_document(project: Project, text: str, *, title: str = "", external_id: str = "", metadata=None) -> Document:
    """One document, tokenised; the import path does the same in bulk."""
    tokens = tokenize(text)
    return Document.objects.create(
        project=project,
        title=title,
        external_id=external_id,
        text=text,
        metadata=metadata or {},
        content_hash=content_hash(text),
        token_starts=tokens.starts,
        token_ends=tokens.ends,
    )


# What a project's settings are, in the order the page and the API show them.
PROJECT_SETTINGS = [
    "name",
    "description",
    "guidelines",
    "suggestion_threshold",
    "target_precision",
    "document_order",
    "training_source",
    "annotators_per_document",
    "annotators_see_identifying",
]


def save_project_settings(project: Project, *, actor=None) -> int:
    """Store the settings changed on `project` (settings page and API), record what changed,
    and give documents to annotators if the assignment asks for more. Returns how many
    documents were newly assigned."""
    with transaction.atomic():
        stored = Project.objects.select_for_update().get(pk=project.pk)
        changed = [name for name in PROJECT_SETTINGS if getattr(stored, name) != getattr(project, name)]
        project.save()
        if changed:
            record(
                actor,
                "project.update",
                project_id=project.pk,
                obj=project,
                before={name: getattr(stored, name) for name in changed},
                after={name: getattr(project, name) for name in changed},
            )
        return assign_documents(project)


def set_evaluation_split(document: Document, is_dev: bool | None, *, actor=None) -> None:
    """Pin a document to the dev split (True) or to training (False), or leave it to the hash."""
    with transaction.atomic():
        before = Document.objects.select_for_update().values_list("is_dev", flat=True).get(pk=document.pk)
        document.is_dev = is_dev
        document.save(update_fields=["is_dev"])
        if before != is_dev:
            record(
                actor,
                "document.split",
                project_id=document.project_id,
                document_id=document.pk,
                obj=document,
                before=before,
                after=is_dev,
            )


def add_label(project: Project, name: str) -> Label:
    existing = list(project.labels.all())
    used_hotkeys = {label.hotkey for label in existing}
    return Label.objects.create(
        project=project,
        name=name,
        color=LABEL_PALETTE[len(existing) % len(LABEL_PALETTE)],
        hotkey=next((key for key in HOTKEYS if key not in used_hotkeys), ""),
    )


def save_label(label: Label, *, actor=None) -> Label:
    """Add a label, or rename, recolour or re-key one (settings page and API).

    A rename changes what annotations' stored tags say; a database trigger rewrites them in
    this transaction, whichever path renames. Locking the project and the label first (in
    the trigger's order) makes imports and edits that use the label finish before the
    rename, and later ones wait for it.
    """
    with transaction.atomic():
        before = None
        if label.pk is not None:
            lock_project(label.project)
            before = _label_values(Label.objects.select_for_update().get(pk=label.pk))
        label.save()
        record(
            actor,
            "label.update" if before else "label.create",
            project_id=label.project_id,
            obj=label,
            before=before,
            after=_label_values(label),
        )
    return label


def _label_values(label: Label) -> dict:
    return {"name": label.name, "color": label.color, "hotkey": label.hotkey, "identifying": label.identifying}


class LabelInUse(Exception):
    pass


def delete_label(label: Label, *, actor=None) -> None:
    """Delete a label no span uses. The row lock makes a span saved meanwhile wait, then fail,
    rather than vanish with the label."""
    with transaction.atomic():
        locked = Label.objects.select_for_update().get(pk=label.pk)
        if locked.spans.exists():
            raise LabelInUse(f"{label.name} is used by spans; relabel or delete them before deleting the label.")
        record(actor, "label.delete", project_id=locked.project_id, obj=locked, before=_label_values(locked))
        locked.delete()


def labels_by_name(project: Project) -> dict[str, Label]:
    """The project's labels by upper-case name: incoming names match them case-insensitively."""
    return {label.name.upper(): label for label in project.labels.all()}


def resolve_label_mapping(
    project: Project,
    source_labels: set[str],
    mapping: dict[str, str] | None,
    *,
    create_unmapped: bool,
) -> tuple[dict[str, Label | None], list[str]]:
    """Decide, for each incoming label name, the project label it becomes (None: dropped).

    `mapping` maps incoming names to project label names; a name missing from it keeps
    its own name when the project has that label (case-insensitively), and is otherwise
    created or dropped as the user chose. An explicit empty target drops the label.
    """
    mapping = mapping or {}
    labels = labels_by_name(project)
    resolved: dict[str, Label | None] = {}
    created: list[str] = []
    for source in sorted(source_labels):
        target = mapping.get(source, source).strip()
        if not target:
            resolved[source] = None
        elif target.upper() in labels:
            resolved[source] = labels[target.upper()]
        elif create_unmapped or source in mapping:
            label = add_label(project, target)
            labels[target.upper()] = label
            resolved[source] = label
            created.append(target)
        else:
            resolved[source] = None
    return resolved, created


@transaction.atomic
def import_documents(
    project: Project,
    documents: Sequence[ImportedDocument],
    *,
    importer,
    filename: str = "",
    label_mapping: dict[str, str] | None = None,
    create_unmapped: bool = True,
    annotation_status: str = Annotation.Status.SUBMITTED,
    annotator=None,
    as_suggestions: bool = False,
    on_progress=None,
) -> ImportSummary:
    """Store one file's documents, all or nothing.

    Each annotation the file holds becomes one: the annotators it names get their own
    (accounts matched or made by `annotation.annotators`), and mentions it names no one for
    go to `annotator`, or else to `importer`. When the file carries annotations at all,
    a document without mentions was decided to hold none: with `annotation_status`
    submitted it gets an empty annotation, which counts in training and finished exports.
    With `as_suggestions`, the mentions become suggestions for annotators to accept or
    reject (a pre-annotation to review) instead of anyone's annotation.
    A text the project holds already is not stored twice; annotators who have no
    annotation of it yet get theirs added to it.
    """
    from annotation.annotators import accounts_for

    lock_project(project)
    summary = ImportSummary(filename=filename)
    source_labels = {label for doc in documents for _, _, label in doc.all_mentions()}
    labels, summary.labels_created = resolve_label_mapping(
        project, source_labels, label_mapping, create_unmapped=create_unmapped
    )
    summary.label_mapping = {source: label.name if label else "" for source, label in labels.items()}
    named = {a.annotator for doc in documents for a in doc.annotations if a.annotator}
    accounts = accounts_for(project, named, importer=importer) if named else {}
    owner = annotator or importer
    accounts[""] = owner
    carries_annotations = any(doc.annotated or doc.all_mentions() for doc in documents)
    empty_decided = carries_annotations and annotation_status == Annotation.Status.SUBMITTED and not as_suggestions
    held = _held_documents(project, [content_hash(doc.text) for doc in documents])

    now = timezone.now()
    for offset in range(0, len(documents), BATCH_SIZE):
        batch = documents[offset : offset + BATCH_SIZE]
        rows, pending = [], []
        for doc in batch:
            summary.nested_dropped += doc.nested_dropped
            summary.mentions_trimmed += doc.trimmed
            summary.tags_repaired += doc.repaired
            by_person: dict = {}
            for annotation in doc.annotations:  # one annotation each: a person's first in the file
                by_person.setdefault(accounts[annotation.annotator], annotation.mentions)
            people = list(by_person.items())
            if not people and (doc.mentions or (doc.annotated is not False and empty_decided)):
                people = [(owner, doc.mentions)]
            digest = content_hash(doc.text)
            if digest in held:
                document, annotated_by = held[digest]
                added = [(user, mentions) for user, mentions in people if user.pk not in annotated_by]
                if not added:
                    summary.duplicates_skipped += 1
                    continue
                kept = [(user, _on_token_edges(document, mentions, summary)) for user, mentions in added]
                summary.annotations_added_to_existing += len(kept)
            else:
                if doc.tokens is not None:
                    starts = [start for start, _ in doc.tokens]
                    ends = [end for _, end in doc.tokens]
                else:
                    edges = [edge for _, mentions in people for s, e, _ in mentions for edge in (s, e)]
                    tokens = tokenize(doc.text, edges)
                    starts, ends = tokens.starts, tokens.ends
                    summary.forced_splits += tokens.forced_splits
                document = Document(
                    project=project,
                    title=doc.title[:500],
                    external_id=doc.external_id[:200],
                    text=doc.text,
                    metadata=doc.metadata,
                    content_hash=digest,
                    token_starts=starts,
                    token_ends=ends,
                    created_at=now,
                )
                rows.append(document)
                held[digest] = (document, set())
                kept = people
            for user, mentions in kept:
                labelled = [
                    (s, e, labels[name], doc.concepts.get((s, e, name), "")) for s, e, name in mentions if labels[name]
                ]
                summary.mentions_dropped += len(mentions) - len(labelled)
                summary.mentions_imported += len(labelled)
                summary.empty_annotations += not mentions
                held[digest][1].add(user.pk)
                pending.append((document, user, labelled))
        _copy_documents(rows)
        summary.documents_created += len(rows)
        if as_suggestions:
            proposals = {(document, label, s, e) for document, _, mentions in pending for s, e, label, _ in mentions}
            assistant().import_suggestions(sorted(proposals, key=lambda p: (p[0].pk, p[2], p[3], p[1].pk)))
            summary.suggestions_imported += len(proposals)
        else:
            _create_imported_annotations(pending, status=annotation_status, now=now)
            summary.annotations_imported += len(pending)
            summary.annotators = sorted({*summary.annotators, *(user.get_username() for _, user, _ in pending)})
        if on_progress:
            on_progress(min(offset + BATCH_SIZE, len(documents)), len(documents))
    assign_documents(project)
    record(
        importer,
        "documents.import",
        project_id=project.pk,
        obj=project,
        after={key: value for key, value in summary.as_dict().items() if value},
    )
    return summary


def _on_token_edges(document: Document, mentions, summary: ImportSummary) -> list:
    """The mentions that fit a stored document's tokens; the rest are counted."""
    kept = []
    for start, end, label in mentions:
        try:
            char_span_to_token_span(document.token_starts, document.token_ends, start, end)
        except SpanError:
            summary.mentions_off_token_edges += 1
        else:
            kept.append((start, end, label))
    return kept


class DocumentsRejected(Exception):
    """Some documents of a bulk request are invalid, so none was stored."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(f"{len(errors)} document{'s' if len(errors) != 1 else ''} invalid")


@dataclass
class AddedDocument:
    id: int
    created: bool  # False: the project held this text already, and its spans were not imported


def document_errors(project: Project, documents: list[ImportedDocument]) -> dict[int, dict[str, list[str]]]:
    """Per document (by position): what stops it from being stored."""
    labels = labels_by_name(project)
    errors: dict[int, dict[str, list[str]]] = {}
    for index, document in enumerate(documents):
        unknown = sorted({name for _, _, name in document.mentions if name.upper() not in labels})
        if unknown:
            errors[index] = {
                "spans": [
                    f"{', '.join(unknown)} {'is not a label' if len(unknown) == 1 else 'are not labels'} of this "
                    f"project; its labels are {', '.join(label.name for label in labels.values())}."
                ]
            }
            continue
        validated(document, drop_nested=False)  # a script sending nested spans should hear of it
        if document.problems:
            about_spans = [problem for problem in document.problems if "mention" in problem]
            about_text = [problem for problem in document.problems if "mention" not in problem]
            errors[index] = {key: found for key, found in (("text", about_text), ("spans", about_spans)) if found}
    return errors


def add_documents(
    project: Project, documents: list[ImportedDocument], *, user, annotation_status: str
) -> tuple[ImportSummary, list[AddedDocument]]:
    """Store a batch of documents, with their spans as `user`'s annotations: every one is
    checked first, and one invalid document stores none."""
    errors = document_errors(project, documents)
    if errors:
        raise DocumentsRejected(errors)
    hashes = [content_hash(document.text) for document in documents]
    with transaction.atomic():
        lock_project(project)
        known = held_texts(project, hashes)
        # Every name is a project label (checked above), which the mapping finds by itself.
        summary = import_documents(
            project, documents, importer=user, create_unmapped=False, annotation_status=annotation_status
        )
        ids = dict(Document.objects.filter(project=project, content_hash__in=hashes).values_list("content_hash", "pk"))
    added = []
    for digest in hashes:
        added.append(AddedDocument(ids[digest], created=digest not in known))
        known.add(digest)
    return summary, added


def lock_project(project: Project) -> None:
    """Serialise writers that check, then insert, per project (imports, activations): two
    at once would both pass the check and one would fail on the unique constraint."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _copy_documents(documents: list[Document]) -> None:
    for document, pk in zip(documents, reserve_ids(Document, len(documents))):
        document.pk = pk
    copy_rows(
        Document,
        [
            "id",
            "project_id",
            "title",
            "external_id",
            "text",
            "metadata",
            "content_hash",
            "token_starts",
            "token_ends",
            "created_at",
        ],
        (
            (
                d.pk,
                d.project_id,
                d.title,
                d.external_id,
                d.text,
                d.metadata,
                d.content_hash,
                d.token_starts,
                d.token_ends,
                d.created_at,
            )
            for d in documents
        ),
    )


def held_texts(project: Project, hashes: list[str]) -> set[str]:
    """Which of these text hashes the project holds already."""
    held = set()
    for offset in range(0, len(hashes), 10_000):
        documents = Document.objects.filter(project=project, content_hash__in=hashes[offset : offset + 10_000])
        held.update(documents.values_list("content_hash", flat=True))
    return held


def _held_documents(project: Project, hashes: list[str]) -> dict[str, tuple[Document, set[int]]]:
    """The project's documents with these texts, each with the ids of who annotated it."""
    held: dict[str, tuple[Document, set[int]]] = {}
    for offset in range(0, len(hashes), 10_000):
        chunk = hashes[offset : offset + 10_000]
        documents = Document.objects.filter(project=project, content_hash__in=chunk).only(
            "pk", "content_hash", "token_starts", "token_ends"
        )
        for document in documents:
            held[document.content_hash] = (document, set())
    if held:
        by_pk = {document.pk: digest for digest, (document, _) in held.items()}
        for document_id, user_id in Annotation.objects.filter(document_id__in=by_pk, is_gold=False).values_list(
            "document_id", "annotator_id"
        ):
            held[by_pk[document_id]][1].add(user_id)
    return held


def _create_imported_annotations(pending, *, status, now):
    """One annotation per (document, annotator, mentions), with its spans, by COPY."""
    submitted_at = None if status == Annotation.Status.IN_PROGRESS else now
    ids = reserve_ids(Annotation, len(pending))
    copy_rows(
        Annotation,
        [
            "id",
            "document_id",
            "annotator_id",
            "status",
            "version",
            "bio_tags",
            "created_at",
            "updated_at",
            "submitted_at",
        ],
        (
            (
                pk,
                document.pk,
                user.pk,
                status,
                1,
                spans_to_tags(
                    document.token_starts,
                    document.token_ends,
                    [(start, end, label.name) for start, end, label, _ in mentions],
                ),
                now,
                now,
                submitted_at,
            )
            for pk, (document, user, mentions) in zip(ids, pending)
        ),
    )
    copy_rows(
        Span,
        ["annotation_id", "label_id", "start", "end", "source", "edited_before_accept", "concept_id", "created_at"],
        (
            (pk, label.pk, start, end, Span.Source.IMPORTED, False, concept, now)
            for pk, (_, _, mentions) in zip(ids, pending)
            for start, end, label, concept in mentions
        ),
    )


class MembershipRefused(Exception):
    pass


def set_role(project: Project, username: str, role: str, *, actor=None) -> Membership:
    from django.contrib.auth import get_user_model

    name = username.strip()
    if not name:
        raise MembershipRefused("Enter the username of the person to add.")
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if actor is not None and not actor.is_staff:
        # Someone who may not list users must not learn from this form who has an account:
        # they add people they already work with, and hear the same about anyone else.
        if user is None or not _share_a_project(actor, user):
            raise MembershipRefused(
                f"You can add people who already share a project with you; ask a staff member to add {name!r}."
            )
    elif user is None:
        raise MembershipRefused(f"There is no active user named {name!r}.")
    if role not in Membership.Role.values:
        raise MembershipRefused(f"{role!r} is not a role; choose annotator, reviewer or project admin.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
        if membership and membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN:
            _keep_an_admin(project, leaving=membership)
        before = membership.role if membership else None
        membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
        record(
            actor,
            "membership.update",
            project_id=project.pk,
            obj=membership,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": role},
        )
    return membership


def _share_a_project(one, other) -> bool:
    return Membership.objects.filter(user=other, project__memberships__user=one).exists()


def remove_member(project: Project, membership: Membership, *, actor=None) -> None:
    with transaction.atomic():
        if membership.role == Membership.Role.ADMIN:
            _keep_an_admin(project, leaving=membership)
        record(
            actor,
            "membership.remove",
            project_id=project.pk,
            obj=membership,
            before={"user": membership.user.get_username(), "role": membership.role},
        )
        membership.delete()


def _keep_an_admin(project: Project, *, leaving: Membership) -> None:
    others = project.memberships.filter(role=Membership.Role.ADMIN).exclude(pk=leaving.pk)
    if not others.select_for_update().exists():
        raise MembershipRefused(f"{leaving.user} is the project's last admin; make someone else admin first.")


def assign_documents(project: Project) -> int:
    """Give every document that has fewer than N annotators more, round robin over the
    project's annotators. Returns how many assignments were made."""
    wanted = project.annotators_per_document
    annotators = list(
        project.memberships.filter(role=Membership.Role.ANNOTATOR)
        .order_by("user__username")
        .values_list("user_id", flat=True)
    )
    if not wanted or not annotators:
        return 0
    wanted = min(wanted, len(annotators))
    existing: dict[int, set[int]] = {}
    for document_id, user_id in Assignment.objects.filter(document__project=project).values_list(
        "document_id", "user_id"
    ):
        existing.setdefault(document_id, set()).add(user_id)
    turn = sum(map(len, existing.values()))
    created = []
    for document_id in Document.objects.filter(project=project).order_by("pk").values_list("pk", flat=True):
        holders = existing.get(document_id, set())
        while len(holders) < wanted:
            user_id = annotators[turn % len(annotators)]
            turn += 1
            if user_id not in holders:
                holders = holders | {user_id}
                created.append(Assignment(document_id=document_id, user_id=user_id))
    Assignment.objects.bulk_create(created, ignore_conflicts=True)
    return len(created)
