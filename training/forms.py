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
