from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self):
        from annotation.assistance import register
        from training.assistance import ModelAssistant

        register(ModelAssistant())
