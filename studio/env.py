"""Typed reads of environment variables that fail loudly, naming the variable and the bad value."""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of true, false, 1, 0, yes, no, on, off")


def env_int(name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


RATE_PERIODS = {"second", "minute", "hour", "day"}


def env_rate(name: str, default: str) -> str:
    """A request rate such as 1200/minute, as Django REST framework's throttles read it."""
    raw = env_str(name) or default
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate: use requests per second, minute, hour or day, e.g. 1200/minute"
        )
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = env_str(name)
    return Path(raw).expanduser().resolve() if raw else default


def parse_database_url(url: str) -> dict:
    """Turn `postgresql://user:password@host:port/name?sslmode=...` into Django's DATABASES entry.

    A Unix socket directory can be given as `?host=/path` (as psql accepts).
    """

    def malformed(reason: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(
            f"DATABASE_URL is malformed ({reason}); expected postgresql://USER:PASSWORD@HOST:PORT/NAME"
        )

    parts = urlsplit(url.strip())
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        if parts.scheme:
            raise malformed(f"scheme {parts.scheme!r} is not supported, only PostgreSQL is")
        raise malformed("no scheme")
    name = unquote(parts.path.lstrip("/"))
    if not name or "/" in name:
        raise malformed("no database name after the host")
    try:
        port = parts.port
    except ValueError:
        raise malformed("the port is not a number") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = unquote(parts.hostname or "") or query.pop("host", "")
    if not host:
        raise malformed("no host")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": query,
    }
