from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._project import find_project, find_user
from training import services
from training.models import TrainingRun


class Command(BaseCommand):
    help = (
        "Start a training run for a project. With --wait it trains right here, printing progress; "
        "without, it queues the run for the worker."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name or id.")
        parser.add_argument("--wait", action="store_true", help="Train in this process and wait for the result.")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--max-length", type=int)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--user", help="Who starts the run (default: the first admin).")
        parser.add_argument(
            "--processes",
            type=int,
            help="With --wait: train on this many processes, one per GPU on a GPU machine "
            "(default: the TRAINING_PROCESSES setting).",
        )

    def handle(self, *args, project, wait, user, processes, **options):
        if processes is not None and not wait:
            raise CommandError("--processes needs --wait; a worker trains on its TRAINING_PROCESSES")
        if processes is not None and processes < 1:
            raise CommandError(f"--processes must be at least 1, got {processes}")
        project = find_project(project)
        names = ["epochs", "learning_rate", "batch_size", "max_length", "seed"]
        hyperparameters = {name: options[name] for name in names if options.get(name) is not None}
        try:
            run = services.start_run(project, find_user(user), hyperparameters, enqueue=not wait)
        except services.TrainingRefused as error:
            raise CommandError(str(error)) from None
        for warning in run.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if not wait:
            self.stdout.write(f"Queued run {run.pk}; a worker (manage.py run_huey) will train it.")
            return
        self.stdout.write(f"Training run {run.pk} on {run.base_model} …")
        services.execute_run(run.pk, echo=self._print_progress, processes=processes)
        run.refresh_from_db()
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error}")
        micro = run.metrics["evaluation"]["micro"] if run.metrics.get("evaluation") else None
        score = f"dev micro F1 {micro['f1']:.3f}" if micro else "no dev split"
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {run.pk} succeeded in {run.metrics['train_seconds']:.0f} s: {score}; "
                f"model at {run.model_version.artifact_path}"
            )
        )

    def _print_progress(self, progress):
        if progress.phase == "evaluated" and progress.dev_f1_per_epoch:
            self.stdout.write(f"epoch {progress.epoch}/{progress.epochs}: dev F1 {progress.dev_f1_per_epoch[-1]:.3f}")
        elif progress.step % 50 == 0 and progress.loss is not None:
            eta = f", about {progress.eta_seconds:.0f} s left" if progress.eta_seconds else ""
            self.stdout.write(f"step {progress.step}/{progress.total_steps}: loss {progress.loss:.3f}{eta}")
