"""Fast inserts with PostgreSQL's COPY, for imports: several times faster than bulk_create,
which prepares every element of every array column in Python."""

from collections.abc import Iterable, Sequence

from django.db import connection
from psycopg.types.json import Jsonb


def reserve_ids(model, count: int) -> list[int]:
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


def copy_rows(model, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """COPY `rows` (tuples in `columns` order; dicts become JSONB) into the model's table."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(value) if isinstance(value, dict) else value for value in row])
