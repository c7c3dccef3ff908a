"""Deployment files: the IAM policy grants what sparecast needs to read a landing zone, no more;
the Dagster instance configuration used by docker-compose loads against a real Postgres."""

import json
import shutil
import subprocess
import sys

import dagster as dg
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import REPO


def test_the_landing_policy_allows_listing_and_reading_the_prefix_and_nothing_else():
    policy = json.loads((REPO / "deploy" / "aws" / "landing-bucket-policy.json").read_text())

    grants = sorted((s["Effect"], s["Action"], s["Resource"]) for s in policy["Statement"])
    assert grants == [
        ("Allow", "s3:GetObject", "arn:aws:s3:::SPARECAST_BUCKET/SPARECAST_PREFIX/*"),
        ("Allow", "s3:ListBucket", "arn:aws:s3:::SPARECAST_BUCKET"),
    ]
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["SPARECAST_PREFIX/*", "SPARECAST_PREFIX"]}}


def test_the_compose_dagster_instance_stores_its_runs_and_events_in_postgres(fresh_database, tmp_path,
                                                                   monkeypatch):
    params = conninfo_to_dict(fresh_database)
    monkeypatch.setenv("DAGSTER_PG_HOST", params.get("host", "127.0.0.1"))
    monkeypatch.setenv("DAGSTER_PG_USER", params.get("user", "postgres"))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", params.get("password", ""))
    monkeypatch.setenv("DAGSTER_PG_DB", params["dbname"])
    shutil.copy(REPO / "docker" / "dagster.yaml", tmp_path / "dagster.yaml")

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert instance.get_runs_count() == 0
        # A run writes its events through Postgres (and NOTIFYs listeners): the path that
        # breaks when SQLAlchemy picks a driver dagster-postgres was not written for.
        assert dg.materialize([probe], instance=instance).success
        assert instance.get_runs_count() == 1
        assert instance.get_latest_materialization_event(dg.AssetKey("probe")) is not None


def test_the_workspace_file_loads_the_code_location():
    from pathlib import Path

    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation." in result.stderr + result.stdout


def _check_compose(path) -> subprocess.CompletedProcess:
    """check-jsonschema with the compose specification's schema it ships (vendor.compose-spec)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)], capture_output=True, text=True, timeout=120)


def test_the_compose_file_follows_the_compose_specification():
    result = _check_compose(REPO / "docker-compose.yml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok -- validation done"


def test_the_compose_schema_check_catches_a_misspelt_service_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    text = (REPO / "docker-compose.yml").read_text()
    broken.write_text(text.replace("    healthcheck:", "    health_check:", 1))

    result = _check_compose(broken)

    assert result.returncode == 1
    assert ("docker-compose.yml::$.services.postgres: Unevaluated properties are not allowed "
            "('health_check' was unexpected)") in result.stdout


def test_the_compose_stack_has_every_service_and_its_variables_are_in_the_example_env():
    import re

    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    example = (REPO / ".env.example").read_text()

    assert sorted(compose["services"]) == [
        "dagster-daemon", "dagster-webserver", "minio", "minio-init", "postgres", "sparecast-code"]
    used = set(re.findall(r"\$\{(\w+)", (REPO / "docker-compose.yml").read_text()))
    documented = set(re.findall(r"^#?\s*(\w+)=", example, flags=re.M))
    assert used - documented == set()
    grpc = yaml.safe_load((REPO / "docker" / "workspace.yaml").read_text())
    assert grpc == {"load_from": [{"grpc_server": {
        "host": "sparecast-code", "port": 4000, "location_name": "sparecast"}}]}
    assert compose["services"]["sparecast-code"]["command"][-2:] == [
        "-m", "sparecast_assets.definitions"]
