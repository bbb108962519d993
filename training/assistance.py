"""The active model's help on the labelling page, registered with `annotation.assistance`
when the app loads: its suggestions and their panel, accepting by tagging over one, and the
model-driven document orders."""

from bisect import bisect_left

from django.db.models import Exists, OuterRef, Q

from annotation.assistance import Assistant
from annotation.rendering import SpanView
from training import decisions, ordering
from training.decisions import replay
from training.models import ModelVersion, Suggestion
from training.suggestions import suggestion_touching, suggestions_on
from training.thresholds import shown_from, threshold_control


class ModelAssistant(Assistant):
    panel_template = "training/partials/suggestion_panel.html"

    def help(self, document, user, annotation):
        model = ModelVersion.objects.active_for(document.project)
        thresholds = shown_from(document.project, model, user)
        shown, rejected = suggestions_on(document, user, annotation, model, thresholds)
        decisions.mark_shown(shown)
        marks = [SpanView(s.pk, s.start, s.end, s.label.name, s.label.color, confidence=s.confidence) for s in shown]
        rejected = [
            {"id": s.pk, "label": s.label.name, "css_class": s.label.css_class, "text": document.text[s.start : s.end]}
            for s in rejected
        ]
        panel = {"suggestion_count": len(marks), "active_model": model, "rejected": rejected}
        if model is not None:  # the control shows beside an active model only
            panel |= threshold_control(document.project, thresholds)
        return marks, panel

    def accept_over(self, annotation, user, *, version, label, first_token, last_token):
        document = annotation.document
        start, end = document.token_starts[first_token], document.token_ends[last_token]
        touching = suggestion_touching(document, user, start, end)
        if touching is None:
            return None
        return decisions.accept(
            annotation,
            touching,
            version=version,
            user=user,
            label=label,
            first_token=first_token,
            last_token=last_token,
        )

    def replay_decisions(self, annotation, decisions, *, undo):
        return replay(annotation, decisions, undo=undo)

    def identifying_ranges(self, document_ids):
        suggestions = Suggestion.objects.filter(document_id__in=document_ids, label__identifying=True)
        return list(suggestions.values_list("document_id", "start", "end"))

    def import_suggestions(self, proposals):
        Suggestion.objects.bulk_create(
            [
                Suggestion(
                    document=document,
                    label=label,
                    start=start,
                    end=end,
                    first_token=bisect_left(document.token_starts, start),
                    last_token=bisect_left(document.token_ends, end),
                    confidence=1.0,
                )
                for document, label, start, end in proposals
            ],
            ignore_conflicts=True,
        )

    def rank(self, project, candidates):
        return ordering.rank(project, candidates)

    def order_reason(self, project, document):
        return ordering.reason(project, document)

    def with_open_suggestions(self, documents, viewer):
        open_ones = Suggestion.objects.filter(
            Q(model_version__is_active=True) | Q(model_version__isnull=True), document=OuterRef("pk")
        )
        return documents.filter(Exists(open_ones.open_for(viewer) if viewer is not None else open_ones))
