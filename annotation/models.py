from pathlib import Path

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Func, Q

from annotation.text.formats.documents import LABEL_MAX_LENGTH

DEFAULT_LABELS = [("DISEASE", "#e4572e", "1"), ("TREATMENT", "#2e86ab", "2")]


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown, shown beside the text.")
    suggestion_threshold = models.FloatField(default=0.5, help_text="Suggestions below this confidence are not shown.")
    target_precision = models.FloatField(
        default=0.8,
        help_text="Each label's suggestions show from the lowest confidence at which this share of the model's "
        "predictions on the dev set, at or above it, was right.",
    )

    class DocumentOrder(models.TextChoices):
        SEQUENTIAL = "sequential", "Sequential"
        RANDOM = "random", "Random"
        UNCERTAIN = "uncertain", "Most uncertain first (lowest token confidence)"
        ENTROPY = "entropy", "Most uncertain first (highest mean entropy)"
        RARE_LABEL = "rare_label", "Rare label first"

    annotators_per_document = models.PositiveSmallIntegerField(
        default=0,
        help_text="Give each document to this many annotators, round robin (0: everyone sees every document).",
    )

    class TrainingSource(models.TextChoices):
        GOLD_FIRST = "gold_first", "Gold where reviewed, otherwise submitted annotations"
        GOLD_ONLY = "gold_only", "Reviewed (gold) annotations only"

    training_source = models.CharField(
        max_length=20,
        choices=TrainingSource,
        default=TrainingSource.GOLD_FIRST,
        help_text="Which annotations training uses.",
    )
    annotators_see_identifying = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Annotators see the text of identifying labels; otherwise it reaches them masked "
        "(reviewers and admins always see it).",
    )
    document_order = models.CharField(
        max_length=20,
        choices=DocumentOrder,
        default=DocumentOrder.SEQUENTIAL,
        help_text="Which document “next” goes to.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(suggestion_threshold__gte=0) & Q(suggestion_threshold__lte=1),
                name="project_threshold_range",
                violation_error_message="The suggestion threshold must be between 0 and 1.",
            ),
            models.CheckConstraint(
                condition=Q(target_precision__gte=0) & Q(target_precision__lte=1),
                name="project_target_precision_range",
                violation_error_message="The target precision must be between 0 and 1.",
            ),
        ]

    def __str__(self):
        return self.name


def first_words(text: str, count: int = 8) -> str:
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


class Label(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(
        max_length=LABEL_MAX_LENGTH,
        validators=[RegexValidator(r"^[A-Za-z0-9_]+$", "Use letters, digits and underscores only, e.g. DISEASE.")],
    )
    color = models.CharField(
        max_length=7,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #e4572e.")],
    )
    hotkey = models.CharField(max_length=1, blank=True)
    identifying = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Its text identifies a person: masked for annotators the project does not allow, and "
        "redacted by exports that ask for it.",
    )

    class Meta:
        ordering = ["hotkey", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="label_name_unique",
                violation_error_message="The project has a label of this name already.",
            ),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                condition=~Q(hotkey=""),
                name="label_hotkey_unique",
                violation_error_message="Another label of the project uses this hotkey.",
            ),
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="label_color_hex"),
        ]

    def __str__(self):
        return self.name

    @property
    def css_class(self) -> str:
        from annotation.rendering import colour_class

        return colour_class(self.color)


