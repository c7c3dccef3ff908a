"""The read-only role BI tools (Power BI, the dashboard) connect as: it may read the analytics
schema and nothing else, and write nowhere.

The password reaches the server only as a SCRAM-SHA-256 verifier computed here by libpq, so
neither the server's statement log nor ours ever holds the clear text.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from sparecast_assets import db

READ_SCHEMA = "analytics"
# Schemas the role must not read; "public" is listed so that nothing a user put there leaks.
PRIVATE_SCHEMAS = ("raw", "dbt", "ml", "public")


@dataclass
class RoleReport:
    role: str
    created: bool
    database: str
    # Privileges PUBLIC holds on this server that the role inherits and that this command
    # cannot take from one role alone (revoking them changes every user of the server).
    public_privileges: list[str]


def _scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    # libpq's PQencryptPasswordConn: the server's own algorithm (scram-sha-256 unless it is
    # configured for md5), computed client-side.
    return conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()


def ensure_bi_role(conn: psycopg.Connection, role: str, password: str) -> RoleReport:
    """Create the role, or update its password and privileges, in one transaction."""
    if not role or not password:
        raise ValueError("the BI role needs a name and a non-empty password")
    verifier = _scram_verifier(conn, role, password)
    name = sql.Identifier(role)
    database = conn.info.dbname
    with conn.transaction():
        db.lock_ddl(conn)
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        options = sql.SQL("login nosuperuser nocreatedb nocreaterole noinherit noreplication "
                          "nobypassrls password {}").format(sql.Literal(verifier))
        verb = "alter" if exists else "create"
        conn.execute(sql.SQL(verb + " role {} with ").format(name) + options)
        # Not a security boundary (a session can turn it off); the missing privileges are. It
        # makes every statement of a BI session fail fast if it tries to write, temp tables too.
        conn.execute(sql.SQL("alter role {} set default_transaction_read_only = on")
                     .format(name))

        conn.execute(sql.SQL("grant connect on database {} to {}").format(
            sql.Identifier(database), name))
        for schema in PRIVATE_SCHEMAS:
            if conn.execute("select to_regnamespace(%s)", (schema,)).fetchone()[0] is None:
                continue
            target = sql.Identifier(schema)
            conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(
                target, name))
            conn.execute(sql.SQL("revoke all on schema {} from {}").format(target, name))

        analytics = sql.Identifier(READ_SCHEMA)
        conn.execute(sql.SQL("create schema if not exists {}").format(analytics))
        conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(
            analytics, name))
        conn.execute(sql.SQL("revoke create on schema {} from {}").format(analytics, name))
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(analytics, name))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            analytics, name))
        # Views and tables that sparecast creates later (it connects as this same user) are
        # readable too, without running this command again.
        conn.execute(sql.SQL("alter default privileges in schema {} grant select on tables "
                             "to {}").format(analytics, name))
        public = _public_write_privileges(conn, database)
    return RoleReport(role, not exists, database, public)


def _public_write_privileges(conn: psycopg.Connection, database: str) -> list[str]:
    found = []
    if conn.execute("select has_schema_privilege('public', 'public', 'create')").fetchone()[0]:
        found.append("CREATE on schema public (Postgres 14 and older grant it to everyone): "
                     "`revoke create on schema public from public` removes it")
    if conn.execute("select has_database_privilege('public', %s, 'temporary')",
                    (database,)).fetchone()[0]:
        found.append("TEMPORARY on the database (temporary tables, dropped at disconnect; the "
                     "role's default_transaction_read_only blocks them)")
    return found
