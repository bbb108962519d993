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
}


def _field(kind, name, **kwargs):
    low, high = LIMITS[name]
    return kind(min_value=low, max_value=high, initial=getattr(DEFAULTS, name), **kwargs)


class TrainingForm(forms.Form):
    epochs = _field(forms.IntegerField, "epochs")
    learning_rate = _field(forms.FloatField, "learning_rate")
    batch_size = _field(forms.IntegerField, "batch_size")
    max_length = _field(forms.IntegerField, "max_length", help_text="Word pieces per example.")
    seed = _field(forms.IntegerField, "seed")

    def hyperparameters(self) -> dict:
        return dict(self.cleaned_data)


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
