"""Which landed files are new or changed, grouped into loads.

Every tick lists the whole landing zone (S3 has no server-side "modified since" filter, so any
S3 sensor pays this listing) and compares it with the file ledger ``raw.landed_files``: the
URI and ETag of every file whose rows are in the raw tables, written in the same transaction
as the rows. A file is loaded when the ledger does not hold its current version: a new file, a
re-upload with new content, an old version put back, a file that arrived with an old timestamp
(``cp -p``, ``rsync -a``, S3's multipart uploads stamped with their start), or one whose last
load failed and that is part of a new load. So the Postgres ledger, not the cursor, is the
sensor's memory, and timestamps never decide what is loaded.

The cursor is small and bounded: the newest ``LastModified`` seen (a high-water mark, clamped
to the tick's time), which only decides what is reported as first seen (keys outside the
contract are named once, not on every tick).

New files of one source become one load over the range of their days, split only where days
are more than ``max_gap_days`` apart, so a year of history that lands at once is one run per
source, not 365. Everything here is plain Python; the Dagster sensor wraps it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sparecast_assets.landing.contract import LandingKeyError, parse_landing_key
from sparecast_assets.landing.storage import LandedFile, Landing, landed_file

CURSOR_VERSION = 1


@dataclass(frozen=True)
class WatchCursor:
    """The sensor's memory between ticks: one timestamp, whatever the number of keys."""

    high_water: datetime | None = None

    def dumps(self) -> str:
        mark = self.high_water.isoformat() if self.high_water else None
        return json.dumps({"v": CURSOR_VERSION, "high_water": mark}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> WatchCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data["v"] != CURSOR_VERSION:
                raise ValueError(f"cursor version {data['v']!r}, expected {CURSOR_VERSION}")
            mark = data["high_water"]
            return cls(datetime.fromisoformat(mark).astimezone(UTC) if mark else None)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"landing sensor cursor {text[:200]!r} is not one this version wrote ({exc}); "
                "reset the sensor's cursor: the next tick compares every file with the ledger, "
                "so nothing is lost or loaded twice") from exc


@dataclass(frozen=True)
class PlannedLoad:
    """One run: the raw load of ``source`` for days ``first_day`` .. ``last_day``."""

    source: str
    first_day: date
    last_day: date
    files: tuple[LandedFile, ...]
    # The ETag of each file's version in the ledger when planned (None: never loaded).
    loaded: tuple[str | None, ...] = ()

    @property
    def run_key(self) -> str:
        """The same files in the same versions, over the same ledger state, give the same key,
        so Dagster never starts a second run for them. A changed file, or a changed ledger (an
        old version put back after a newer one loaded), gives a new key."""
        pairs = sorted(zip((f"{f.uri}\t{f.etag}" for f in self.files),
                           self.loaded or [None] * len(self.files), strict=True))
        digest = hashlib.sha256(
            "\n".join(f"{a}\t{b or '-'}" for a, b in pairs).encode()).hexdigest()[:20]
        return f"{self.source}:{self.first_day}..{self.last_day}:{digest}"


@dataclass
class WatchResult:
    loads: list[PlannedLoad]
    skipped: list[tuple[str, str]]  # (key, reason), first seen this tick
    cursor: WatchCursor
    listed: int = 0  # objects in the listing
    files: int = 0  # contract files in the partitions
    already_loaded: int = 0  # of those, loaded in their current version
    left_to_pending: int = 0  # of those, covered by a queued or running load
    held: int = 0  # files of the next days, waiting for their day to begin
    gone: list[str] = field(default_factory=list)  # loaded files no longer in the landing zone
    counts: dict[str, int] = field(default_factory=dict)  # new or changed files per source


# (source, day, last_modified) -> True when a queued or running load will read that file.
PendingCheck = Callable[[str, date, datetime], bool]


def plan_loads(
    landing: Landing,
    cursor: WatchCursor,
    *,
    ledger: Callable[[str], dict[str, str]],
    pending: PendingCheck = lambda source, day, modified: False,
    max_gap_days: int = 31,
    days: tuple[date, date] | None = None,
    hold_days: int = 2,
    now: datetime | None = None,
) -> WatchResult:
    """List the landing zone once and plan the loads its new or changed files need.

    ``ledger(prefix)`` returns uri -> ETag of the loaded files under the landing zone's URI.
    ``days`` is the first and last day a load can cover (the daily partitions). Files of days
    before it, or more than ``hold_days`` after it, are reported and skipped; files of the next
    ``hold_days`` days (a source a little ahead of UTC) wait until their day has begun."""
    now = now or datetime.now(UTC)
    # A mark in the future (a clock-skewed writer, a hand-edited cursor) would hide every new
    # key from the first-seen report: never keep one past the tick's own time.
    previous = min(cursor.high_water, now) if cursor.high_water else None
    high_water = previous
    listed = held = 0
    files: list[LandedFile] = []
    skipped: list[tuple[str, str]] = []
    for obj in landing.list_all():
        listed += 1
        if high_water is None or obj.last_modified > high_water:
            high_water = min(obj.last_modified, now)
        first_sight = previous is None or obj.last_modified > previous
        try:
            key = parse_landing_key(obj.key)
        except LandingKeyError as exc:
            if first_sight:
                skipped.append((obj.key, str(exc)))
            continue
        if days and not days[0] <= key.partition_date <= days[1]:
            if 0 < (key.partition_date - days[1]).days <= hold_days:
                held += 1
            elif first_sight:
                skipped.append((obj.key, _outside(key.partition_date, days)))
            continue
        files.append(landed_file(landing, key, obj))

    loaded = ledger(f"{landing.uri.rstrip('/')}/")
    listed_uris = {f.uri for f in files}
    new = [f for f in files if loaded.get(f.uri) != f.etag]
    to_load = [f for f in new
               if not pending(f.key.source, f.key.partition_date, f.last_modified)]

    result = WatchResult(
        loads=list(_group(to_load, loaded, max_gap_days)), skipped=skipped,
        cursor=WatchCursor(high_water), listed=listed, files=len(files),
        already_loaded=len(files) - len(new), left_to_pending=len(new) - len(to_load),
        held=held, gone=sorted(uri for uri in loaded if uri not in listed_uris))
    for f in to_load:
        result.counts[f.key.source] = result.counts.get(f.key.source, 0) + 1
    return result


def _outside(day: date, days: tuple[date, date]) -> str:
    if day < days[0]:
        return (f"dt={day} is before the first daily partition ({days[0]}): set "
                "SPARECAST_PARTITIONS_START earlier, then backfill that range")
    return (f"dt={day} is in the future (the last daily partition is {days[1]}, UTC): fix the "
            "key; it loads by itself once its day is at most two days ahead")


def _group(files: Iterable[LandedFile], loaded: dict[str, str],
           max_gap_days: int) -> Iterable[PlannedLoad]:
    by_source: dict[str, list[LandedFile]] = {}
    for f in files:
        by_source.setdefault(f.key.source, []).append(f)
    for source in sorted(by_source):
        ordered = sorted(by_source[source], key=lambda f: (f.key.partition_date, f.uri))
        run: list[LandedFile] = [ordered[0]]
        for f in ordered[1:]:
            if (f.key.partition_date - run[-1].key.partition_date).days > max_gap_days:
                yield _planned(source, run, loaded)
                run = []
            run.append(f)
        yield _planned(source, run, loaded)


def _planned(source: str, files: list[LandedFile], loaded: dict[str, str]) -> PlannedLoad:
    return PlannedLoad(source, files[0].key.partition_date, files[-1].key.partition_date,
                       tuple(files), tuple(loaded.get(f.uri) for f in files))
