"""`sparecast bi-role`: the role BI tools connect as reads the analytics schema and nothing else,
and writes nowhere. Real Postgres; the role logs in over TCP like Power BI would."""

import base64
import hashlib
import hmac
import uuid

import psycopg
import pytest
from psycopg import errors, sql

from sparecast_assets import cli

PASSWORD = "correct horse battery staple"


@pytest.fixture
def warehouse(fresh_database, monkeypatch):
    """A database with one table in each of raw, dbt and ml and a view in analytics over them."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for schema in ("raw", "dbt", "ml", "analytics"):
            conn.execute(f"create schema {schema}")
        conn.execute("create table raw.part_usage (part_id text, quantity double precision)")
        conn.execute("insert into raw.part_usage values ('P-1', 2), ('P-1', 3)")
        conn.execute("create table dbt.dim_parts (part_id text, criticality text)")
        conn.execute("insert into dbt.dim_parts values ('P-1', 'high')")
        conn.execute("create table ml.model_runs (model_version text)")
        conn.execute("insert into ml.model_runs values ('lgbm-1')")
        conn.execute("create table analytics.part_demand_forecast (part_id text, demand_mean "
                     "double precision)")
        conn.execute("insert into analytics.part_demand_forecast values ('P-1', 0.5)")
        # A view owned by the pipeline's user reads the private schemas on the owner's rights.
        conn.execute("create view analytics.dim_parts as select part_id, criticality from "
                     "dbt.dim_parts")
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    return fresh_database


@pytest.fixture
def role(warehouse):
    name = f"sparecast_bi_test_{uuid.uuid4().hex[:8]}"
    yield name
    # Roles belong to the server, not to the test's database: drop it with its privileges.
    with psycopg.connect(warehouse, autocommit=True) as conn:
        if conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def create_role(monkeypatch, capsys, role: str, password: str = PASSWORD) -> str:
    monkeypatch.setenv("SPARECAST_BI_PASSWORD", password)
    assert cli.main(["bi-role", "--role", role]) == 0
    captured = capsys.readouterr()
    assert password not in captured.out + captured.err
    return captured.out


def connect_as(database_url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(database_url, user=role, password=PASSWORD, autocommit=True)


def scram_matches(verifier: str, password: str) -> bool:
    """Check a SCRAM-SHA-256 verifier (RFC 5802/7677) against a password."""
    mechanism, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$", 1)
    iterations, salt = iterations_salt.split(":")
    stored_key, _server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                 int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (mechanism == "SCRAM-SHA-256"
            and hashlib.sha256(client_key).digest() == base64.b64decode(stored_key))


def test_the_role_reads_the_analytics_views_and_tables(warehouse, role, monkeypatch, capsys):
    out = create_role(monkeypatch, capsys, role)

    assert out.startswith(f"created role {role} in postgresql://postgres@127.0.0.1:5432/")
    with connect_as(warehouse, role) as conn:
        assert conn.execute("select current_user").fetchone()[0] == role
        assert conn.execute("select * from analytics.dim_parts").fetchall() == [("P-1", "high")]
        assert conn.execute("select * from analytics.part_demand_forecast").fetchall() == [
            ("P-1", 0.5)]


def test_a_view_created_after_the_role_is_readable_without_running_the_command_again(
        warehouse, role, monkeypatch, capsys):
    create_role(monkeypatch, capsys, role)
    with psycopg.connect(warehouse, autocommit=True) as owner:
        owner.execute("create view analytics.model_runs as select * from ml.model_runs")

    with connect_as(warehouse, role) as conn:
        assert conn.execute("select * from analytics.model_runs").fetchall() == [("lgbm-1",)]


@pytest.mark.parametrize("table", ["raw.part_usage", "dbt.dim_parts", "ml.model_runs"])
def test_the_role_cannot_read_raw_dbt_or_ml(warehouse, role, monkeypatch, capsys, table):
    create_role(monkeypatch, capsys, role)

    with connect_as(warehouse, role) as conn:
        with pytest.raises(errors.InsufficientPrivilege,
                           match=f"permission denied for schema {table.split('.')[0]}"):
            conn.execute(f"select * from {table}")


def test_grants_made_by_hand_earlier_are_taken_back(warehouse, role, monkeypatch, capsys):
    create_role(monkeypatch, capsys, role)
    with psycopg.connect(warehouse, autocommit=True) as owner:
        owner.execute(sql.SQL("grant usage on schema raw to {}").format(sql.Identifier(role)))
        owner.execute(sql.SQL("grant select, insert on raw.part_usage to {}").format(
            sql.Identifier(role)))

    out = create_role(monkeypatch, capsys, role)

    assert out.startswith(f"updated role {role} in ")
    with connect_as(warehouse, role) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select * from raw.part_usage")


WRITES = [
    "insert into analytics.part_demand_forecast values ('P-2', 1)",
    "update analytics.part_demand_forecast set demand_mean = 9",
    "delete from analytics.part_demand_forecast",
    "truncate analytics.part_demand_forecast",
    "create table analytics.mine (x int)",
    "create view analytics.mine as select 1 as x",
    "drop view analytics.dim_parts",
    "create table public.mine (x int)",
    "create schema mine",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_role_cannot_write_even_when_it_turns_read_only_off(warehouse, role, monkeypatch,
                                                                capsys, statement):
    create_role(monkeypatch, capsys, role)

    with connect_as(warehouse, role) as conn:
        # By default every transaction of the role is read-only ...
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute(statement)
        # ... and without that guard the privileges still refuse.
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)

    with psycopg.connect(warehouse) as owner:
        assert owner.execute("select count(*) from analytics.part_demand_forecast"
                             ).fetchone()[0] == 1
        assert owner.execute("select count(*) from raw.part_usage").fetchone()[0] == 2


def test_the_role_cannot_even_name_a_raw_table_to_write_it(warehouse, role, monkeypatch,
                                                           capsys):
    create_role(monkeypatch, capsys, role)

    with connect_as(warehouse, role) as conn:
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema raw"):
            conn.execute("insert into raw.part_usage values ('P-2', 1)")


def test_temporary_tables_are_refused_by_the_read_only_default(warehouse, role, monkeypatch,
                                                               capsys):
    out = create_role(monkeypatch, capsys, role)

    # Postgres grants TEMPORARY to every role; the command says so instead of hiding it.
    assert "note: every role of this server" in out and "TEMPORARY on the database" in out
    with connect_as(warehouse, role) as conn:
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute("create temporary table scratch (x int)")


def test_the_server_stores_a_scram_verifier_of_the_password_never_the_password(
        warehouse, role, monkeypatch, capsys):
    create_role(monkeypatch, capsys, role)
    with psycopg.connect(warehouse) as owner:
        stored = owner.execute("select rolpassword from pg_authid where rolname = %s",
                               (role,)).fetchone()[0]
    assert PASSWORD not in stored
    assert scram_matches(stored, PASSWORD)
    assert not scram_matches(stored, "another password")

    create_role(monkeypatch, capsys, role, password="a new password")
    with psycopg.connect(warehouse) as owner:
        stored = owner.execute("select rolpassword from pg_authid where rolname = %s",
                               (role,)).fetchone()[0]
    assert scram_matches(stored, "a new password")


def test_the_role_has_no_server_wide_powers(warehouse, role, monkeypatch, capsys):
    create_role(monkeypatch, capsys, role)
    with psycopg.connect(warehouse) as owner:
        powers = owner.execute(
            "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "rolinherit, rolcanlogin from pg_roles where rolname = %s", (role,)).fetchone()
        memberships = owner.execute(
            "select count(*) from pg_auth_members m join pg_roles r on r.oid = m.member "
            "where r.rolname = %s", (role,)).fetchone()[0]
    assert powers == (False, False, False, False, False, False, True)
    assert memberships == 0


def test_without_a_password_nothing_is_created(warehouse, role, monkeypatch, capsys):
    monkeypatch.delenv("SPARECAST_BI_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    assert cli.main(["bi-role", "--role", role]) == 1

    assert capsys.readouterr().err == (
        "sparecast bi-role: no password: set SPARECAST_BI_PASSWORD, or run the command in a "
        "terminal to be asked for one\n")
    with psycopg.connect(warehouse) as owner:
        assert owner.execute("select count(*) from pg_roles where rolname = %s",
                             (role,)).fetchone()[0] == 0
