"""Write contract-shaped tables into a landing zone, one file per source and day."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pandas as pd

from sparecast_assets.landing.contract import landing_key
from sparecast_assets.landing.storage import Landing


@dataclass
class ImportSummary:
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)


EVENT_TIME = {"telemetry": "measured_at", "errors": "error_at", "failures": "failed_at",
              "part_usage": "used_at", "inventory": "snapshot_at"}


def write_landing(sources: dict[str, pd.DataFrame], landing: Landing, name: str) -> ImportSummary:
    """Write each event source as one CSV per day; master data once, at the first day of data."""
    summary = ImportSummary()
    first_day = min(
        frame[EVENT_TIME[s]].min() for s, frame in sources.items() if s in EVENT_TIME and len(frame)
    ).date()
    for source, frame in sources.items():
        summary.rows[source] = len(frame)
        if source in EVENT_TIME:
            column = EVENT_TIME[source]
            groups = frame.groupby(frame[column].dt.date, sort=True)
        else:
            groups = [(first_day, frame)]
        count = 0
        for day, day_frame in groups:
            out = day_frame.copy()
            if source in EVENT_TIME:
                out[EVENT_TIME[source]] = out[EVENT_TIME[source]].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            buffer = io.StringIO()
            out.to_csv(buffer, index=False)
            landing.write_bytes(landing_key(source, day, name, "csv"), buffer.getvalue().encode())
            count += 1
        summary.files[source] = count
    return summary


