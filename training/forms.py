from django import forms

from training.pipeline import Hyperparameters

DEFAULTS = Hyperparameters()


class TrainingForm(forms.Form):
    epochs = forms.IntegerField(min_value=1, max_value=100, initial=DEFAULTS.epochs)
    learning_rate = forms.FloatField(min_value=1e-7, max_value=1e-2, initial=DEFAULTS.learning_rate)
    batch_size = forms.IntegerField(min_value=1, max_value=256, initial=DEFAULTS.batch_size)
    max_length = forms.IntegerField(
        min_value=16, max_value=512, initial=DEFAULTS.max_length, help_text="Word pieces per example."
    )
    seed = forms.IntegerField(min_value=0, initial=DEFAULTS.seed)

    def hyperparameters(self) -> dict:
        return dict(self.cleaned_data)
