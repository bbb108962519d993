from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self):
        from studio import signals, two_factor  # noqa: F401  (connect the receivers)
