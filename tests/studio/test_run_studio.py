"""`make run` in miniature: one process prepares the database and runs the worker and web server."""

import re
import signal
import socket
import subprocess
import sys
import urllib.request

import psutil

from studio.embedded_db import server_processes
from tests.conftest import ROOT, subprocess_env, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, opener=None):
    try:
        return (opener or urllib.request.build_opener()).open(url, timeout=5)
    except OSError:
        return None


def test_run_studio_serves_the_demo_and_stops_cleanly(var_dir):
    port = free_port()
    env = subprocess_env(DJANGO_SETTINGS_MODULE="studio.settings", DEBUG="true", STUDIO_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.pop("STUDIO_ADMIN_PASSWORD", None)
    log = var_dir / "studio.log"
    with log.open("w") as out:
        studio = subprocess.Popen(
            [sys.executable, "manage.py", "run_studio", "--addrport", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    children = []
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz"), timeout=90, message="web server")
        output = log.read_text()
        password = re.search(r"Its password is (\S+)", output).group(1)
        assert 'Loaded "Clinical NER demo": 240 documents' in output
        children = psutil.Process(studio.pid).children(recursive=True)
        assert any("run_huey" in " ".join(child.cmdline()) for child in children)

        login_page = get(f"http://127.0.0.1:{port}/")
        assert login_page.url.startswith(f"http://127.0.0.1:{port}/accounts/login/")
        assert_admin_can_log_in(port, password)
    finally:
        studio.send_signal(signal.SIGINT)
        studio.wait(timeout=60)

    assert studio.returncode == 0, log.read_text()
    assert server_processes(var_dir / "pgdata") == []
    assert children and not any(child.is_running() for child in children)


def assert_admin_can_log_in(port: int, password: str):
    import http.cookiejar
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{port}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": "admin", "password": password, "csrfmiddlewaretoken": token}).encode()
    home = opener.open(f"http://127.0.0.1:{port}/accounts/login/", data=form).read().decode()
    assert "Clinical NER demo" in home
    assert "40 documents" in home
