"""Which landed files are new or changed since the last look, grouped into loads.

The landing sensor lists the landing zone once per tick and keeps a small cursor: the newest
``LastModified`` it has seen (a high-water mark). Objects older than the mark minus a lookback
are not looked at again. The lookback exists because a listing can show an object later than
its ``LastModified`` says (S3 stamps a multipart upload with the time it started); objects in
the lookback band are compared with the file ledger (``raw.landed_files``: the key and ETag of
every file whose rows are loaded), so one that is loaded, in the same version, is not loaded
again, and a re-uploaded one (new ETag) is. Files that a queued or running load will pick up
are left to it.

New files of one source become one load over the range of their days, split only where days
are more than ``max_gap_days`` apart, so a year of history that lands at once is one run per
source, not 365. Everything here is plain Python; the Dagster sensor wraps it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

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
            mark = data["high_water"]
            return cls(datetime.fromisoformat(mark).astimezone(timezone.utc) if mark else None)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"landing sensor cursor {text[:200]!r} is not one this version wrote ({exc}); "
                "reset the sensor's cursor to start from a full listing") from exc


@dataclass(frozen=True)
class PlannedLoad:
    """One run: the raw load of ``source`` for days ``first_day`` .. ``last_day``."""

    source: str
    first_day: date
    last_day: date
    files: tuple[LandedFile, ...]

    @property
    def run_key(self) -> str:
        """The same files in the same versions give the same key, so Dagster never starts
        a second run for them; any changed ETag gives a new one."""
        digest = hashlib.sha256("\n".join(
            f"{f.uri}\t{f.etag}" for f in sorted(self.files, key=lambda f: f.uri)
        ).encode()).hexdigest()[:20]
        return f"{self.source}:{self.first_day}..{self.last_day}:{digest}"


@dataclass
class WatchResult:
    loads: list[PlannedLoad]
    skipped: list[tuple[str, str]]  # (key, reason) for keys outside the contract seen this tick
    cursor: WatchCursor
    listed: int = 0  # objects in the listing
    considered: int = 0  # contract files at or after the mark minus the lookback
    already_loaded: int = 0  # of those, loaded in the same version
    left_to_pending: int = 0  # of those, covered by a queued or running load
    counts: dict[str, int] = field(default_factory=dict)  # new files per source


# (source, day, last_modified) -> True when a queued or running load will read that file.
PendingCheck = Callable[[str, date, datetime], bool]


def plan_loads(
    landing: Landing,
    cursor: WatchCursor,
    *,
    lookback: timedelta,
    loaded_versions: Callable[[list[str]], dict[str, str]],
    pending: PendingCheck = lambda source, day, modified: False,
    max_gap_days: int = 31,
    days: tuple[date, date] | None = None,
    hold_days: int = 2,
) -> WatchResult:
    """List the landing zone once and plan the loads its new or changed files need.

    ``days`` is the first and last day a load can cover (the daily partitions). Files of days
    before it, or more than ``hold_days`` after it, are reported and skipped; files of the next
    ``hold_days`` days (a source a little ahead of UTC) are held: not loaded yet, and kept in
    the band of later ticks until their day has begun."""
    since = cursor.high_water - lookback if cursor.high_water else None
    high_water = cursor.high_water
    held_since: datetime | None = None
    listed = 0
    fresh: list[LandedFile] = []
    skipped: list[tuple[str, str]] = []
    for obj in landing.list_all():
        listed += 1
        if high_water is None or obj.last_modified > high_water:
            high_water = obj.last_modified
        if since is not None and obj.last_modified < since:
            continue
        # Reported on the tick that first sees it, not again on every tick of the band.
        first_sight = cursor.high_water is None or obj.last_modified > cursor.high_water
        try:
            key = parse_landing_key(obj.key)
        except LandingKeyError as exc:
            if first_sight:
                skipped.append((obj.key, str(exc)))
            continue
        if days and not days[0] <= key.partition_date <= days[1]:
            ahead = (key.partition_date - days[1]).days
            if 0 < ahead <= hold_days:
                if held_since is None or obj.last_modified < held_since:
                    held_since = obj.last_modified
            elif first_sight:
                skipped.append((obj.key, _outside(key.partition_date, days)))
            continue
        fresh.append(landed_file(landing, key, obj))
    if held_since is not None and high_water is not None:
        # Keep the held files inside the next tick's band.
        high_water = min(high_water, held_since + lookback)

    loaded = loaded_versions([f.uri for f in fresh]) if fresh else {}
    new = [f for f in fresh if loaded.get(f.uri) != f.etag]
    to_load = [f for f in new
               if not pending(f.key.source, f.key.partition_date, f.last_modified)]

    result = WatchResult(
        loads=list(_group(to_load, max_gap_days)), skipped=skipped,
        cursor=WatchCursor(high_water), listed=listed, considered=len(fresh),
        already_loaded=len(fresh) - len(new), left_to_pending=len(new) - len(to_load))
    for f in to_load:
        result.counts[f.key.source] = result.counts.get(f.key.source, 0) + 1
    return result


def _outside(day: date, days: tuple[date, date]) -> str:
    if day < days[0]:
        return (f"dt={day} is before the first daily partition ({days[0]}): set "
                "SPARECAST_PARTITIONS_START earlier, then backfill that range")
    return (f"dt={day} is in the future (the last daily partition is {days[1]}, UTC): fix the "
            "key, or re-upload the file on or after that day")


def _group(files: Iterable[LandedFile], max_gap_days: int) -> Iterable[PlannedLoad]:
    by_source: dict[str, list[LandedFile]] = {}
    for f in files:
        by_source.setdefault(f.key.source, []).append(f)
    for source in sorted(by_source):
        ordered = sorted(by_source[source], key=lambda f: (f.key.partition_date, f.uri))
        run: list[LandedFile] = [ordered[0]]
        for f in ordered[1:]:
            if (f.key.partition_date - run[-1].key.partition_date).days > max_gap_days:
                yield _planned(source, run)
                run = []
            run.append(f)
        yield _planned(source, run)


def _planned(source: str, files: list[LandedFile]) -> PlannedLoad:
    return PlannedLoad(source, files[0].key.partition_date, files[-1].key.partition_date,
                       tuple(files))
