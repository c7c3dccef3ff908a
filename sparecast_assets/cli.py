"""The ``sparecast`` command. Heavy imports (Dagster, dbt, LightGBM) happen inside the commands
that need them, so ``sparecast --help`` and the importers stay quick."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date
from pathlib import Path


DEMO_LANDING = "$SPARECAST_HOME/demo-landing"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparecast")
    except PackageNotFoundError:
        return "unknown"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _import_azure(args: argparse.Namespace) -> int:
    from sparecast_assets.landing.storage import open_landing
    from sparecast_assets.sources.azure_pdm import import_azure_pdm

    started = time.monotonic()
    try:
        summary = import_azure_pdm(Path(args.directory), open_landing(args.to))
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(exc) from exc
    print(f"imported the Azure PdM data into {args.to} in {time.monotonic() - started:.1f}s")
    for source, rows in summary.rows.items():
        print(f"  {source:<12}{rows:>10,} rows in {summary.files[source]:>4} files")
    print(f"next: sparecast run --landing {args.to}")
    return 0


def _generate(args: argparse.Namespace, landing_uri: str):
    from sparecast_assets.landing.storage import open_landing
    from sparecast_assets.sources.synthetic import FleetSize, generate_fleet
    from sparecast_assets.sources.writer import write_landing

    size = FleetSize(machines=args.machines, parts=args.parts, days=args.days, start=args.start,
                     seed=args.seed)
    started = time.monotonic()
    try:
        landing = open_landing(landing_uri)
    except ValueError as exc:
        raise UserError(exc) from exc
    summary = write_landing(generate_fleet(size), landing, "synthetic")
    print(f"generated a synthetic fleet ({size.machines} machines, {size.parts} parts, "
          f"{size.days} days from {size.start}, seed {size.seed}) into {landing_uri} "
          f"in {time.monotonic() - started:.1f}s")
    for source, rows in summary.rows.items():
        print(f"  {source:<12}{rows:>10,} rows in {summary.files[source]:>4} files")
    return summary


def _generate_command(args: argparse.Namespace) -> int:
    _generate(args, args.to)
    return 0


def _run(args: argparse.Namespace) -> int:
    from sparecast_assets.pipeline import PipelineError, format_summary, run_pipeline

    try:
        summary = run_pipeline(args.landing, args.start, args.end)
    except PipelineError as exc:
        raise UserError(exc) from exc
    print(format_summary(summary))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sparecast_assets import db

    landing = args.landing
    if landing == DEMO_LANDING:
        landing = str(db.sparecast_home() / "demo-landing")
    _generate(args, landing)
    args.landing, args.start, args.end = landing, None, None
    return _run(args)


def _query(args: argparse.Namespace) -> int:
    import pandas as pd
    import psycopg

    from sparecast_assets import db

    try:
        with db.connect() as conn:
            conn.read_only = True  # a query command never changes the data
            with conn.cursor() as cur:
                cur.execute(args.sql)
                if cur.description is None:
                    return 0
                frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    except psycopg.Error as exc:
        raise UserError(str(exc).strip()) from exc
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.width", 200):
        print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


BI_PASSWORD_VARIABLE = "SPARECAST_BI_PASSWORD"


def _bi_role(args: argparse.Namespace) -> int:
    import getpass
    import os

    import psycopg

    from sparecast_assets import db
    from sparecast_assets.analytics.role import ensure_bi_role

    password = os.environ.get(BI_PASSWORD_VARIABLE, "")
    if not password:
        if not sys.stdin.isatty():
            raise UserError(f"no password: set {BI_PASSWORD_VARIABLE}, or run the command in a "
                            "terminal to be asked for one")
        password = getpass.getpass(f"password for {args.role}: ")
        if password != getpass.getpass("again: "):
            raise UserError("the two passwords differ; nothing was changed")
    if not password:
        raise UserError("the password is empty; nothing was changed")
    url = db.database_url()
    try:
        with db.connect(url) as conn:
            report = ensure_bi_role(conn, args.role, password)
    except psycopg.Error as exc:
        raise UserError(str(exc).strip()) from exc
    print(f"{'created' if report.created else 'updated'} role {report.role} in "
          f"{db.describe(url)}: SELECT on schema analytics (views created later too), no access "
          "to raw, dbt or ml, no writes")
    for privilege in report.public_privileges:
        print(f"  note: every role of this server, {report.role} too, has {privilege}")
    print("  connect Power BI with this role: see docs/powerbi.md")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    import os

    from sparecast_assets import db
    from sparecast_assets.dashboard.app import DASHBOARD_URL_VARIABLE, serve

    import psycopg

    url = os.environ.get(DASHBOARD_URL_VARIABLE, "").strip() or db.database_url()
    with psycopg.connect(url) as conn:
        missing = conn.execute(
            "select count(*) from unnest(array['forecast_vs_actual', 'stock_recommendations', "
            "'fleet_health']) as v(name) where to_regclass('analytics.' || name) is null"
        ).fetchone()[0]
    if missing:
        print(f"sparecast dashboard: {db.describe(url)} has no analytics views yet: run "
              "`sparecast run --landing ...` (or `sparecast demo`) first", file=sys.stderr)
        return 2
    print(f"sparecast dashboard on http://{args.host}:{args.port}/ reading {db.describe(url)} "
          "(schema analytics); Ctrl+C stops it", flush=True)
    serve(url, host=args.host, port=args.port)
    return 0


def _size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--machines", type=int, default=20, help="machines in the fleet")
    parser.add_argument("--parts", type=int, default=12, help="spare parts (3/4 wear, 1/4 consumable)")
    parser.add_argument("--days", type=int, default=365, help="days of history")
    parser.add_argument("--start", type=_day, default=date(2025, 1, 1), metavar="YYYY-MM-DD",
                        help="first day")
    parser.add_argument("--seed", type=int, default=7, help="random seed")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default only when it has one (not "default: None")."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparecast",
        description="Predictive spare-parts inventory: landing zone -> Postgres -> dbt -> "
                    "LightGBM -> forecast.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = {"formatter_class": _DefaultsFormatter}

    run = commands.add_parser("run", help="load, model and forecast a range of landed days",
                              **defaults)
    run.add_argument("--landing", required=True, help="landing folder or s3://bucket/prefix")
    run.add_argument("--start", type=_day, metavar="YYYY-MM-DD",
                     help="first day (default: first landed day)")
    run.add_argument("--end", type=_day, metavar="YYYY-MM-DD",
                     help="last day, inclusive (default: last landed day)")
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo", help="generate a synthetic fleet and run the whole pipeline on it", **defaults)
    demo.add_argument("--landing", default=DEMO_LANDING, help="where to write the demo files")
    _size_arguments(demo)
    demo.set_defaults(handler=_demo)

    generate = commands.add_parser("generate", help="write a synthetic fleet into a landing zone",
                                   **defaults)
    generate.add_argument("--to", required=True, help="landing folder or s3://bucket/prefix")
    _size_arguments(generate)
    generate.set_defaults(handler=_generate_command)

    query = commands.add_parser(
        "query", help="run a read-only SQL query on sparecast's database (embedded or not)")
    query.add_argument("sql", help='e.g. "select * from analytics.part_demand_forecast limit 20"')
    query.set_defaults(handler=_query)

    bi_role = commands.add_parser(
        "bi-role", help="create or update the read-only role for BI tools (SELECT on analytics)",
        description="Creates the role, or updates its password and privileges. The password "
                    f"comes from {BI_PASSWORD_VARIABLE} or, in a terminal, a prompt; it reaches "
                    "the server only as a SCRAM verifier.", **defaults)
    bi_role.add_argument("--role", default="sparecast_bi", help="name of the role")
    bi_role.set_defaults(handler=_bi_role)

    dashboard = commands.add_parser(
        "dashboard", help="the planners' web dashboard over the analytics schema",
        description="Reads SPARECAST_DASHBOARD_DATABASE_URL (e.g. as the BI role), else the "
                    "database sparecast itself uses.", **defaults)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dashboard.add_argument("--port", type=int, default=8050, help="port to listen on")
    dashboard.set_defaults(handler=_dashboard)

    importer = commands.add_parser("import", help="convert a public data set to the landing layout")
    datasets = importer.add_subparsers(dest="dataset", required=True)
    azure = datasets.add_parser("azure-pdm", help="the Microsoft Azure predictive-maintenance data")
    azure.add_argument("directory", help="folder with PdM_telemetry/errors/failures/maint/machines.csv")
    azure.add_argument("--to", required=True, help="landing folder or s3://bucket/prefix")
    azure.set_defaults(handler=_import_azure)
    return parser


class UserError(Exception):
    """A mistake the user can fix from the message alone: no traceback."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger = logging.getLogger("sparecast")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"sparecast {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
