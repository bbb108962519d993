from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    QUEUED_OR_RUNNING = [Status.QUEUED, Status.RUNNING]

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="training_runs")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.QUEUED)
    hyperparameters = models.JSONField(default=dict)
    base_model = models.CharField(max_length=500, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(null=True, blank=True)
    data_snapshot = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_project",
            ),
        ]

    def __str__(self):
        return f"Run {self.pk} ({self.status})"

    @property
    def is_queued_or_running(self):
        return self.status in self.QUEUED_OR_RUNNING

    @property
    def percent(self):
        total = self.progress.get("total_steps") or 0
        return min(100, round(100 * self.progress.get("step", 0) / total)) if total else 0


class ModelVersionQuerySet(models.QuerySet):
    def active_for(self, project) -> "ModelVersion | None":
        """The version a project's suggestions and predictions come from, if any."""
        return self.filter(project=project, is_active=True).first()


class ModelVersion(models.Model):
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="model_versions")
    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="model_version")
    artifact_path = models.CharField(max_length=500)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Preannotation(models.TextChoices):
        """Pre-annotation of the project's unfinished documents with this version."""

        NOT_REQUESTED = "", "Not requested"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    preannotation_status = models.CharField(max_length=20, choices=Preannotation, blank=True)
    preannotation_done = models.PositiveIntegerField(default=0)
    preannotation_total = models.PositiveIntegerField(default=0)
    preannotation_error = models.TextField(blank=True)
    preannotation_heartbeat_at = models.DateTimeField(null=True, blank=True)
    preannotation_started_at = models.DateTimeField(null=True, blank=True)
    preannotation_characters = models.PositiveBigIntegerField(default=0, help_text="Text the last pre-annotation read.")

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_active=True), name="one_active_model_per_project"
            ),
        ]

    def __str__(self):
        return f"Model v{self.pk}"

    def preannotation_consumers(self) -> int:
        """How many queue consumers (processes) work on its pre-annotation now."""
        from studio.background import stale_before

        working = self.preannotation_chunks.filter(done__lt=models.F("size"), heartbeat_at__gte=stale_before())
        return len({worker.rsplit(":", 1)[0] for worker in working.exclude(worker="").values_list("worker", flat=True)})


class PreannotationChunk(models.Model):
    """A share of one pre-annotation's documents that any queue consumer may take, so that
    several consumers work on one model version at once. A consumer that stops beating loses
    its chunk to the next one, which goes on from `done`."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="preannotation_chunks")
    number = models.PositiveIntegerField()
    document_ids = ArrayField(models.BigIntegerField())
    size = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0, help_text="Its first documents whose suggestions are stored.")
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid:thread of the consumer on it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "number"], name="preannotation_chunk_unique"),
            models.CheckConstraint(condition=Q(done__lte=models.F("size")), name="preannotation_chunk_done_le_size"),
        ]


class SuggestionQuerySet(models.QuerySet):
    def shown_with(self, version):
        """The suggestions a page shows beside model `version` (None: no active model): its
        own and the imported pre-annotations."""
        imported = Q(model_version__isnull=True)
        return self.filter(imported | Q(model_version=version) if version is not None else imported)

    def open_for(self, user):
        """The suggestions `user` has neither accepted nor rejected: each annotator decides
        for their own annotation, so one person's reject hides nothing from another."""
        return self.exclude(decisions__user=user)


class Suggestion(models.Model):
    """A span proposed on a document: by the active model, or, without a model version, by an
    imported file whose annotations were to be reviewed (a pre-annotation from another tool)."""

    document = models.ForeignKey("annotation.Document", on_delete=models.CASCADE, related_name="suggestions")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions"
    )
    label = models.ForeignKey("annotation.Label", on_delete=models.CASCADE, related_name="suggestions")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    first_token = models.PositiveIntegerField()
    last_token = models.PositiveIntegerField()
    confidence = models.FloatField()
    shown_at = models.DateTimeField(null=True, blank=True, help_text="First time an annotator saw it.")

    objects = SuggestionQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "document", "start", "end", "label"],
                name="suggestion_unique",
                nulls_distinct=False,  # an imported pre-annotation is not proposed twice either
            ),
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="suggestion_start_before_end"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="suggestion_confidence_range"
            ),
        ]
        indexes = [models.Index(fields=["document", "model_version"], name="suggestion_lookup")]

    def __str__(self):
        return f"{self.label} {self.start}-{self.end} ({self.confidence:.2f})"


class SuggestionDecision(models.Model):
    """What one annotator made of a suggestion."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted as is"
        EDITED = "edited", "Accepted after an edit"
        REJECTED = "rejected", "Rejected"

    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Status)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["suggestion", "user"], name="one_decision_per_annotator")]

    def __str__(self):
        return f"{self.user} {self.status} {self.suggestion}"


class DocumentScore(models.Model):
    """How unsure a model version is about a document, for choosing what to label next."""

    document = models.ForeignKey("annotation.Document", on_delete=models.CASCADE, related_name="scores")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="document_scores")
    min_max_probability = models.FloatField()
    mean_entropy = models.FloatField()
    expected_counts = models.JSONField(default=dict, help_text="Label -> expected number of mentions.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "document"], name="document_score_unique")]
        indexes = [
            models.Index(fields=["model_version", "min_max_probability"], name="score_least_confident"),
            models.Index(fields=["model_version", "-mean_entropy"], name="score_most_entropy"),
        ]


class PersonalThreshold(models.Model):
    """The confidence from which one person sees a project's suggestions, when they chose one
    with the threshold control (the labelling page's suggestion panel, the "Try it" page);
    without it, each label shows from the threshold its model chose on dev."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    threshold = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_personal_threshold_per_project"),
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(threshold__lte=1), name="personal_threshold_range"
            ),
        ]

    def __str__(self):
        return f"{self.user} sees suggestions from {self.threshold:.2f}"


class LearningCurve(models.Model):
    """Dev F1 of models trained, in the background, on 25/50/75/100% of a project's training
    documents with a run's settings, the same dev split and the same seed. None of them
    becomes a model version."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    QUEUED_OR_RUNNING = [Status.QUEUED, Status.RUNNING]

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="learning_curves")
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="learning_curves")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.QUEUED)
    points = models.JSONField(default=list, blank=True, help_text="[{documents, micro, per_label}] in size order.")
    progress = models.FloatField(default=0.0, help_text="Share of the whole curve's training done, 0 to 1.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_learning_curve_per_project",
            ),
        ]

    def __str__(self):
        return f"Learning curve {self.pk} ({self.status})"

    @property
    def is_queued_or_running(self):
        return self.status in self.QUEUED_OR_RUNNING

    @property
    def percent(self):
        return round(100 * min(1.0, self.progress))
