"""Where landed files live: a local folder or an S3 prefix, behind one small interface.

S3 access goes through boto3, so the standard ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``
variables point it at MinIO or any other S3-compatible store, and credentials come from the
usual AWS chain.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator, NamedTuple, Protocol

from sparecast_assets.landing.contract import LandedKey, LandingKeyError, parse_landing_key


class ListedObject(NamedTuple):
    """One object as a listing shows it. ``etag`` changes whenever the content does;
    ``last_modified`` is timezone-aware UTC."""

    key: str  # relative to the landing root
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class LandedFile:
    key: LandedKey
    uri: str
    size: int
    etag: str
    last_modified: datetime


class Landing(Protocol):
    uri: str

    def iter_keys(self, prefix: str = "") -> Iterator[ListedObject]:
        """Every object under ``prefix``, in key order."""

    def list_all(self) -> list[ListedObject]:
        """Every object in the landing zone, in key order (as fast as the store allows)."""

    def read_bytes(self, relative_key: str) -> bytes: ...

    def local_path(self, relative_key: str, etag: str | None = None):
        """Context manager: a local file with the object's bytes, for streaming readers. An S3
        object is downloaded to a temporary file first, so memory never holds the file."""

    def write_bytes(self, relative_key: str, data: bytes) -> None: ...


def open_landing(uri: str) -> Landing:
    if uri.startswith("s3://"):
        return S3Landing(uri)
    if "://" in uri:
        raise ValueError(f"unsupported landing location {uri!r}: use a folder or s3://bucket/prefix")
    return LocalLanding(uri)


def files_for(landing: Landing, source: str, day: date) -> list[LandedFile]:
    """The contract-conforming files of one source and day, sorted by key."""
    return _conforming(landing, f"{source}/dt={day.isoformat()}/")


def files_for_window(landing: Landing, source: str, start: date, end: date) -> list[LandedFile]:
    """The source's files for days [start, end), from one listing of the source's prefix
    rather than one per day (a year is 365 S3 list calls otherwise)."""
    return [f for f in _conforming(landing, f"{source}/")
            if start <= f.key.partition_date < end]


def _conforming(landing: Landing, prefix: str) -> list[LandedFile]:
    files = []
    for obj in landing.iter_keys(prefix):
        try:
            key = parse_landing_key(obj.key)
        except LandingKeyError:
            # Not ours to load (e.g. a README or a _SUCCESS marker); reported by `scan`.
            continue
        files.append(landed_file(landing, key, obj))
    return sorted(files, key=lambda f: f.key.relative_key)


@dataclass(frozen=True)
class LandingScan:
    files: list[LandedFile]
    skipped: list[tuple[str, str]]  # (key, reason)

    def partition_dates(self) -> list[date]:
        return sorted({f.key.partition_date for f in self.files})


def scan(landing: Landing) -> LandingScan:
    """Every key under the landing root, split into contract files and skipped keys."""
    files, skipped = [], []
    for obj in landing.list_all():
        try:
            key = parse_landing_key(obj.key)
        except LandingKeyError as exc:
            skipped.append((obj.key, str(exc)))
            continue
        files.append(landed_file(landing, key, obj))
    return LandingScan(files, skipped)


def landed_file(landing: Landing, key: LandedKey, obj: ListedObject) -> LandedFile:
    return LandedFile(key, f"{landing.uri.rstrip('/')}/{obj.key}", obj.size, obj.etag,
                      obj.last_modified)


class LocalLanding:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def iter_keys(self, prefix: str = "") -> Iterator[ListedObject]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # renamed or removed since the folder was read (a writer's temp file)
            # size and mtime stand in for an ETag: a rewritten file changes at least one.
            yield ListedObject(path.relative_to(self.root).as_posix(), stat.st_size,
                               f"{stat.st_size}-{stat.st_mtime_ns}",
                               datetime.fromtimestamp(stat.st_mtime, timezone.utc))

    def list_all(self) -> list[ListedObject]:
        return list(self.iter_keys(""))

    def read_bytes(self, relative_key: str) -> bytes:
        return (self.root / relative_key).read_bytes()

    @contextmanager
    def local_path(self, relative_key: str, etag: str | None = None) -> Iterator[Path]:
        yield self.root / relative_key

    def write_bytes(self, relative_key: str, data: bytes) -> None:
        path = self.root / relative_key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers never see a half-written file


class S3Landing:
    def __init__(self, uri: str, client=None):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if client is None:
            import boto3
            from botocore.config import Config

            # Throttling, timeouts and 5xx answers are retried with backoff by boto3 itself.
            client = boto3.client("s3", config=Config(retries={"mode": "standard",
                                                                "max_attempts": 8}))
        self.client = client

    def _full(self, relative_key: str) -> str:
        return f"{self.prefix}/{relative_key}" if self.prefix else relative_key

    def iter_keys(self, prefix: str = "") -> Iterator[ListedObject]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            for obj in page.get("Contents", []):
                yield self._listed(obj, strip)

    def list_all(self, workers: int = 8) -> list[ListedObject]:
        """One delimited listing finds the top-level folders (the sources, and anything else
        that landed); each folder is then listed by its own paginator, concurrently. S3 returns
        1,000 keys per request, so on a large zone this divides the wall time by up to the
        number of folders."""
        strip = len(self.prefix) + 1 if self.prefix else 0
        top, folders = [], []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(""), Delimiter="/"):
            top += [self._listed(obj, strip) for obj in page.get("Contents", [])]
            folders += [p["Prefix"][strip:] for p in page.get("CommonPrefixes", [])]
        with ThreadPoolExecutor(max(1, min(workers, len(folders)))) as pool:
            listed = list(pool.map(lambda folder: list(self.iter_keys(folder)), folders))
        return sorted(top + [obj for part in listed for obj in part], key=lambda o: o.key)

    @staticmethod
    def _listed(obj: dict, strip: int) -> ListedObject:
        return ListedObject(obj["Key"][strip:], obj["Size"], obj["ETag"].strip('"'),
                            obj["LastModified"].astimezone(timezone.utc))

    def read_bytes(self, relative_key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._full(relative_key))["Body"].read()

    @contextmanager
    def local_path(self, relative_key: str, etag: str | None = None) -> Iterator[Path]:
        suffix = "".join(Path(relative_key).suffixes)
        with tempfile.TemporaryDirectory(prefix="sparecast-") as folder:
            path = Path(folder) / f"object{suffix}"
            # IfMatch: the bytes are the version the listing showed and the ledger will
            # record, not a newer upload (that one gets a load of its own). A read that breaks
            # off midway fails the load, whose retry policy starts it again.
            extra = {"IfMatch": f'"{etag}"'} if etag else {}
            body = self.client.get_object(Bucket=self.bucket, Key=self._full(relative_key),
                                          **extra)["Body"]
            with path.open("wb") as out:
                shutil.copyfileobj(body, out, length=1 << 20)
            yield path

    def write_bytes(self, relative_key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._full(relative_key), Body=io.BytesIO(data))
