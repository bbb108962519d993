from django.utils.functional import SimpleLazyObject


def label_colours(request) -> dict:
    """The colours of the labels the visitor can see, for the page's head to define one
    `c-<hex>` class each (label colours cannot be style attributes under the CSP). Read only
    by pages that render them."""

    def colours() -> list[str]:
        from annotation.access import visible_projects
        from annotation.models import Label

        if not request.user.is_authenticated:
            return []
        labels = Label.objects.filter(project__in=visible_projects(request.user))
        return sorted({colour.lstrip("#").lower() for colour in labels.values_list("color", flat=True)})

    return {"label_colours": SimpleLazyObject(colours)}
