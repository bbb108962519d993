"""The huey instance: Redis when REDIS_URL is set, otherwise SQLite under the var directory."""

from pathlib import Path

from huey import RedisHuey, SqliteHuey


def build_huey(*, name: str, redis_url: str, sqlite_path: Path):
    if redis_url:
        return RedisHuey(name, url=redis_url)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(sqlite_path))
