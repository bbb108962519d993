from rest_framework.throttling import UserRateThrottle


class PredictThrottle(UserRateThrottle):
    """Predictions per user (PREDICT_RATE_LIMIT), counted together for the "Try it" page and
    the predict API: each runs the model over up to PREDICT_MAX_CHARACTERS in a web worker."""

    scope = "predict"
