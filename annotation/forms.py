from django import forms
from django.contrib.auth import get_user_model

from annotation.exports import export_redaction, export_rule
from annotation.models import Annotation, Label, Project
from annotation.review import ExportRule
from annotation.services import PROJECT_NAME_TAKEN, PROJECT_SETTINGS
from annotation.text.formats.conll import SENTENCES_PER_DOCUMENT
from annotation.text.formats.detect import EXPORT_FORMATS, FORMATS
from annotation.text.redact import SAME_LENGTH, TAG

CREATE, DROP = "__create__", "__drop__"


def _share_field(name: str, example: str) -> forms.FloatField:
    """A project setting that is a share from 0 to 1."""
    message = f"Use a number from 0 to 1, e.g. {example}."
    return forms.FloatField(
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
        error_messages={"min_value": message, "max_value": message},
        help_text=Project._meta.get_field(name).help_text,
    )


class ProjectForm(forms.ModelForm):
    # Checked here, next to the field, rather than by the table's constraint after the fact.
    suggestion_threshold = _share_field("suggestion_threshold", "0.5")
    target_precision = _share_field("target_precision", "0.8 for 8 suggestions right in 10 shown")
    annotators_per_document = forms.IntegerField(
        min_value=0,
        max_value=100,
        error_messages={
            "max_value": "Give each document to at most 100 annotators.",
            "min_value": "Use 0 (everyone sees every document) or more.",
        },
        help_text=Project._meta.get_field("annotators_per_document").help_text,
    )

    class Meta:
        model = Project
        fields = PROJECT_SETTINGS
        error_messages = {"name": {"unique": PROJECT_NAME_TAKEN}}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "guidelines": forms.Textarea(attrs={"rows": 12}),
        }


class NewProjectForm(ProjectForm):
    suggestion_threshold = target_precision = annotators_per_document = None  # set later, on the settings page

    class Meta(ProjectForm.Meta):
        fields = ["name", "description", "guidelines"]


class LabelForm(forms.ModelForm):
    class Meta:
        model = Label
        fields = ["name", "color", "hotkey", "identifying"]
        labels = {"color": "Colour"}
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}
        error_messages = {"color": {"max_length": "Use a colour like #e4572e."}}

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.project = project

    def _get_validation_exclusions(self):
        # The project is set here, not by the user, but its unique constraints still apply.
        return super()._get_validation_exclusions() - {"project"}

    def clean_name(self):
        return self.cleaned_data["name"].strip().upper()

    def clean_hotkey(self):
        hotkey = self.cleaned_data["hotkey"].strip()
        if hotkey and not hotkey.isalnum():
            raise forms.ValidationError("Use a single letter or digit.")
        if hotkey in {"a", "x"}:
            raise forms.ValidationError(f"'{hotkey}' is taken by suggestions (accept / reject).")
        return hotkey


class UploadForm(forms.Form):
    file = forms.FileField()
    format = forms.ChoiceField(choices=[("", "Detect from the file")] + list(FORMATS.items()), required=False)
    column = forms.CharField(required=False, help_text="CSV only: the column that holds the text (default: text).")
    sentences_per_document = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100_000,
        label="Sentences per document",
        help_text="CoNLL without -DOCSTART- lines only: start a new document every this many sentences "
        f"(empty: {SENTENCES_PER_DOCUMENT}; 0: the whole file is one document).",
    )
    status = forms.ChoiceField(
        label="Imported annotations are",
        choices=[
            (Annotation.Status.SUBMITTED, "Submitted: finished work, used for training and finished exports"),
            (Annotation.Status.IN_PROGRESS, "In progress: to be checked and submitted here"),
            ("suggestions", "A pre-annotation to review: suggestions each annotator accepts or rejects"),
        ],
        initial=Annotation.Status.SUBMITTED,
        required=False,
        help_text="When the file carries annotations, a submitted document without mentions counts as "
        "checked and found to hold none.",
    )
    annotator = forms.CharField(
        required=False,
        max_length=150,
        help_text="Whose annotations these are, when the file does not say (a user name; blank: yours). "
        "Upload each annotator's doccano file with their name, and their work on the same texts "
        "joins the same documents.",
    )

    def clean_annotator(self):
        name = self.cleaned_data["annotator"].strip()
        if name and not get_user_model().objects.filter(username=name).exists():
            raise forms.ValidationError(f"There is no user named {name!r}.")
        return name


