from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self):
        from annotation.assistance import register
        from annotation.deletion import document_deleted, project_deleted
        from training import forgetting
        from training.assistance import ModelAssistant

        register(ModelAssistant())
        document_deleted.connect(forgetting.drop_document_quotes)
        project_deleted.connect(forgetting.remove_model_folders)
