from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from studio import health


@require_GET
@never_cache
@login_not_required
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
