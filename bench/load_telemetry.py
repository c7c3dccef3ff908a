"""Load a generated telemetry file of millions of readings two ways, side by side:

- reference: a plain ``\\copy`` of the same file through psql into a table of its columns
  (no validation, no lineage, no quarantine);
- sparecast: ``load_window`` (streaming read, contract checks, UTC normalisation, channels
  as double precision columns, lineage columns, ledger, binary COPY in one transaction).

Each runs in its own process, so its peak memory (max RSS, from /usr/bin/time) is its own;
Postgres's server processes are not counted in either. Usage:

    python bench/load_telemetry.py [--rows 5000000] [--server postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

DAY = "2025-01-01"
CHANNELS = ("volt", "rotate", "pressure", "vibration")


def generate(path: Path, rows: int, chunk: int = 500_000) -> None:
    """Hourly-spaced readings of 100 machines with four channels, written in chunks."""
    rng = np.random.default_rng(7)
    start = np.datetime64(f"{DAY}T00:00:00", "s")
    with pacsv.CSVWriter(str(path), pa.schema(
            [("machine_id", pa.string()), ("measured_at", pa.string())]
            + [(c, pa.float64()) for c in CHANNELS])) as writer:
        for first in range(0, rows, chunk):
            n = min(chunk, rows - first)
            index = np.arange(first, first + n)
            machines = pa.array((index % 100 + 1).astype(str))
            # Unique (machine, second) keys, all inside the day.
            stamps = (start + (index // 100) % 86_400).astype(str)
            stamps = pa.array(np.char.replace(stamps, "T", " "))
            values = [pa.array(np.round(rng.normal(100, 15, n), 6)) for _ in CHANNELS]
            writer.write_table(pa.table([machines, stamps, *values],
                                        names=["machine_id", "measured_at", *CHANNELS]))


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB, and stdout of ``command`` in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", *command], env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}")
    rss = next(int(line.split("=")[1]) for line in done.stderr.splitlines()
               if line.startswith("maxrss_kb="))
    return seconds, rss / 1024, done.stdout


def checkpoint(url: str) -> None:
    """Flush the dirty buffers of earlier steps, so neither load pays for another's writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")


SPARECAST_LOAD = """
import sys
import time
from datetime import date
import psycopg
from sparecast_assets.ingest.load import load_window
from sparecast_assets.landing.storage import LocalLanding
with psycopg.connect(sys.argv[1]) as conn:
    started = time.perf_counter()
    loads = load_window(conn, LocalLanding(sys.argv[2]), "telemetry", date(2025, 1, 1),
                        date(2025, 1, 2))
    seconds = time.perf_counter() - started
print(sum(f.rows for f in loads), sum(f.rejected for f in loads), seconds)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--server", default=os.environ.get(
        "SPARECAST_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    name = f"sparecast_bench_{uuid.uuid4().hex[:8]}"
    url = args.server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(args.server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="sparecast-bench-") as folder:
            landing = Path(folder) / "landing"
            path = landing / "telemetry" / f"dt={DAY}" / "readings.csv"
            path.parent.mkdir(parents=True)
            started = time.perf_counter()
            generate(path, args.rows)
            size = path.stat().st_size
            print(f"generated {args.rows:,} rows x {len(CHANNELS)} channels "
                  f"({args.rows * len(CHANNELS):,} readings), {size / 1e6:,.0f} MB, in "
                  f"{time.perf_counter() - started:.1f}s")

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("create table plain_telemetry (machine_id text, measured_at "
                             "timestamptz, " + ", ".join(f"{c} double precision"
                                                         for c in CHANNELS) + ")")
            checkpoint(url)
            plain = timed(["psql", url, "-q", "-c",
                           f"\\copy plain_telemetry from '{path}' with (format csv, header)"])
            checkpoint(url)
            ours = timed([sys.executable, "-c", SPARECAST_LOAD, url, str(landing)],
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
            loaded, rejected, in_load = ours[2].split()
            loaded, rejected, in_load = int(loaded), int(rejected), float(in_load)
            with psycopg.connect(url) as conn:
                in_plain = conn.execute("select count(*) from plain_telemetry").fetchone()[0]
                in_raw = conn.execute("select count(*) from raw.telemetry").fetchone()[0]
    finally:
        with psycopg.connect(args.server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    if (in_plain, in_raw, loaded, rejected) != (args.rows, args.rows, args.rows, 0):
        sys.exit(f"row counts differ: plain {in_plain}, raw {in_raw}, loaded {loaded}, "
                 f"rejected {rejected}")
    print(f"\n{'':<46}{'seconds':>9}{'rows/s':>12}{'peak MB':>10}")
    for label, seconds, rss in (
            ("reference: psql \\copy (plain), whole process", plain[0], plain[1]),
            ("sparecast load_window, whole process", ours[0], ours[1]),
            ("  of which the load (imports excluded)", in_load, ours[1])):
        print(f"{label:<46}{seconds:>9.1f}{args.rows / seconds:>12,.0f}{rss:>10,.0f}")
    print(f"\nsparecast's speed is {plain[0] / ours[0]:.0%} of the plain COPY's, whole process "
          f"against whole process (target: at least 50%); its peak memory {ours[1]:,.0f} MB "
          "(target: under 1,024 MB)")


if __name__ == "__main__":
    main()
