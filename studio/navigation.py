from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_to_next(request, default: str) -> HttpResponseRedirect:
    """Back to the page named by the form's `next` if it is a path on this site, else to
    `default`: another site's address there would make the studio an open redirect."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    same_site = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return HttpResponseRedirect(target if same_site else default)
