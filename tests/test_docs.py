"""The documented landing contract is the enforced one."""

import re

from sparecast_assets.landing.contract import SOURCES
from tests.conftest import REPO


def documented_columns() -> dict[str, list[tuple[str, str, str]]]:
    text = (REPO / "docs" / "landing-contract.md").read_text()
    sections = re.split(r"^### `(\w+)`", text, flags=re.M)[1:]
    return {
        name: re.findall(r"^\| `(\w+)` \| (\w+) \| (yes|no) \|", body, flags=re.M)
        for name, body in zip(sections[::2], sections[1::2])
    }


def test_every_source_column_type_and_requirement_is_documented_as_enforced():
    enforced = {
        s.name: [(c.name, c.kind, "yes" if c.required else "no") for c in s.columns]
        for s in SOURCES.values()
    }

    assert documented_columns() == enforced


def test_every_source_key_is_documented_as_enforced():
    text = (REPO / "docs" / "landing-contract.md").read_text()
    sections = re.split(r"^### `(\w+)`", text, flags=re.M)[1:]
    documented = {
        name: tuple(re.findall(r"`(\w+)`", re.search(r"^Key: (.*?) \(", body, flags=re.M)[1]))
        for name, body in zip(sections[::2], sections[1::2])
    }

    assert documented == {s.name: s.key for s in SOURCES.values()}


def test_every_allowed_range_is_documented_as_enforced():
    text = (REPO / "docs" / "landing-contract.md").read_text()
    sections = re.split(r"^### `(\w+)`", text, flags=re.M)[1:]
    documented = {
        name: dict(re.findall(r"^\| `(\w+)` \| \w+ \| (?:yes|no) \| [^|]* \| ([^|]*?)"
                              r"(?: \(any case\))? \|", body, flags=re.M))
        for name, body in zip(sections[::2], sections[1::2])
    }

    assert documented == {s.name: {c.name: c.allowed for c in s.columns}
                          for s in SOURCES.values()}


def test_staging_dedups_on_each_sources_documented_key():
    staging = REPO / "dbt_project" / "models" / "staging"
    keys = {}
    for path in staging.glob("stg_*.sql"):
        found = re.search(r"first_landed\(source\('raw', '(\w+)'\), \[([^\]]*)\]\)",
                          path.read_text())
        if found:
            keys[found[1]] = tuple(re.findall(r"'(\w+)'", found[2]))

    assert keys == {s.name: s.key for s in SOURCES.values() if not s.master_data}