class Document(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the text.")
    token_starts = ArrayField(models.PositiveIntegerField(), default=list)
    token_ends = ArrayField(models.PositiveIntegerField(), default=list)
    # None lets the training split decide by a hash of the id.
    is_dev = models.BooleanField(null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("title", "external_id", "text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="document_text_unique_in_project"),
            models.CheckConstraint(condition=Q(text__regex=r"\S"), name="document_text_not_blank"),
        ]
        indexes = [
            models.Index(fields=["project", "id"], name="document_project_order"),
            GinIndex(fields=["search"], name="document_search"),
            models.Index(fields=["project", "external_id"], name="document_external_id"),
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        """How people recognise a document: its title, or else the first words of its text.
        Lists load only the text's opening (`opening`), not the whole note."""
        if self.title:
            return self.title
        text = self.__dict__.get("opening") or ("" if "text" in self.get_deferred_fields() else self.text)
        return first_words(text) or self.external_id or f"Document {self.pk}"

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        if getattr(self, "text_masked", False) and (fields is None or "text" in fields):
            raise ValueError("A document read with its identifying text masked cannot store its text.")
        super().save(*args, **kwargs)

    @property
    def token_count(self):
        return len(self.token_starts)


class Annotation(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"
        REVIEWED = "reviewed", "Reviewed"

    # Statuses of work that counts: training, agreement, exports of finished work.
    FINISHED = [Status.SUBMITTED, Status.REVIEWED]

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    status = models.CharField(max_length=20, choices=Status, default=Status.IN_PROGRESS)
    version = models.PositiveIntegerField(default=1, help_text="Raised on every change.")
    bio_tags = ArrayField(models.CharField(max_length=64), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The document's adjudicated annotation, built on the review page by a reviewer (its
    # `annotator`) apart from that reviewer's own version, which stays one candidate among
    # the others. Only gold is ever reviewed; only people's own versions are submitted.
    is_gold = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "annotator"], condition=Q(is_gold=False), name="annotation_one_per_annotator"
            ),
            models.UniqueConstraint(fields=["document"], condition=Q(is_gold=True), name="annotation_one_gold"),
            models.CheckConstraint(
                condition=Q(is_gold=False, status__in=["in_progress", "submitted"])
                | Q(is_gold=True, status__in=["in_progress", "reviewed"]),
                name="annotation_gold_status",
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "status"], name="annotation_annotator_status"),
            models.Index(fields=["status", "document"], name="annotation_status_document"),
        ]

    def __str__(self):
        return f"{self.document} by {self.annotator}"


class Span(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        IMPORTED = "imported", "Imported"
        SUGGESTION = "suggestion", "Model suggestion"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="spans")
    # Deleting a label in use is refused by the settings page; deleting a project takes all.
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="spans")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    source = models.CharField(max_length=20, choices=Source, default=Source.MANUAL)
    model_version = models.ForeignKey(
        "training.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_spans",
    )
    edited_before_accept = models.BooleanField(default=False)
    # The source's concept identifier (MeSH or OMIM in PubTator corpora), written back on export.
    concept_id = models.CharField(max_length=200, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__gte=0) & Q(start__lt=F("end")), name="span_start_before_end"),
            ExclusionConstraint(
                name="span_no_overlap",
                expressions=[
                    ("annotation", RangeOperators.EQUAL),
                    (Func(F("start"), F("end"), function="int4range"), RangeOperators.OVERLAPS),
                ],
            ),
        ]

    def __str__(self):
        return f"{self.label.name} {self.start}-{self.end}"


class ImportJob(models.Model):
    """One uploaded file on its way in: stored, mapped, then imported inline or in the background."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for label mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=30)
    options = models.JSONField(default=dict, blank=True)
    source_labels = models.JSONField(default=dict, blank=True, help_text="Label -> mention count.")
    # What reading the file found besides labels: the annotators it names (name -> documents),
    # and the quirks repaired on the way in, shown before anything is stored.
    preview = models.JSONField(default=dict, blank=True)
    document_count = models.PositiveIntegerField(default=0)
    label_mapping = models.JSONField(default=dict, blank=True)
    create_unmapped = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.UPLOADED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    summary = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.filename

    @property
    def can_retry(self):
        return self.status == self.Status.FAILED and bool(self.stored_path) and Path(self.stored_path).is_file()

    @property
    def is_finished(self):
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def percent(self):
        return round(100 * self.progress_done / self.progress_total) if self.progress_total else 0


class AnnotationChange(models.Model):
    """One step of an annotation's edit history, kept server-side for undo and redo.

    `removed` and `added` are the span rows the step deleted and inserted, as
    [start, end, label_id, source, model_version_id, edited_before_accept]: undo deletes the
    added rows and puts the removed ones back, redo does it again.
    """

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=30)
    removed = models.JSONField(default=list)
    added = models.JSONField(default=list)
    # Decisions on suggestions the step made ({suggestion id: "accepted" | "edited" | "rejected"}),
    # so that undoing it brings the suggestions back.
    decisions = models.JSONField(default=dict, blank=True)
    undone = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["annotation", "undone", "id"], name="change_history")]


class Membership(models.Model):
    """A person's role in a project. Staff see every project without one."""

    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        REVIEWER = "reviewer", "Reviewer"
        ADMIN = "admin", "Project admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) in {self.project}"


class Assignment(models.Model):
    """A document in an annotator's queue (when the project assigns documents)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "user"], name="assignment_unique")]
        indexes = [models.Index(fields=["user", "document"], name="assignment_queue")]
