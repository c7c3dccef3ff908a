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

def default_landing_uri() -> str:
    return os.environ.get("SPARECAST_LANDING") or str(db.sparecast_home() / "landing")

@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "landing": LandingZone(uri=default_landing_uri()),
            "postgres": PostgresResource(),
            "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR)),
            "forecast_settings": ForecastSettings(
                horizon_days=int(os.environ.get("SPARECAST_HORIZON_DAYS", "28"))),
        }
    )
