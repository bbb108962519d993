from django import forms

from training.ml.data import Hyperparameters

DEFAULTS = Hyperparameters()
# The bounds the page and the API both hold a run's options to.
LIMITS = {
    "epochs": (1, 100),
    "learning_rate": (1e-7, 1e-2),
    "batch_size": (1, 256),
    "max_length": (16, 512),
    "seed": (0, 2**31 - 1),
    "patience": (0, 100),
    "context": (0, 248),
    "mlm_epochs": (0, 20),
}
MAX_POSITIONS = 512  # what BERT-like encoders hold; a model with fewer says so when the run starts


def _field(kind, name, **kwargs):
    low, high = LIMITS[name]
    return kind(min_value=low, max_value=high, initial=getattr(DEFAULTS, name), **kwargs)


def positions_error(max_length: int, context: int) -> str | None:
    if max_length + 2 * context > MAX_POSITIONS:
        return (
            f"Word pieces per example plus twice the context come to {max_length + 2 * context}; "
            f"the model reads at most {MAX_POSITIONS}. Lower one of them."
        )
    return None


class TrainingForm(forms.Form):
    epochs = _field(forms.IntegerField, "epochs")
    learning_rate = _field(forms.FloatField, "learning_rate")
    batch_size = _field(forms.IntegerField, "batch_size")
    max_length = _field(forms.IntegerField, "max_length", help_text="Word pieces per example.")
    seed = _field(forms.IntegerField, "seed")
    context = _field(
        forms.IntegerField,
        "context",
        required=False,
        label="Context",
        help_text="Word pieces of the neighbouring sentences the model reads on each side (not labelled).",
    )
    mlm_epochs = _field(
        forms.IntegerField,
        "mlm_epochs",
        required=False,
        label="Learn the project's text first (epochs)",
        help_text="Masked-language-model epochs on the training and unannotated documents before fine-tuning; "
        "each takes about as long as a training epoch. 0: off.",
    )

    def clean(self):
        data = super().clean()
        context = data.get("context")
        if data.get("max_length") is not None and context is not None:
            error = positions_error(data["max_length"], context)
            if error:
                self.add_error("context", error)
        return data

    def hyperparameters(self) -> dict:
        """The options given; the ones left empty take their defaults."""
        return {name: value for name, value in self.cleaned_data.items() if value is not None}


ERROR_KINDS = {
    "boundary": "Boundary: same label, other edges",
    "label": "Label: same edges, other label",
    "boundary+label": "Boundary and label",
    "missed": "Missed: no prediction overlaps it",
    "spurious": "Spurious: overlaps no gold span",
}


class ErrorFilterForm(forms.Form):
    """Which dev errors the run page lists: one label's, one kind's, or all."""

    label = forms.ChoiceField(required=False, error_messages={"invalid_choice": "This run has no label “%(value)s”."})
    kind = forms.ChoiceField(
        required=False,
        choices=[("", "Any kind"), *ERROR_KINDS.items()],
        error_messages={"invalid_choice": "“%(value)s” is no error kind: choose " + ", ".join(ERROR_KINDS) + "."},
    )

    def __init__(self, *args, labels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [("", "Any label"), *((label, label) for label in labels)]
