"""Deployment files: the IAM policy grants what sparecast needs to read a landing zone, no more;
the Dagster instance configuration used by docker-compose loads against a real Postgres."""

import json
import shutil

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


def test_the_compose_dagster_instance_stores_its_runs_in_postgres(fresh_database, tmp_path,
                                                                   monkeypatch):
    params = conninfo_to_dict(fresh_database)
    monkeypatch.setenv("DAGSTER_PG_HOST", params.get("host", "127.0.0.1"))
    monkeypatch.setenv("DAGSTER_PG_USER", params.get("user", "postgres"))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", params.get("password", ""))
    monkeypatch.setenv("DAGSTER_PG_DB", params["dbname"])
    shutil.copy(REPO / "docker" / "dagster.yaml", tmp_path / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_runs_count() == 0


def test_the_workspace_file_loads_the_code_location():
    import subprocess
    import sys
    from pathlib import Path

    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation." in result.stderr + result.stdout
