"""Import the Microsoft Azure predictive-maintenance sample data into the landing layout.

The five files (PdM_telemetry, PdM_errors, PdM_failures, PdM_maint, PdM_machines) become the
contract's sources. Components comp1-comp4 are the parts. Each maintenance row is one part
consumed; its reason is ``failure`` when a failure of the same component on the same machine
at the same time exists, else ``preventive``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparecast_assets.landing.storage import Landing
from sparecast_assets.sources.writer import ImportSummary, write_landing

FILES = {
    "telemetry": "PdM_telemetry.csv",
    "errors": "PdM_errors.csv",
    "failures": "PdM_failures.csv",
    "maintenance": "PdM_maint.csv",
    "machines": "PdM_machines.csv",
}


def _find(directory: Path, name: str) -> Path:
    """The Azure files sit either in the folder itself or one level down (telemetry_subset/)."""
    direct = directory / name
    if direct.exists():
        return direct
    nested = sorted(directory.glob(f"*/{name}"))
    if nested:
        return nested[0]
    raise FileNotFoundError(f"{name} not found in {directory} or its subfolders")


def read_azure(directory: str | Path) -> dict[str, pd.DataFrame]:
    directory = Path(directory)
    frames = {k: pd.read_csv(_find(directory, v)) for k, v in FILES.items()}
    for key in ("telemetry", "errors", "failures", "maintenance"):
        frames[key]["datetime"] = pd.to_datetime(frames[key]["datetime"], format="%Y-%m-%d %H:%M:%S")
    return frames


def to_contract(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Rename and reshape the Azure tables into the landing contract's sources."""
    telemetry = frames["telemetry"].rename(columns={"datetime": "measured_at", "machineID": "machine_id"})
    telemetry = telemetry[["machine_id", "measured_at"] + [
        c for c in telemetry.columns if c not in ("machine_id", "measured_at")]]
    errors = frames["errors"].rename(
        columns={"datetime": "error_at", "machineID": "machine_id", "errorID": "error_code"})
    failures = frames["failures"].rename(
        columns={"datetime": "failed_at", "machineID": "machine_id", "failure": "part_id"})
    maintenance = frames["maintenance"].rename(
        columns={"datetime": "used_at", "machineID": "machine_id", "comp": "part_id"})

    failure_keys = set(zip(failures["machine_id"], failures["failed_at"], failures["part_id"]))
    maintenance["reason"] = [
        "failure" if key in failure_keys else "preventive"
        for key in zip(maintenance["machine_id"], maintenance["used_at"], maintenance["part_id"])
    ]
    maintenance["quantity"] = 1
    part_usage = maintenance[["part_id", "quantity", "used_at", "machine_id", "reason"]]

    machines = frames["machines"].rename(columns={"machineID": "machine_id", "age": "age_years"})
    part_ids = sorted(set(maintenance["part_id"]) | set(failures["part_id"]))
    parts = pd.DataFrame({
        "part_id": part_ids,
        "description": [f"Azure PdM component {p}" for p in part_ids],
    })
    return {
        "telemetry": telemetry,
        "errors": errors,
        "failures": failures,
        "part_usage": part_usage,
        "machines": machines,
        "parts": parts,
    }


def import_azure_pdm(directory: str | Path, landing: Landing) -> ImportSummary:
    return write_landing(to_contract(read_azure(directory)), landing, "azure_pdm")
