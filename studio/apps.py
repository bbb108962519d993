from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self):
        from studio import signals  # noqa: F401  (connects the receivers)
