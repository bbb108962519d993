"""Django database backend: PostgreSQL, on the embedded server, started on first connection."""

from pathlib import Path

from django.db.backends.postgresql import base

from studio import embedded_db


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params.update(
            embedded_db.connection_params(Path(self.settings_dict["PGDATA"]), self.settings_dict["CREATE_DATABASE"])
        )
        return params
