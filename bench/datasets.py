"""Loaders for the intermittent-demand benchmark data in /work/shared/data (each folder's
SOURCE.md says where the file came from and what is odd about it).

Grain: every demand table has one row per item per period over the whole history, zeros
included (item str, period Timestamp at the period's start, quantity float). The loaders print
nothing; what they had to decide is in their docstrings, and counts of what they changed are in
the demand table's ``attrs``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

# The data sets live outside the repository; SPARECAST_BENCH_DATA points elsewhere.
DATA = Path(os.environ.get("SPARECAST_BENCH_DATA")
            or Path(__file__).resolve().parents[2] / "shared" / "data")
CARPARTS_TSF = DATA / "carparts" / "car_parts_dataset_without_missing_values.tsf"
MAN_XLSX = DATA / "man_manufacturer_spare_parts" / "manufacturing_dataset.xlsx"
OIL_XLS = DATA / "oil_refinery_spare_parts" / "Data _deel1b.xls"

# Monash .tsf frequencies this reader understands, as pandas offsets from the start timestamp.
TSF_FREQUENCIES = {"monthly": pd.DateOffset(months=1), "weekly": pd.DateOffset(weeks=1),
                   "daily": pd.DateOffset(days=1)}


def read_tsf(path: Path) -> pd.DataFrame:
    """A Monash archive .tsf file as a long table: series_name, period, value.

    The format: '#' comment lines, '@' header lines (@attribute, @frequency, @missing,
    @equallength), then '@data' and one series per line as
    ``name:start timestamp:v1,v2,...`` with '?' for a missing value (NaN here). Only files whose
    attributes are exactly series_name and start_timestamp are accepted: that is the layout of
    the carparts file, and anything else would be guessed at. The trusted readers (sktime,
    aeon, gluonts) are whole frameworks the project does not otherwise need, hence this one.
    """
    attributes: list[str] = []
    frequency = None
    names: list[str] = []
    starts: list[pd.Timestamp] = []
    series: list[np.ndarray] = []
    in_data = False
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                key, _, value = line.partition(" ")
                if key == "@attribute":
                    attributes.append(value.split()[0])
                elif key == "@frequency":
                    frequency = value.strip()
                elif key == "@data":
                    in_data = True
                continue
            name, start, values = line.split(":", 2)
            names.append(name)
            starts.append(pd.to_datetime(start, format="%Y-%m-%d %H-%M-%S"))
            series.append(np.array([np.nan if v == "?" else float(v)
                                    for v in values.split(",")]))
    if attributes != ["series_name", "start_timestamp"]:
        raise ValueError(f"{path}: unsupported .tsf attributes {attributes}")
    if frequency not in TSF_FREQUENCIES:
        raise ValueError(f"{path}: unsupported .tsf frequency {frequency!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: series names repeat")

    step = TSF_FREQUENCIES[frequency]
    frames = [pd.DataFrame({"series_name": name,
                            "period": pd.date_range(start, periods=len(values), freq=step),
                            "value": values})
              for name, start, values in zip(names, starts, series)]
    return pd.concat(frames, ignore_index=True)


def load_carparts() -> pd.DataFrame:
    """carparts: 2,674 monthly car-part sales series, January 1998 to March 2002 (51 months).

    Read from the Monash archive's "without missing values" .tsf, the variant Monash, Chronos
    and AutoGluon publish numbers for: 165 parts that dropped out of the original R data (NA
    from about March 1999) appear there as runs of zeros, and so they do here. Items are the
    .tsf names T1 ... T2674 (the file has no part numbers). Returns item, period (month
    start), quantity.
    """
    long = read_tsf(CARPARTS_TSF)
    if long["value"].isna().any():
        raise ValueError(f"{CARPARTS_TSF} has missing values; expected the variant without")
    demand = pd.DataFrame({"item": long["series_name"].astype(str), "period": long["period"],
                           "quantity": long["value"].astype(float)})
    return demand.sort_values(["item", "period"], key=_natural_item_key).reset_index(drop=True)


def _natural_item_key(column: pd.Series) -> pd.Series:
    # T2 sorts before T10, as in the file.
    if column.name == "item":
        return column.str.slice(1).astype(int)
    return column


# MAN: the Data sheet's layout (SOURCE.md, checked against the file).
MAN_HEADER_ROWS = 6
MAN_ATTRIBUTE_COLUMNS = {0: "item", 1: "pack_size", 2: "unit_cost", 3: "fixed_order_cost",
                         4: "holding_cost", 5: "lead_time_weeks", 7: "moq"}
MAN_DEMAND_COLUMNS = range(9, 159)


def load_man() -> tuple[pd.DataFrame, pd.DataFrame]:
    """MAN: 3,451 manufacturer spare parts (SKUs), 150 weeks of demand, with costs, lead time
    and minimum order quantity.

    Sheet "Data": rows 0-5 are a multi-row header, one SKU per row below. Columns: 0 SKU nr,
    1 products per unit (pack size), 2 cost price per unit (EUR), 3 fixed cost per order (EUR),
    4 inventory cost per unit per year (EUR), 5 lead time (weeks), 7 minimum order quantity;
    6 and 8 are empty spacers; 9-158 are the 150 weeks of demand in units.

    Dates: SOURCE.md says the file gives none, but header row 0 labels the demand columns with
    years (2012 for the first 52 weeks, 2013 for the next 52, 2014 for the last 46) and row 1
    with week numbers 1-52, 1-52, 1-46. The weeks are read as ISO weeks, so period is the
    Monday that starts ISO week w of that year: 2012-W01 = 2012-01-02 ... 2014-W46 =
    2014-11-10. Both 2012 and 2013 have 52 ISO weeks, so the 150 weeks are consecutive.

    Demand is kept as it is: 4,142 cells hold fractions (for example 4.4 or 105.2 units; parts
    sold by length or weight, presumably); 1,510 SKUs have no demand at all in the 150 weeks.

    Returns (demand: item, period, quantity; attributes: item, pack_size, unit_cost,
    fixed_order_cost, holding_cost, lead_time_weeks, moq). Item is the SKU number as text.
    """
    sheet = pd.read_excel(MAN_XLSX, sheet_name="Data", header=None, engine="openpyxl")
    if sheet.shape[1] != 159:
        raise ValueError(f"{MAN_XLSX}: expected 159 columns, found {sheet.shape[1]}")
    header, body = sheet.iloc[:MAN_HEADER_ROWS], sheet.iloc[MAN_HEADER_ROWS:]
    if str(header.iloc[0, 0]).strip() != "SKU nr" or "DEMAND" not in str(header.iloc[0, 9]):
        raise ValueError(f"{MAN_XLSX}: header does not read 'SKU nr' ... 'DEMAND HISTORY'")

    # The first three week columns carry the block's title instead of the year 2012.
    years = pd.to_numeric(header.iloc[0, list(MAN_DEMAND_COLUMNS)], errors="coerce").bfill()
    weeks = header.iloc[1, list(MAN_DEMAND_COLUMNS)].astype(str).str.extract(r"(\d+)")[0]
    periods = pd.DatetimeIndex([pd.Timestamp.fromisocalendar(int(y), int(w), 1)
                                for y, w in zip(years, weeks)])
    if not (periods[1:] - periods[:-1] == pd.Timedelta(weeks=1)).all():
        raise ValueError(f"{MAN_XLSX}: the demand columns are not consecutive weeks")

    attributes = body[list(MAN_ATTRIBUTE_COLUMNS)].rename(columns=MAN_ATTRIBUTE_COLUMNS)
    attributes = attributes.astype({"pack_size": float, "unit_cost": float,
                                    "fixed_order_cost": float, "holding_cost": float,
                                    "lead_time_weeks": int, "moq": float})
    attributes["item"] = attributes["item"].astype(int).astype(str)
    if not attributes["item"].is_unique:
        raise ValueError(f"{MAN_XLSX}: SKU numbers repeat")
    attributes = attributes.reset_index(drop=True)

    values = body[list(MAN_DEMAND_COLUMNS)].to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"{MAN_XLSX}: blank or negative demand cells")
    demand = _long(attributes["item"], periods, values)
    return demand, attributes


# OIL: sheet "Data 1b" (SOURCE.md and the Info sheet, checked against the file).
OIL_ATTRIBUTE_COLUMNS = {"Material": "item", "Del. time": "lead_time_days",
                         "Min": "reorder_point_min", "Max": "maximum", "Stock": "stock",
                         "Price": "unit_cost"}
OIL_UNRELIABLE_MONTH = pd.Timestamp("1997-11-01")


def load_oil() -> tuple[pd.DataFrame, pd.DataFrame]:
    """OIL: 7,024 refinery spare parts (materials 7500-14523), monthly consumption, with lead
    time, reorder point, maximum stock, stock on hand and price.

    Sheet "Data 1b": ten attribute columns (Material, Del. time in calendar days, Min = reorder
    point, Max = maximum stock level, Stock = current stock, Price, H/M/L/Total criticality
    counts) and then 56 monthly columns, newest first, 2001-08 back to 1997-01. The months are
    put oldest first here.

    Choices, following the data owner's Info sheet:
    - A blank cell means no consumption in that year: quantity 0.
    - A negative cell is a return. It is set to 0 demand (a return does not cancel a
      withdrawal's need for the part at the time). The counts are in
      ``demand.attrs["returns_cells"]`` and ``["returns_quantity"]`` (kept months only).
    - November 1997 is unreliable ("the real consumption of nov 97 was not known ... should be
      left out"; its mean is about 4 times its neighbours'). Leaving one month out of a monthly
      series, or inventing it, would both distort the series, so the history starts after it:
      December 1997 to August 2001, 45 months. ``demand.attrs["months_dropped"]`` says so.

    Returns (demand: item, period, quantity; attributes: item, lead_time_days,
    reorder_point_min, maximum, stock, unit_cost). Item is the material number as text.
    """
    sheet = pd.read_excel(OIL_XLS, sheet_name="Data 1b", header=0, engine="xlrd")
    expected = ["Material", "Del. time", "Min", "Max", "Stock", "Price", "H", "M", "L", "Total"]
    if [str(c).strip() for c in sheet.columns[:10]] != expected:
        raise ValueError(f"{OIL_XLS}: first columns are {list(sheet.columns[:10])}")
    sheet.columns = [str(c).strip() if i < 10 else c for i, c in enumerate(sheet.columns)]
    months = pd.DatetimeIndex(pd.to_datetime(list(sheet.columns[10:])))
    if len(months) != 56 or not months.is_monotonic_decreasing:
        raise ValueError(f"{OIL_XLS}: expected 56 monthly columns newest first")

    attributes = sheet[list(OIL_ATTRIBUTE_COLUMNS)].rename(columns=OIL_ATTRIBUTE_COLUMNS)
    attributes = attributes.astype({"lead_time_days": int, "reorder_point_min": float,
                                    "maximum": float, "stock": float, "unit_cost": float})
    attributes["item"] = attributes["item"].astype(int).astype(str)
    if not attributes["item"].is_unique:
        raise ValueError(f"{OIL_XLS}: material numbers repeat")

    values = sheet.iloc[:, 10:].to_numpy(dtype=float)[:, ::-1]
    months = months[::-1]
    kept = months > OIL_UNRELIABLE_MONTH
    values, months = values[:, kept], months[kept]
    values = np.nan_to_num(values, nan=0.0)
    returns = values < 0
    returns_quantity = float(-values[returns].sum())
    values = np.where(returns, 0.0, values)

    demand = _long(attributes["item"], months, values)
    demand.attrs.update({"returns_cells": int(returns.sum()),
                         "returns_quantity": returns_quantity,
                         "months_dropped": "1997-01 .. 1997-11 (November 1997 unreliable)"})
    return demand, attributes.reset_index(drop=True)


def _long(items: pd.Series, periods: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    """Item x period block to the long table, item-major, periods ascending."""
    return pd.DataFrame({"item": np.repeat(items.to_numpy(dtype=str), len(periods)),
                         "period": np.tile(periods.to_numpy(), len(items)),
                         "quantity": values.ravel()})
