"""Which Postgres sparecast talks to, and the embedded one it starts when none is configured.

``SPARECAST_DATABASE_URL`` (any libpq URL: docker-compose, RDS, a local server) wins. When it is
unset, sparecast runs an embedded Postgres (the ``pgserver`` package) with its data under
``$SPARECAST_HOME/pgdata``, so a new user needs nothing installed.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger("sparecast")

_embedded_server = None

SCHEMAS = ("raw", "dbt", "analytics", "ml")


def sparecast_home() -> Path:
    return Path(os.environ.get("SPARECAST_HOME", ".sparecast")).expanduser().resolve()


def database_url() -> str:
    url = os.environ.get("SPARECAST_DATABASE_URL", "").strip()
    if url:
        return url
    return embedded_database_url()


def embedded_database_url() -> str:
    global _embedded_server
    if _embedded_server is None:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import pgserver

        pgdata = sparecast_home() / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        log.info("SPARECAST_DATABASE_URL is unset: using the embedded Postgres in %s", pgdata)
        _embedded_server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return _embedded_server.get_uri()


def describe(url: str) -> str:
    """The URL without its password, for logs and summaries."""
    params = conninfo_to_dict(url)
    host = params.get("host", "localhost")
    if host.startswith("/"):
        return f"postgresql://{params.get('user', '')}@/{params.get('dbname', '')} (socket in {host})"
    return f"postgresql://{params.get('user', '')}@{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    # A server that accepts the connection but never answers fails in 15 s, not never.
    kwargs.setdefault("connect_timeout", 15)
    return psycopg.connect(url or database_url(), **kwargs)


def dbt_environment(url: str) -> dict[str, str]:
    """Variables that dbt_project/profiles.yml reads to reach the same database."""
    params = conninfo_to_dict(url)
    return {
        "SPARECAST_PGHOST": str(params.get("host") or "localhost"),
        "SPARECAST_PGPORT": str(params.get("port") or 5432),
        "SPARECAST_PGUSER": str(params.get("user") or "postgres"),
        "SPARECAST_PGPASSWORD": str(params.get("password") or ""),
        "SPARECAST_PGDATABASE": str(params.get("dbname") or "postgres"),
        "SPARECAST_PGSSLMODE": str(params.get("sslmode") or "prefer"),
    }


# Postgres's `create ... if not exists` is not safe against itself: two sessions creating the
# same table at once can both pass the check and one fails on a catalog unique index. Loads
# run in parallel processes, so schema changes take this transaction-scoped lock first.
DDL_LOCK = 0x73706172  # "spar"


def lock_ddl(conn: psycopg.Connection) -> None:
    """Serialize schema changes with other sparecast sessions until this transaction ends."""
    conn.execute("select pg_advisory_xact_lock(%s)", (DDL_LOCK,))


def ensure_schemas(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        lock_ddl(conn)
        for schema in SCHEMAS:
            cur.execute(f'create schema if not exists "{schema}"')
    conn.commit()


def query_frame(conn: psycopg.Connection, query: str, params=None):
    """The rows of a query as a pandas DataFrame with the query's column names."""
    import pandas as pd  # lazily: the CLI's quick paths import this module

    with conn.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def copy_rows(cur: psycopg.Cursor, table: str, frame, columns: list[str]) -> None:
    """COPY the ``columns`` of a DataFrame into ``table`` row by row through psycopg's
    adaptation: missing values become NULL, '' stays '', dates stay dates."""
    import pandas as pd

    with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in frame[columns].itertuples(index=False):
            copy.write_row([None if value is None or pd.isna(value) else value
                            for value in row])
