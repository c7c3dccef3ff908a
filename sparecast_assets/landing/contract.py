"""The landing-zone contract: which sources exist, where their files go, what columns they hold.

A landed file's key is ``<source>/dt=YYYY-MM-DD/<name>.<csv|csv.gz|parquet|jsonl>`` relative to
the landing root. ``dt`` is the day the file belongs to (its partition), not a load time.
docs/landing-contract.md is the user-facing copy of what this module enforces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FORMATS = ("csv.gz", "csv", "parquet", "jsonl.gz", "jsonl")

# kind -> Postgres type of the raw column
COLUMN_TYPES = {
    "text": "text",
    "integer": "bigint",
    "number": "double precision",
    "timestamp": "timestamptz",
    "date": "date",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool
    description: str
    unit: str = ""
    # Smallest allowed value of a number; ``strict`` excludes the bound itself.
    minimum: float | None = None
    strict: bool = False
    # Largest plausible value: a bigger one is a unit or export error, not a fact.
    maximum: float | None = None
    # For text: the only values allowed (compared in lower case).
    values: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        if self.values:
            return ", ".join(self.values)
        if self.kind == "timestamp":
            return "1970-01-01 .. now + 1 day"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.strict else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:,.0f}")
        return " and ".join(bounds) or "any"


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Master data: every file is a full snapshot, and the newest dt wins downstream.
    master_data: bool = False
    # Telemetry: columns beyond the declared ones are numeric sensor channels, stored in a
    # jsonb map so any number of channels fits without a schema change.
    channel_columns: bool = False
    # The columns that identify one row (an event, or for master data one id within one dt):
    # two rows with equal keys are the same fact counted twice. Empty values compare equal.
    key: tuple[str, ...] = ()

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "machines",
            "Machines in the fleet (master data).",
            (
                Column("machine_id", "text", True, "Machine identifier."),
                Column("model", "text", False, "Machine model or type."),
                Column("age_years", "number", False, "Age of the machine.", "years", minimum=0,
                       maximum=200),
                Column("location_id", "text", False, "Site or warehouse serving the machine."),
            ),
            master_data=True,
            key=("machine_id",),
        ),
        Source(
            "parts",
            "Spare parts (master data).",
            (
                Column("part_id", "text", True, "Part number."),
                Column("description", "text", False, "Human-readable part name."),
                Column("unit_cost", "number", False, "Cost of one unit.", "currency units",
                       minimum=0, maximum=1e9),
                Column("lead_time_days", "number", False, "Replenishment lead time.", "days",
                       minimum=0, maximum=3650),
                Column("min_order_qty", "number", False, "Minimum order quantity.", "units",
                       minimum=0, maximum=1e6),
                Column("pack_size", "number", False, "Units per pack; orders are multiples.",
                       "units", minimum=0, strict=True, maximum=1e6),
                Column("criticality", "text", False, "How badly a missing part stops work.",
                       values=("high", "medium", "low")),
            ),
            master_data=True,
            key=("part_id",),
        ),
        Source(
            "telemetry",
            "Sensor readings per machine and timestamp; every extra numeric column is a channel.",
            (
                Column("machine_id", "text", True, "Machine identifier."),
                Column("measured_at", "timestamp", True, "Time of the reading.", "UTC"),
            ),
            channel_columns=True,
            key=("machine_id", "measured_at"),
        ),
        Source(
            "errors",
            "Error or alarm events raised by machines.",
            (
                Column("machine_id", "text", True, "Machine identifier."),
                Column("error_at", "timestamp", True, "Time the error was raised.", "UTC"),
                Column("error_code", "text", True, "Error or alarm code."),
            ),
            key=("machine_id", "error_at", "error_code"),
        ),
        Source(
            "failures",
            "Failures that stopped a machine.",
            (
                Column("machine_id", "text", True, "Machine identifier."),
                Column("failed_at", "timestamp", True, "Time of the failure.", "UTC"),
                Column("part_id", "text", False, "The part whose failure stopped the machine."),
                Column("failure_mode", "text", False, "Free-text failure mode."),
            ),
            key=("machine_id", "failed_at", "part_id"),
        ),
        Source(
            "part_usage",
            "Parts consumed (issued from stock) in maintenance: the demand signal.",
            (
                Column("part_id", "text", True, "Part number."),
                Column("quantity", "number", True, "Units consumed.", "units", minimum=0,
                       strict=True, maximum=1e6),
                Column("used_at", "timestamp", True, "Time the part was used.", "UTC"),
                Column("machine_id", "text", False, "Machine the part went into."),
                Column("reason", "text", False, "failure, preventive, or another reason."),
                Column("work_order_id", "text", False, "Maintenance work order."),
            ),
            key=("part_id", "used_at", "machine_id", "work_order_id"),
        ),
        Source(
            "inventory",
            "Snapshots of stock per part and location.",
            (
                Column("part_id", "text", True, "Part number."),
                Column("location_id", "text", True, "Warehouse or stores location."),
                Column("snapshot_at", "timestamp", True, "Time the stock was counted.", "UTC"),
                Column("on_hand", "number", True, "Units in stock.", "units", minimum=0,
                       maximum=1e9),
                Column("on_order", "number", False, "Units ordered, not yet received.", "units",
                       minimum=0, maximum=1e9),
            ),
            key=("part_id", "location_id", "snapshot_at"),
        ),
    )
}

KEY_PATTERN = re.compile(
    r"^(?P<source>[a-z_]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<name>[^/.][^/]*?)\.(?P<fmt>"
    + "|".join(re.escape(f) for f in FORMATS)
    + r")\Z"  # \Z, not $: a name ending in a newline is not a contract key
)


class LandingKeyError(ValueError):
    """A key in the landing zone that does not follow the contract."""


@dataclass(frozen=True)
class LandedKey:
    source: str
    partition_date: date
    name: str
    format: str
    relative_key: str


def parse_landing_key(relative_key: str) -> LandedKey:
    """Parse ``<source>/dt=YYYY-MM-DD/<name>.<ext>``; raise LandingKeyError with the reason."""
    match = KEY_PATTERN.match(relative_key)
    if not match:
        raise LandingKeyError(
            f"{relative_key!r} does not match <source>/dt=YYYY-MM-DD/<name>.<"
            + "|".join(FORMATS)
            + ">"
        )
    if match["source"] not in SOURCES:
        raise LandingKeyError(
            f"{relative_key!r}: unknown source {match['source']!r} "
            f"(known: {', '.join(sorted(SOURCES))})"
        )
    try:
        day = date.fromisoformat(match["dt"])
    except ValueError as exc:
        raise LandingKeyError(f"{relative_key!r}: dt={match['dt']} is not a date") from exc
    return LandedKey(match["source"], day, match["name"], match["fmt"], relative_key)


def landing_key(source: str, day: date, name: str, fmt: str) -> str:
    if source not in SOURCES:
        raise LandingKeyError(f"unknown source {source!r}")
    if fmt not in FORMATS:
        raise LandingKeyError(f"unsupported format {fmt!r}")
    return f"{source}/dt={day.isoformat()}/{name}.{fmt}"
