import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


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
        children = [
            subprocess.Popen([*manage, "run_huey"]),
            subprocess.Popen([*manage, "runserver", "--noreload", addrport]),
        ]
        self.stdout.write(self.style.SUCCESS(f"Studio running on http://{addrport}/ (Ctrl+C stops it)"))
        signal.signal(signal.SIGTERM, lambda *_: self._stop(children))
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        self._stop(children)
        failed = [child for child in children if child.returncode not in (0, -2, -15, 3)]
        if failed:
            raise SystemExit(1)

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
