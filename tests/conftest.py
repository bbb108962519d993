import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

pytest_plugins = ["tests.cast"]  # the people every test can call on

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """A URL for the database this test process is connected to (the test database)."""
    params = connection.get_connection_params()
    host = params.get("host") or "localhost"
    user = params.get("user") or ""
    password = params.get("password") or ""
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    name = connection.settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgresql://{credentials}/{name}?host={host}&port={params.get('port') or 5432}"
    return f"postgresql://{credentials}{host}:{params.get('port') or 5432}/{name}"


def subprocess_env(**overrides) -> dict:
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright in this process only
    env.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def run_manage(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Tests that start processes, servers, browsers or training are `slow`:
# `pytest -m "not slow"` is the quick loop.
SLOW_FIXTURES = {"start_consumer", "huey_consumer", "live_server", "browser", "login_page", "var_dir", "tiny_bert"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or "reliability" in item.path.parts:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After every test that used the database, while its data still exists: every
    annotation's stored BIO tags must be what its spans say, whatever the test did."""
    result = yield
    if "_django_db_helper" in item.fixturenames or item.get_closest_marker("django_db"):
        from annotation.consistency import stale_annotations

        stale = stale_annotations()
        assert not stale, "BIO tags disagree with the spans:\n" + "\n".join(map(str, stale))
    return result


@pytest.fixture
def start_consumer(transactional_db, tmp_path):
    """Start real `manage.py run_huey` processes on the test database; all stop at teardown."""
    from huey.contrib.djhuey import HUEY

    connection.ensure_connection()
    HUEY.flush()
    processes = []

    def start(**env):
        log_path = tmp_path / f"consumer-{len(processes)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "--workers", "2", "--worker-type", "thread"],
                cwd=ROOT,
                env=subprocess_env(DATABASE_URL=database_url(), **env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log_path = log_path
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    HUEY.flush()


@pytest.fixture
def huey_consumer(start_consumer):
    """One real consumer process working on the test database."""
    return start_consumer()


def wait_for(predicate, *, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def var_dir():
    """A fresh STUDIO_VAR_DIR for a subprocess, under var/test/.

    Not under pytest's tmp_path: the embedded server runs as another user when we are root,
    and pytest keeps its temporary root private to us.
    """
    import shutil
    import uuid

    path = ROOT / "var" / "test" / "scratch" / uuid.uuid4().hex[:12]
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def fresh_media_root():
    """Model artifacts and uploads from earlier test runs would pile up under var/test."""
    import shutil

    from django.conf import settings

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counts (API requests, password resets) start from nothing in every test."""
    from django.core.cache import cache

    cache.clear()


def make_document(project, text, title=""):
    from annotation.services import create_document

    return create_document(project, text, title=title)
