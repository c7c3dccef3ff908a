"""Resources: where the landing zone is, which Postgres to use, dbt, and forecast settings."""

import os
from pathlib import Path

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource

from sparecast_assets import db
from sparecast_assets.landing.storage import Landing, open_landing

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

class LandingZone(dg.ConfigurableResource):
    """A local folder or ``s3://bucket/prefix`` holding ``<source>/dt=YYYY-MM-DD/<file>``."""

    uri: str

    def open(self) -> Landing:
        return open_landing(self.uri)

class PostgresResource(dg.ConfigurableResource):
    """The application database. Empty ``database_url`` means SPARECAST_DATABASE_URL, or the
    embedded Postgres when that is unset too."""

    database_url: str = ""

    def url(self) -> str:
        return self.database_url or db.database_url()

    def connect(self) -> psycopg.Connection:
        conn = db.connect(self.url())
        db.ensure_schemas(conn)
        return conn

class ForecastSettings(dg.ConfigurableResource):
    """How far ahead to forecast and how many rolling origins the backtest uses."""

    horizon_days: int = 28
    backtest_folds: int = 3

def default_artifacts_uri() -> str:
    return os.environ.get("SPARECAST_ARTIFACTS") or str(db.sparecast_home() / "artifacts")


def model_io_manager(uri: str):
    """Where trained models are kept: a local folder, or ``s3://bucket/prefix`` (through
    dagster-aws, with the same AWS_ENDPOINT_URL_S3 as the landing zone)."""
    if uri.startswith("s3://"):
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        bucket, _, prefix = uri[len("s3://"):].partition("/")
        return S3PickleIOManager(s3_resource=S3Resource(), s3_bucket=bucket,
                                 s3_prefix=prefix.strip("/") or "sparecast-artifacts")
    return dg.FilesystemIOManager(base_dir=uri)


def default_landing_uri() -> str:
    return os.environ.get("SPARECAST_LANDING") or str(db.sparecast_home() / "landing")

@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "landing": LandingZone(uri=default_landing_uri()),
            "postgres": PostgresResource(),
            "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR)),
            "model_io_manager": model_io_manager(default_artifacts_uri()),
            "forecast_settings": ForecastSettings(
                horizon_days=int(os.environ.get("SPARECAST_HORIZON_DAYS", "28"))),
        }
    )
