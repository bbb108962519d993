from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.access import project_for
from training import suggestions


class PredictRequest(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)


class PredictView(APIView):
    """POST {"text": ...}: the entities the project's active model finds, with character offsets."""

    def post(self, request, project_id):
        project = project_for(request.user, project_id)
        payload = PredictRequest(data=request.data)
        payload.is_valid(raise_exception=True)
        text = payload.validated_data["text"]
        try:
            version, found = suggestions.predict_text(project, text)
        except suggestions.PredictionRefused as refused:
            code = status.HTTP_409_CONFLICT if suggestions.active_version(project) is None else status.HTTP_400_BAD_REQUEST
            return Response({"detail": str(refused)}, status=code)
        return Response(
            {
                "model_version": version.pk,
                "spans": [
                    {
                        "start": s.start,
                        "end": s.end,
                        "label": s.label,
                        "confidence": round(s.confidence, 4),
                        "text": text[s.start : s.end],
                    }
                    for s in found
                ],
            }
        )
