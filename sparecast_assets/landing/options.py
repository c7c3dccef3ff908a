"""How each source's files are written: delimiter, decimal mark, encoding, time zone, and the
names the files use for the contract's columns.

Users describe their files in a YAML file (``SPARECAST_SOURCES_FILE``, by default
``$SPARECAST_HOME/sources.yaml``; absent means every default)::

    defaults:
      max_rejected_share: 0.02
    sources:
      part_usage:
        delimiter: ";"
        decimal: ","
        encoding: cp1252
        timezone: Europe/Berlin
        aliases: {Material: part_id, Menge: quantity, Buchungsdatum: used_at}

The contract itself (columns, types, ranges) is code in ``contract.py``; this file only says
how a user's files spell it.
"""

from __future__ import annotations

import codecs
import os
import zoneinfo
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparecast_assets.landing.contract import SOURCES

SOURCES_FILE_ENV = "SPARECAST_SOURCES_FILE"


class SourceOptionsError(ValueError):
    """The sources file is missing, unreadable or says something impossible."""


class SourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # "auto" picks, from the header line, whichever of , ; tab | splits it into most columns.
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal: Literal[".", ","] = "."
    encoding: str = "utf-8"
    # The zone of timestamps written without an offset; ones with an offset keep theirs.
    timezone: str = "UTC"
    # The file's column name -> the contract's column name.
    aliases: dict[str, str] = Field(default_factory=dict)
    # A file whose rejected rows exceed this share of its rows fails the load's
    # ``rejected_share`` check, which holds back everything downstream.
    max_rejected_share: float = Field(default=0.05, ge=0, le=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        if "a,;\t|\n\r".encode(value, errors="replace") != b"a,;\t|\n\r":
            raise ValueError(f"encoding {value!r} is not ASCII-compatible (UTF-16 and UTF-32 "
                             "files must be converted to UTF-8)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                             "Europe/Berlin)") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SourceOptions":
        if self.decimal == "," and self.delimiter == ",":
            raise ValueError("decimal ',' needs another delimiter (';', tab or '|')")
        targets = list(self.aliases.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"several aliases name the same column: {', '.join(twice)}")
        return self


DEFAULT = SourceOptions()


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict = Field(default_factory=dict)
    sources: dict[str, dict] = Field(default_factory=dict)


def sources_file() -> Path | None:
    configured = os.environ.get(SOURCES_FILE_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise SourceOptionsError(f"{SOURCES_FILE_ENV}={configured}: no such file")
        return path
    from sparecast_assets.db import sparecast_home

    path = sparecast_home() / "sources.yaml"
    return path if path.is_file() else None


def load_source_options(path: Path | None = None) -> dict[str, SourceOptions]:
    """Options for every source: the file's defaults, overlaid by its per-source entries."""
    path = path or sources_file()
    if path is None:
        return {name: DEFAULT for name in SOURCES}
    try:
        parsed = _SourcesFile.model_validate(yaml.safe_load(path.read_text()) or {})
        unknown = sorted(set(parsed.sources) - set(SOURCES))
        if unknown:
            raise SourceOptionsError(f"{path}: unknown source(s) {', '.join(unknown)} "
                                     f"(known: {', '.join(sorted(SOURCES))})")
        options = {name: SourceOptions(**{**parsed.defaults, **parsed.sources.get(name, {})})
                   for name in SOURCES}
    except (yaml.YAMLError, ValidationError) as exc:
        raise SourceOptionsError(f"{path}: {exc}") from exc
    for name, option in options.items():
        source = SOURCES[name]
        declared = {c.name for c in source.columns}
        wrong = sorted(t for t in option.aliases.values()
                       if t not in declared and not source.channel_columns)
        if wrong:
            raise SourceOptionsError(
                f"{path}: aliases of {name} name column(s) {', '.join(wrong)}, which the "
                f"contract does not have (columns: {', '.join(sorted(declared))})")
    return options
