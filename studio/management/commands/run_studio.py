import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Prepare the database (migrate, first admin, demo project), then run the queue worker "
        "and the web server until Ctrl+C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Skip loading the demo project.")

    def handle(self, *args, addrport, no_demo, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        if not no_demo:
            call_command("load_demo")

        manage = [sys.executable, "manage.py"]
        children = {
            # Two workers: a long training run must not hold up imports and pre-annotation.
            "worker": subprocess.Popen([*manage, "run_huey", "--workers", "2"]),
            "web server": subprocess.Popen([*manage, "runserver", "--noreload", addrport]),
        }
        self.stdout.write(self.style.SUCCESS(f"Studio running on http://{addrport}/ (Ctrl+C stops it)"))

        stopping = False

        def request_stop(*_):
            nonlocal stopping
            stopping = True

        # A shell may start us with SIGINT ignored (a background job); Ctrl+C must still work.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping and all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            stopping = True
        died = {name: child.returncode for name, child in children.items() if child.poll() is not None}
        self._stop(children.values())
        if died and not stopping:
            name, code = next(iter(died.items()))
            raise CommandError(f"The {name} stopped unexpectedly (exit code {code}); see its output above.")

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
