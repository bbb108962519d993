"""The seam through which a trained model helps annotators.

`annotation` knows nothing of models. An app that can help (the `training` app) registers an
`Assistant` when it loads; the labelling page, "next document" and the document list's
"has suggestions" filter ask whichever one is registered. Without one, nothing is suggested
and documents that a model would rank come in import order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from annotation.models import Annotation, Document, Label, Project
from annotation.rendering import SpanView

if TYPE_CHECKING:
    from annotation.editing import EditResult


class Assistant:
    """Helps with nothing; the base of real assistants."""

    # Rendered beside the text (and again, out of band, after each edit) with `help()`'s context.
    panel_template = ""

    def help(self, document: Document, user, annotation: Annotation | None) -> tuple[list[SpanView], dict]:
        """The marks a model adds to the text for `user` (each with its confidence), and the
        context of the panel beside the text."""
        return [], {}

    def accept_over(
        self, annotation: Annotation, user, *, version: int, label: Label, first_token: int, last_token: int
    ) -> EditResult | None:
        """Tagging tokens over a suggestion accepts it, edited; None when there is none there."""
        return None

    def replay_decisions(self, annotation: Annotation, decisions: dict, *, undo: bool) -> list[tuple[int, int]]:
        """Take back (`undo`) or make again an undone step's decisions on suggestions, for
        `annotation`'s annotator; returns the character ranges to redraw."""
        return []

    def import_suggestions(self, proposals: list[tuple[Document, Label, int, int]]) -> None:
        """Store an imported file's mentions as suggestions to review: (document, label, start, end)."""
        raise NotImplementedError("importing annotations as suggestions needs an app that shows suggestions")

    def rank(self, project: Project, candidates: QuerySet) -> QuerySet | None:
        """`candidates` in the project's model-driven order, or None when no model can rank them."""
        return None

    def order_reason(self, project: Project, document: Document) -> str:
        return "No model has scored this document yet, so it comes in import order."

    def identifying_ranges(self, document_ids: list[int]) -> list[tuple[int, int, int]]:
        """(document id, start, end) of what the assistant proposes to tag with an identifying
        label: hidden like the spans of one (`annotation.masking`)."""
        return []

    def with_open_suggestions(self, documents: QuerySet, viewer) -> QuerySet:
        """Those of `documents` holding suggestions `viewer` (anyone, when None) has not decided on."""
        return documents.none()


_registered = Assistant()


def register(assistant: Assistant) -> None:
    global _registered
    _registered = assistant


def assistant() -> Assistant:
    return _registered