class LabelMappingForm(forms.Form):
    """One choice per incoming label: a project label, a new label of that name, or drop."""

    def __init__(self, *args, job, **kwargs):
        super().__init__(*args, **kwargs)
        from annotation.imports import guessed_label

        labels = [(label.name, label.name) for label in job.project.labels.all()]
        for source, count in sorted(job.source_labels.items()):
            guess = guessed_label(job.project, source)
            choices = [
                (name, f"{name} (a guess: check)" if guess and name == guess[0] else name) for name in dict(labels)
            ]
            field = forms.ChoiceField(
                label=f"{source} ({count} mention{'s' if count != 1 else ''})",
                choices=choices + [(CREATE, f"Create label {source.upper()}"), (DROP, "Drop these mentions")],
                initial=job.label_mapping.get(source, CREATE),
                help_text=f"{source} may be {guess[0]}, but {guess[1]}: choose it only if that is what the file means."
                if guess
                else "",
            )
            self.fields[f"map:{source}"] = field

    def mapping(self) -> dict[str, str]:
        chosen = {}
        for name, value in self.cleaned_data.items():
            source = name.removeprefix("map:")
            chosen[source] = {CREATE: source.upper(), DROP: ""}.get(value, value)
        return chosen


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(key, fmt.label) for key, fmt in EXPORT_FORMATS.items()])
    scope = forms.ChoiceField(
        choices=[("finished", "Submitted and reviewed only"), ("all", "All annotations and documents")],
        initial="finished",
    )
    # Like the API and the command, a link without a rule leaves disagreements out.
    rule = forms.ChoiceField(
        choices=ExportRule.CHOICES,
        required=False,
        initial=ExportRule.REVIEWED_ONLY,
        label="Where annotators disagree and nobody reviewed",
        error_messages={"invalid_choice": "Choose a rule for disagreements: reviewed, annotator or majority."},
    )
    # Read only with the annotator rule; the page sends it whatever the rule.
    annotator = forms.ChoiceField(
        required=False,
        label="Annotator",
        error_messages={"invalid_choice": "%(value)s has not annotated any document of this project."},
    )

    redact = forms.ChoiceField(
        choices=[("", "No redaction"), (SAME_LENGTH, "Redact: █ mask, offsets kept"), (TAG, "Redact: [LABEL] tags")],
        required=False,
        label="Redaction",
        error_messages={"invalid_choice": "Redact with mask or tag, or choose nothing redacted."},
    )
    # Unticked: the identifying labels, as for the API and the command.
    redact_labels = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Labels to redact",
        error_messages={"invalid_choice": "%(value)s is not a label of this project."},
    )

    def __init__(self, *args, project, **kwargs):
        # Its own ids: the document filters beside it have an annotator field too.
        super().__init__(*args, auto_id="export_%s", **kwargs)
        self.project = project
        labels = list(project.labels.all())
        self.fields["redact_labels"].choices = [(label.name, label.name) for label in labels]
        self.fields["redact_labels"].initial = [label.name for label in labels if label.identifying]
        names = (
            get_user_model()
            .objects.filter(annotations__document__project=project, annotations__is_gold=False)
            .distinct()
            .order_by("username")
            .values_list("username", flat=True)
        )
        self.fields["annotator"].choices = [("", "whose version?")] + [(name, name) for name in names]

    def rule_problems(self) -> list[str]:
        """What is wrong with the chosen rule, in the words a person can act on."""
        return [*self.errors.get("rule", []), *self.errors.get("annotator", []), *self.non_field_errors()]

    def redaction_problems(self) -> list[str]:
        return [*self.errors.get("redact", []), *self.errors.get("redact_labels", [])]

    def clean(self):
        data = super().clean()
        if "redact" not in self.errors and "redact_labels" not in self.errors:
            try:
                data["redaction"] = export_redaction(
                    self.project, data.get("redact", ""), data.get("redact_labels", [])
                )
            except ValueError as error:
                self.add_error("redact", str(error))
        if "rule" in self.errors or "annotator" in self.errors:
            return data
        kind = data.get("rule") or ExportRule.REVIEWED_ONLY
        annotator = data.get("annotator", "") if kind == ExportRule.ANNOTATOR else ""
        try:
            data["export_rule"] = export_rule(self.project, kind, annotator)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return data


class DocumentFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(required=False)
    annotator = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    suggestions = forms.BooleanField(required=False, label="With suggestions")

    def __init__(self, *args, statuses, annotators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status")] + statuses
        self.fields["annotator"].choices = [("", "Any annotator")] + annotators
