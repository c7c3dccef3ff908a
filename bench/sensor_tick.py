"""How long does a landing-sensor tick take on 100,000 keys?

Runs moto's S3 server on a local port (over HTTP, as the tests do), fills a bucket with
100,000 contract keys (plus some that break the contract), and times, side by side:

- the reference: a bare boto3 paginated listing of the same keys (what any S3 sensor must pay;
  moto sorts the whole bucket for every page of 1,000, so on moto it grows with the square of
  the key count, which real S3 does not);
- the sensor's own work beyond the listing (parse every key, read the ledger, compare, plan);
- the landing sensor's first tick (everything new: one plan for all of it);
- a quiet tick once every file is in the ledger (the steady state);
- a tick after 50 new files land.

It prints each time, the cursor's size and Dagster's default sensor timeout (60 s).

    python bench/sensor_tick.py [--keys 100000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import socket
import time
import uuid
from datetime import date, timedelta

SOURCES = ("errors", "failures", "part_usage", "telemetry", "inventory")
SENSOR_TIMEOUT_SECONDS = 60  # Dagster's default for a sensor evaluation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keys(n: int) -> list[str]:
    per_day = 18
    out = []
    day = date(2023, 1, 1)
    while len(out) < n:
        for source in SOURCES:
            for i in range(per_day):
                out.append(f"{source}/dt={day.isoformat()}/plant-{i:02d}.csv")
        day += timedelta(days=1)
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--database-url",
                        default=os.environ.get("SPARECAST_BENCH_SERVER_URL",
                                               "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    import boto3
    import dagster as dg
    import psycopg
    from moto.server import ThreadedMotoServer

    from sparecast_assets.defs.raw import raw_assets
    from sparecast_assets.defs.resources import LandingZone, PostgresResource
    from sparecast_assets.defs.sensors import SENSOR_NAME, landing_sensor

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update({"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
                       "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    client = boto3.client("s3")
    client.create_bucket(Bucket="landing")
    body = b"machine_id,error_at,error_code\nM1,2023-01-01T00:00:00Z,E1\n"
    all_keys = keys(args.keys)
    malformed = [f"errors/notes-{i}.txt" for i in range(100)]
    started = time.monotonic()
    # Filled through moto's backend in this process (100,000 HTTP PUTs to moto take longer
    # than the whole benchmark); everything measured below goes over HTTP.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in all_keys + malformed:
        backend.put_object("landing", key, body)
    print(f"stored {len(all_keys):,} contract keys + {len(malformed)} malformed in moto "
          f"in {time.monotonic() - started:.0f}s")

    database = f"sparecast_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'create database "{database}"')
    url = args.database_url.rsplit("/", 1)[0] + f"/{database}"
    try:
        results = []

        started = time.monotonic()
        listed = sum(len(page.get("Contents", [])) for page in
                     client.get_paginator("list_objects_v2").paginate(Bucket="landing"))
        results.append(("reference: boto3 paginated listing", time.monotonic() - started,
                        f"{listed:,} keys", ""))

        resources = {"landing": LandingZone(uri="s3://landing"),
                     "postgres": PostgresResource(database_url=url)}
        with dg.instance_for_test() as instance:
            def tick(cursor):
                context = dg.build_sensor_context(
                    instance=instance, cursor=cursor, sensor_name=SENSOR_NAME,
                    resources=resources, definitions=dg.Definitions(
                        assets=raw_assets, sensors=[landing_sensor], resources=resources))
                begun = time.monotonic()
                result = landing_sensor.evaluate_tick(context)
                return result, time.monotonic() - begun

            # The sensor's own work, without the listing: parse every key, read the ledger,
            # compare, plan (what is left of a tick when the store lists fast).
            from sparecast_assets.landing.storage import S3Landing
            from sparecast_assets.landing.watch import WatchCursor, plan_loads
            from sparecast_assets.ingest.load import loaded_versions

            listing = S3Landing("s3://landing").list_all()
            prelisted = type("Prelisted", (), {"uri": "s3://landing",
                                               "list_all": lambda self: listing})()
            with psycopg.connect(url) as conn:
                begun = time.monotonic()
                plan = plan_loads(prelisted, WatchCursor(),
                                  ledger=lambda prefix: loaded_versions(conn, prefix))
                results.append(("sensor work beyond the listing", time.monotonic() - begun,
                                f"{len(plan.loads)} runs for {plan.files:,} files", ""))

            first, seconds = tick(None)
            files = sum(int(r.tags["sparecast/files"]) for r in first.run_requests)
            results.append(("sensor: first tick, all new", seconds,
                            f"{len(first.run_requests)} runs for {files:,} files",
                            f"{len(first.cursor.encode())} B"))

            # As if those runs loaded: the ledger knows every file's version.
            _fill_ledger(url, client)
            quiet, seconds = tick(first.cursor)
            results.append(("sensor: quiet tick, all loaded", seconds,
                            f"{len(quiet.run_requests)} runs", f"{len(quiet.cursor.encode())} B"))

            for i in range(50):
                client.put_object(Bucket="landing", Key=f"errors/dt=2026-01-0{1 + i % 9}/late-{i}.csv",
                                  Body=body)
            after, seconds = tick(quiet.cursor)
            files = sum(int(r.tags["sparecast/files"]) for r in after.run_requests)
            results.append(("sensor: tick after 50 new files", seconds,
                            f"{len(after.run_requests)} runs for {files} files",
                            f"{len(after.cursor.encode())} B"))
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
        server.stop()

    print(f"\n{'':36} {'seconds':>8}  {'outcome':<28} cursor")
    for name, seconds, outcome, cursor in results:
        print(f"{name:36} {seconds:8.2f}  {outcome:<28} {cursor}")
    print(f"{'Dagster sensor timeout (default)':36} {SENSOR_TIMEOUT_SECONDS:8.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process (moto's server included): {peak:.0f} MB")


def _fill_ledger(url: str, client) -> None:
    import psycopg

    from sparecast_assets.ingest.load import ensure_ledger
    from sparecast_assets.landing.contract import parse_landing_key

    rows = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="landing"):
        for obj in page.get("Contents", []):
            try:
                key = parse_landing_key(obj["Key"])
            except ValueError:
                continue
            rows.append((f"s3://landing/{obj['Key']}", key.source, obj["Key"],
                         obj["ETag"].strip('"'), obj["Size"], obj["LastModified"],
                         key.partition_date, 1))
    with psycopg.connect(url) as conn:
        ensure_ledger(conn)
        with conn.cursor() as cur, cur.copy(
                "copy raw.landed_files (uri, source, relative_key, etag, size_bytes, "
                "last_modified, partition_date, rows) from stdin") as copy:
            for row in rows:
                copy.write_row(row)


if __name__ == "__main__":
    main()
