"""The studio's settings, with the test run kept apart from a developer's data under var/test."""

import os
from pathlib import Path

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("STUDIO_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("HUEY_QUEUE", "studio-test")

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
