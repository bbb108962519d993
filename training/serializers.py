"""The API's request and response shapes for training runs, model versions and predictions."""

from rest_framework import serializers

from training.forms import DEFAULTS, LIMITS, positions_error
from training.models import ModelVersion, TrainingRun
from training.reports import base_model_for, metrics_for


def _bounded(kind, name, help_text):
    low, high = LIMITS[name]
    return kind(
        min_value=low, max_value=high, required=False, help_text=f"{help_text}Default {getattr(DEFAULTS, name)}."
    )


class HyperparametersSerializer(serializers.Serializer):
    """The same bounds as the training form; every field is optional, and no other is taken."""

    epochs = _bounded(serializers.IntegerField, "epochs", "")
    learning_rate = _bounded(serializers.FloatField, "learning_rate", "")
    batch_size = _bounded(serializers.IntegerField, "batch_size", "")
    max_length = _bounded(serializers.IntegerField, "max_length", "Word pieces per example. ")
    seed = _bounded(serializers.IntegerField, "seed", "")
    patience = _bounded(
        serializers.IntegerField, "patience", "Epochs without dev improvement before stopping; 0 never stops early. "
    )
    precision = serializers.ChoiceField(choices=["auto", "bf16", "fp32"], required=False, help_text="Default auto.")
    context = _bounded(
        serializers.IntegerField, "context", "Word pieces of neighbouring text each example reads on each side. "
    )
    mlm_epochs = _bounded(
        serializers.IntegerField, "mlm_epochs", "Masked-language-model epochs on the project's text first; 0: off. "
    )

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"Not a training option; the options are {known}."] for name in unknown}
            )
        error = positions_error(data.get("max_length", DEFAULTS.max_length), data.get("context", DEFAULTS.context))
        if error:
            raise serializers.ValidationError({"context": [error]})
        return data


class RunSerializer(serializers.ModelSerializer):
    """Give it `context={"role": ...}`: what a run shows depends on the reader's role."""

    percent = serializers.IntegerField(read_only=True, help_text="Training steps done, in percent.")
    base_model = serializers.SerializerMethodField(
        help_text="The base model: its name, or for project admins where it lives on the server."
    )
    started_by = serializers.CharField(source="started_by.username", default=None, allow_null=True)
    model_version = serializers.SerializerMethodField(help_text="The model this run produced, once it succeeded.")
    micro_f1 = serializers.SerializerMethodField(help_text="Dev micro F1 of the finished run.")

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "percent",
            "started_by",
            "hyperparameters",
            "base_model",
            "warnings",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "model_version",
            "micro_f1",
        ]

    def get_model_version(self, run) -> int | None:
        version = getattr(run, "model_version", None)
        return version.pk if version else None

    def get_base_model(self, run) -> str:
        return base_model_for(run, self.context.get("role"))

    def get_micro_f1(self, run) -> float | None:
        micro = ((run.metrics or {}).get("evaluation") or {}).get("micro") or {}
        return micro.get("f1")


class RunDetailSerializer(RunSerializer):
    metrics = serializers.SerializerMethodField(
        help_text="Once succeeded: the evaluation report. The lists of dev errors quote other people's "
        "annotations, so annotators get only their counts."
    )

    class Meta(RunSerializer.Meta):
        fields = RunSerializer.Meta.fields + ["progress", "metrics"]

    def get_metrics(self, run) -> dict | None:
        return metrics_for(run, self.context.get("role"))


class MetricsSerializer(serializers.Serializer):
    status = serializers.CharField()
    progress = serializers.DictField(help_text="Step, epoch, losses, dev F1 by epoch, ETA.")
    metrics = serializers.DictField(
        allow_null=True,
        help_text="Once succeeded: per-label precision, recall, F1 and support, micro/macro/weighted averages, confusion matrix.",
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "run",
            "is_active",
            "created_at",
            "preannotation_status",
            "preannotation_done",
            "preannotation_total",
            "preannotation_error",
        ]


class PredictRequest(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)


class PredictedSpan(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    label = serializers.CharField()
    confidence = serializers.FloatField()
    text = serializers.CharField()


class PredictResponse(serializers.Serializer):
    model_version = serializers.IntegerField()
    spans = PredictedSpan(many=True)
