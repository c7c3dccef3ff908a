"""Condition-based demand signal: the chance that a machine needs a part soon.

A LightGBM binary model of "part p is replaced on machine m within the next k days", one row
per machine, part it carries, and day, from what is known at the end of that day: the
machine's telemetry, errors and failures, its model and age, and how long the part has been
in. Summed over the machines carrying a part, the probabilities are the replacements the
fleet's condition points to: the covariate ``expected_replacements_{k}d`` of the part-level
forecast (``core.forecast(..., covariates=...)``).

The inputs have the columns of the dbt tables, so the pipeline reads them straight from
Postgres:

- ``machine_parts_daily`` (dbt.int_machine_part_daily): machine_id, part_id, activity_date,
  parts_replaced, failures, days_since_replacement (NULL until the first replacement);
- ``machine_daily`` (dbt.fct_machine_daily, optional): machine_id, activity_date,
  error_count, failure_count, and optionally error_counts (a map error code -> count, as
  psycopg returns a jsonb column);
- ``machines`` (dbt.dim_machines, optional): machine_id, model, age_years;
- ``sensors`` (dbt.fct_machine_sensor_daily, optional): machine_id, reading_date, sensor,
  mean_value.

Every window is counted in calendar days: the inputs are put on a complete daily calendar per
machine first, so a day without a row is a day without events (and without sensor readings),
never "the row before".

    frame = condition_frame(machine_parts_daily, machine_daily, machines, sensors, k=28)
    covariate = condition_covariate(frame, k=28, origin=frame["activity_date"].max())
    core.forecast(history, 28, "D", covariates=covariate)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_HORIZON_DAYS = 28
# Rolling windows (calendar days) of the event counts and sensor means.
ERROR_WINDOWS = (1, 7, 28)
FAILURE_WINDOWS = (7, 28, 91)
SENSOR_WINDOWS = (1, 7, 28)
PART_WINDOWS = (91, 364)
# A fixed threshold anyone can read, next to the one that maximises F1 on the training data.
DEFAULT_THRESHOLD = 0.5
# Machines are split into this many groups for cross-fitting (see ``cross_fitted``).
CROSS_FIT_FOLDS = 4

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    # Neighbouring days of one machine and part are nearly the same row: large leaves keep
    # the trees from memorising them.
    "min_data_in_leaf": 200,
    "max_bin": 63,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 23,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbosity": -1,
}
NUM_BOOST_ROUND = 100
KEYS = ["machine_id", "part_id", "activity_date"]
CATEGORICAL = ("part", "machine_model")


def label_column(k: int) -> str:
    return f"replaced_within_{k}d"


def covariate_column(k: int) -> str:
    return f"expected_replacements_{k}d"


@dataclass
class _Grid:
    """Machine-part pairs on a complete daily calendar: matrices are days x pairs."""

    days: pd.DatetimeIndex
    pairs: pd.MultiIndex  # (machine_id, part_id), sorted
    replaced: np.ndarray
    failures: np.ndarray
    last_replaced: np.ndarray  # day position of the latest replacement up to the day, or NaN


def _require(frame: pd.DataFrame, columns: set[str], name: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{name} lacks column(s) {sorted(missing)}")


def _grid(machine_parts_daily: pd.DataFrame) -> _Grid:
    _require(machine_parts_daily, {"machine_id", "part_id", "activity_date", "parts_replaced",
                                   "failures", "days_since_replacement"}, "machine_parts_daily")
    if machine_parts_daily.empty:
        raise ValueError("machine_parts_daily has no rows")
    frame = machine_parts_daily.assign(
        machine_id=machine_parts_daily["machine_id"].astype(str),
        part_id=machine_parts_daily["part_id"].astype(str),
        activity_date=pd.to_datetime(machine_parts_daily["activity_date"]))
    if frame.duplicated(KEYS).any():
        raise ValueError("machine_parts_daily has more than one row for a "
                         "(machine_id, part_id, activity_date)")
    for column in ("parts_replaced", "failures"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or (values < 0).any():
            raise ValueError(f"machine_parts_daily.{column} must be a count >= 0 on every row "
                             f"({int(values.isna().sum() + (values < 0).sum())} row(s) are not)")
    days = pd.date_range(frame["activity_date"].min(), frame["activity_date"].max(), freq="D")
    pairs = pd.MultiIndex.from_frame(frame[["machine_id", "part_id"]].drop_duplicates()
                                     ).sort_values()

    def wide(values: pd.Series) -> np.ndarray:
        table = frame.assign(value=values).pivot(index="activity_date",
                                                 columns=["machine_id", "part_id"],
                                                 values="value")
        return table.reindex(index=days, columns=pairs).to_numpy(dtype=float)

    replaced = np.nan_to_num(wide(frame["parts_replaced"]), nan=0.0)
    failures = np.nan_to_num(wide(frame["failures"]), nan=0.0)
    # The day of the last replacement, from the table's running count where it has one (it
    # knows replacements before its window), carried over days without a row.
    position = np.arange(len(days), dtype=float)[:, None]
    since = pd.to_numeric(frame["days_since_replacement"], errors="coerce")
    last = position - wide(since)
    last = np.where(replaced > 0, position, last)
    last = pd.DataFrame(last).ffill().to_numpy()
    return _Grid(days, pairs, replaced, failures, last)


def _window_sum(matrix: np.ndarray, window: int) -> np.ndarray:
    """Sum over the ``window`` calendar days ending on each day (rows are days)."""
    cum = np.cumsum(matrix, axis=0)
    out = cum.copy()
    out[window:] -= cum[:-window]
    return out


def _days_since(events: np.ndarray) -> np.ndarray:
    """Days since the latest day with an event, 0 on the day itself; NaN before the first."""
    position = np.arange(len(events), dtype=float)[:, None]
    last = pd.DataFrame(np.where(events > 0, position, np.nan)).ffill().to_numpy()
    return position - last


def replacement_labels(machine_parts_daily: pd.DataFrame,
                       k: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """One row per machine, part and day of the calendar: 1 if the part is replaced on the
    machine on one of the days t+1 ... t+k, else 0; NaN when t + k is past the table's last
    day (the answer is not known yet). Columns machine_id, part_id, activity_date,
    replaced_within_{k}d."""
    if k < 1:
        raise ValueError(f"k must be at least 1 day, got {k}")
    grid = _grid(machine_parts_daily)
    return _long(grid, {label_column(k): _labels(grid, k)})


def _labels(grid: _Grid, k: int) -> np.ndarray:
    n_days = len(grid.days)
    cum = np.vstack([np.zeros((1, grid.replaced.shape[1])), np.cumsum(grid.replaced, axis=0)])
    label = np.full(grid.replaced.shape, np.nan)
    known = n_days - k  # days 0 .. n_days - k - 1 have their k following days in the table
    if known > 0:
        # cum[t + 1 + k] - cum[t + 1] = replacements on days t + 1 .. t + k
        label[:known] = (cum[k + 1:] - cum[1:known + 1] > 0).astype(float)
    return label


def _long(grid: _Grid, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Matrices (days x pairs) to one row per pair and day, pair-major."""
    n_days, n_pairs = len(grid.days), len(grid.pairs)
    frame = pd.DataFrame({
        "machine_id": np.repeat(grid.pairs.get_level_values(0).to_numpy(), n_days),
        "part_id": np.repeat(grid.pairs.get_level_values(1).to_numpy(), n_days),
        "activity_date": np.tile(grid.days.to_numpy(), n_pairs),
    })
    for name, matrix in columns.items():
        frame[name] = np.asarray(matrix, dtype=float).T.ravel()
    return frame


def _machine_matrix(long: pd.DataFrame, date_column: str, value: str, days: pd.DatetimeIndex,
                    machines: pd.Index) -> np.ndarray:
    """days x machines of one value (NaN where the table has no row)."""
    table = long.assign(machine_id=long["machine_id"].astype(str),
                        **{date_column: pd.to_datetime(long[date_column])})
    wide = table.pivot_table(index=date_column, columns="machine_id", values=value,
                             aggfunc="sum")
    return wide.reindex(index=days, columns=machines).to_numpy(dtype=float)


def _error_code_counts(machine_daily: pd.DataFrame) -> pd.DataFrame:
    """machine_id, activity_date, error_code, errors from the error_counts maps."""
    rows = []
    for machine_id, day, counts in zip(machine_daily["machine_id"],
                                       machine_daily["activity_date"],
                                       machine_daily["error_counts"]):
        if isinstance(counts, str):
            counts = json.loads(counts)
        for code, count in (counts or {}).items():
            rows.append((machine_id, day, str(code), float(count)))
    return pd.DataFrame(rows, columns=["machine_id", "activity_date", "error_code", "errors"])


def condition_frame(machine_parts_daily: pd.DataFrame,
                    machine_daily: pd.DataFrame | None = None,
                    machines: pd.DataFrame | None = None,
                    sensors: pd.DataFrame | None = None,
                    k: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """One row per machine, part it carries, and day of the calendar of
    ``machine_parts_daily``: the keys, the features known at the end of the day and the
    label ``replaced_within_{k}d`` (NaN where not known yet).

    Features: the part and the machine's model (categories), its age, days since this part
    and since any part was last replaced on the machine, this part's replacements and
    failures on the machine over the last 91 and 364 days and days since its last failure,
    the machine's errors (all codes and per code) and failures over rolling windows, each
    sensor's mean over the last 1, 7 and 28 days with readings and its trend (7-day mean
    minus 28-day mean), and the day of the week. Machines or days without a source's rows get
    zero events and NaN sensor readings."""
    if k < 1:
        raise ValueError(f"k must be at least 1 day, got {k}")
    grid = _grid(machine_parts_daily)
    days = grid.days
    position = np.arange(len(days), dtype=float)[:, None]
    pair_machines = grid.pairs.get_level_values(0)
    machine_ids = pd.Index(sorted(set(pair_machines)))
    to_pair = machine_ids.get_indexer(pair_machines)  # pair column -> machine column

    f: dict[str, np.ndarray] = {}
    f["days_since_replacement"] = position - grid.last_replaced
    for window in PART_WINDOWS:
        f[f"part_replacements_{window}d"] = _window_sum(grid.replaced, window)
        f[f"part_failures_{window}d"] = _window_sum(grid.failures, window)
    f["days_since_part_failure"] = _days_since(grid.failures)

    # The machine's last visit of any part: maintenance comes in rounds, and where a machine
    # is in its round says when the next replacement of any of its parts is due.
    machine_replaced = np.zeros((len(days), len(machine_ids)))
    np.add.at(machine_replaced.T, to_pair, grid.replaced.T)
    f["days_since_machine_replacement"] = _days_since(machine_replaced)[:, to_pair]
    f["machine_replacements_28d"] = _window_sum(machine_replaced, 28)[:, to_pair]

    if machine_daily is not None and len(machine_daily):
        _require(machine_daily, {"machine_id", "activity_date", "error_count", "failure_count"},
                 "machine_daily")
        errors = np.nan_to_num(_machine_matrix(machine_daily, "activity_date", "error_count",
                                               days, machine_ids), nan=0.0)
        failures = np.nan_to_num(_machine_matrix(machine_daily, "activity_date",
                                                 "failure_count", days, machine_ids), nan=0.0)
        for window in ERROR_WINDOWS:
            f[f"errors_{window}d"] = _window_sum(errors, window)[:, to_pair]
        for window in FAILURE_WINDOWS:
            f[f"machine_failures_{window}d"] = _window_sum(failures, window)[:, to_pair]
        f["days_since_machine_failure"] = _days_since(failures)[:, to_pair]
        if "error_counts" in machine_daily.columns:
            by_code = _error_code_counts(machine_daily)
            for code, rows in by_code.groupby("error_code", sort=True):
                counts = np.nan_to_num(_machine_matrix(rows, "activity_date", "errors", days,
                                                       machine_ids), nan=0.0)
                for window in ERROR_WINDOWS[1:]:
                    f[f"errors_{code}_{window}d"] = _window_sum(counts, window)[:, to_pair]

    if sensors is not None and len(sensors):
        _require(sensors, {"machine_id", "reading_date", "sensor", "mean_value"}, "sensors")
        for sensor, readings in sensors.groupby("sensor", sort=True):
            daily = _machine_matrix(readings, "reading_date", "mean_value", days, machine_ids)
            seen = (~np.isnan(daily)).astype(float)
            total = np.nan_to_num(daily, nan=0.0)
            means = {}
            for window in SENSOR_WINDOWS:
                with np.errstate(invalid="ignore", divide="ignore"):
                    means[window] = _window_sum(total, window) / _window_sum(seen, window)
                f[f"sensor_{sensor}_mean_{window}d"] = means[window][:, to_pair]
            f[f"sensor_{sensor}_trend"] = (means[7] - means[28])[:, to_pair]

    f["day_of_week"] = np.broadcast_to(days.day_of_week.to_numpy(dtype=float)[:, None],
                                       grid.replaced.shape)
    f[label_column(k)] = _labels(grid, k)
    frame = _long(grid, f)

    frame["part"] = frame["part_id"]
    if machines is not None and len(machines):
        _require(machines, {"machine_id"}, "machines")
        master = machines.assign(machine_id=machines["machine_id"].astype(str)
                                 ).drop_duplicates("machine_id", keep="last").set_index(
                                     "machine_id")
        if "model" in master.columns:
            frame["machine_model"] = master["model"].reindex(frame["machine_id"]).to_numpy()
        if "age_years" in master.columns:
            frame["machine_age_years"] = pd.to_numeric(
                master["age_years"], errors="coerce").reindex(frame["machine_id"]).to_numpy()
    return frame


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's features: every column but the keys, labels and predictions."""
    excluded = set(KEYS) | {"probability"}
    return [c for c in frame.columns
            if c not in excluded and not c.startswith("replaced_within_")]


@dataclass
class ReplacementModel:
    """A fitted replacement model: LightGBM booster text, its features, the category codes it
    was trained with, and the threshold that maximised F1 on its training rows."""

    k: int
    features: list[str]
    categories: dict[str, list[str]]
    booster_text: str
    training_rows: int
    training_start: pd.Timestamp
    training_end: pd.Timestamp
    base_rate: float
    f1_threshold: float
    version: str
    params: dict = field(default_factory=lambda: dict(PARAMS))

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature rows as floats; categories as codes of the training categories (a value not
        seen in training is NaN)."""
        columns = []
        for name in self.features:
            if name in self.categories:
                codes = pd.Categorical(frame[name].astype(str),
                                       categories=self.categories[name]).codes
                columns.append(np.where(codes < 0, np.nan, codes).astype(float))
            elif name in frame.columns:
                columns.append(pd.to_numeric(frame[name], errors="coerce").to_numpy(float))
            else:
                columns.append(np.full(len(frame), np.nan))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """P(replaced within the next k days) per row of ``frame``."""
        booster = lgb.Booster(model_str=self.booster_text)
        return booster.predict(self.matrix(frame))


def training_rows(frame: pd.DataFrame, k: int, origin: pd.Timestamp,
                  start: pd.Timestamp | None = None) -> pd.DataFrame:
    """The rows a model trained at the end of ``origin`` may learn from: days t with
    t + k <= origin (their k following days are history by then) and a known label, from
    ``start`` on."""
    dates = pd.to_datetime(frame["activity_date"])
    keep = dates <= pd.Timestamp(origin) - pd.Timedelta(days=k)
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    keep &= frame[label_column(k)].notna()
    return frame[keep]


def fit(frame: pd.DataFrame, k: int = DEFAULT_HORIZON_DAYS, *,
        origin: pd.Timestamp | None = None, start: pd.Timestamp | None = None,
        params: dict | None = None, num_boost_round: int = NUM_BOOST_ROUND) -> ReplacementModel:
    """Train on the rows known at the end of ``origin`` (default: the frame's last day)."""
    origin = pd.Timestamp(origin if origin is not None else frame["activity_date"].max())
    rows = training_rows(frame, k, origin, start)
    label = rows[label_column(k)].to_numpy(dtype=float)
    if len(rows) == 0:
        raise ValueError(f"no row with a known {k}-day label on or before "
                         f"{(origin - pd.Timedelta(days=k)).date()}")
    if label.min() == label.max():
        raise ValueError(f"every training row has label {int(label[0])}: "
                         "nothing to tell replacements from")

    features = feature_columns(rows)
    categories = {name: sorted(rows[name].dropna().astype(str).unique())
                  for name in CATEGORICAL if name in features}
    params = dict(PARAMS, **(params or {}))
    model = ReplacementModel(k, features, categories, "", len(rows),
                             pd.Timestamp(rows["activity_date"].min()),
                             pd.Timestamp(rows["activity_date"].max()), float(label.mean()),
                             DEFAULT_THRESHOLD, "", params)
    dataset = lgb.Dataset(model.matrix(rows), label, feature_name=features,
                          categorical_feature=list(categories))
    booster = lgb.train(params, dataset, num_boost_round)
    model.booster_text = booster.model_to_string()
    model.f1_threshold = f1_threshold(label, booster.predict(model.matrix(rows)))
    digest = hashlib.sha256(model.booster_text.encode()).hexdigest()[:12]
    model.version = f"replacement-{k}d-{digest}"
    return model


def f1_threshold(label: np.ndarray, probability: np.ndarray) -> float:
    """The probability cut-off (predict "replaced" at or above it) with the highest F1."""
    label = np.asarray(label, dtype=float)
    probability = np.asarray(probability, dtype=float)
    order = np.argsort(-probability, kind="stable")
    sorted_p, sorted_y = probability[order], label[order]
    true_positive = np.cumsum(sorted_y)
    predicted = np.arange(1, len(sorted_y) + 1)
    # Only the last of equal probabilities is a possible cut: ties go in or out together.
    last_of_tie = np.r_[sorted_p[1:] != sorted_p[:-1], True]
    f1 = 2 * true_positive / (predicted + sorted_y.sum())
    f1 = np.where(last_of_tie, f1, -1.0)
    return float(sorted_p[int(np.argmax(f1))])


def classification_scores(label: np.ndarray, probability: np.ndarray,
                          threshold: float) -> dict[str, float]:
    """Precision and recall of "replaced" predicted at probability >= threshold, ROC AUC
    (the Mann-Whitney U of the positives' probabilities over n_pos * n_neg; ties count half)
    and the base rate. Precision is NaN when nothing is predicted, AUC when one class is
    missing."""
    label = np.asarray(label, dtype=float)
    probability = np.asarray(probability, dtype=float)
    positive = label == 1
    if positive.any() and (~positive).any():
        u = stats.mannwhitneyu(probability[positive], probability[~positive],
                               method="asymptotic").statistic
        auc = float(u / (positive.sum() * (~positive).sum()))
    else:
        auc = float("nan")
    return {**_precision_recall(label, probability >= threshold), "auc": auc,
            "base_rate": float(positive.mean()) if len(label) else float("nan")}


def _precision_recall(label: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    positive = np.asarray(label) == 1
    predicted = np.asarray(predicted, dtype=bool)
    true_positive = float((predicted & positive).sum())
    return {"precision": true_positive / predicted.sum() if predicted.any() else float("nan"),
            "recall": true_positive / positive.sum() if positive.any() else float("nan")}


def rolling_origins(frame: pd.DataFrame, k: int, n_origins: int = 3,
                    test_days: int | None = None) -> list[pd.Timestamp]:
    """``n_origins`` origins ``test_days`` (default k) apart, the last one placed so that its
    test days and their k-day labels end on the frame's last day."""
    test_days = test_days or k
    last = pd.Timestamp(frame["activity_date"].max())
    final = last - pd.Timedelta(days=k + test_days - 1)
    return [final - pd.Timedelta(days=test_days * i) for i in reversed(range(n_origins))]


def backtest(frame: pd.DataFrame, k: int = DEFAULT_HORIZON_DAYS, *,
             origins: list[pd.Timestamp] | None = None, test_days: int | None = None,
             start: pd.Timestamp | None = None, threshold: float = DEFAULT_THRESHOLD,
             num_boost_round: int = NUM_BOOST_ROUND) -> pd.DataFrame:
    """Rolling-origin backtest: at each origin T a model is trained on the rows known at the
    end of T (``training_rows``) and scored on the days T .. T + test_days - 1 (default k)
    whose labels are known. One row per origin and threshold (the fixed ``threshold`` and the
    model's own F1 threshold), plus "overall" rows pooling every origin's test rows: origin,
    threshold_rule, threshold, training_rows, training_end, test_rows, precision, recall, auc,
    base_rate."""
    test_days = test_days or k
    origins = origins or rolling_origins(frame, k, test_days=test_days)
    dates = pd.to_datetime(frame["activity_date"])
    rows = []
    pooled = {"fixed": ([], [], []), "f1_on_training": ([], [], [])}
    for origin in origins:
        origin = pd.Timestamp(origin)
        model = fit(frame, k, origin=origin, start=start, num_boost_round=num_boost_round)
        test = frame[(dates >= origin) & (dates < origin + pd.Timedelta(days=test_days))
                     & frame[label_column(k)].notna()]
        label = test[label_column(k)].to_numpy(dtype=float)
        probability = model.predict(test)
        for rule, cut in (("fixed", threshold), ("f1_on_training", model.f1_threshold)):
            for kept, values in zip(pooled[rule], (label, probability, probability >= cut)):
                kept.append(values)
            rows.append({"origin": origin.date().isoformat(), "threshold_rule": rule,
                         "threshold": cut, "training_rows": model.training_rows,
                         "training_end": model.training_end.date().isoformat(),
                         "test_rows": len(test),
                         **classification_scores(label, probability, cut)})
    # Overall: every origin's test rows together, each decided at its own model's threshold.
    for rule, (labels, probabilities, decisions) in pooled.items():
        label, probability = np.concatenate(labels), np.concatenate(probabilities)
        scores = classification_scores(label, probability, np.inf)
        scores.update(_precision_recall(label, np.concatenate(decisions)))
        rows.append({"origin": "overall", "threshold_rule": rule, "threshold": float("nan"),
                     "training_rows": float("nan"), "training_end": "",
                     "test_rows": len(label), **scores})
    return pd.DataFrame(rows)


def fold_of(machine_ids: pd.Series | np.ndarray, folds: int = CROSS_FIT_FOLDS) -> np.ndarray:
    """Each machine's cross-fitting group: its position among the sorted distinct machines,
    modulo ``folds``."""
    ids = pd.Series(np.asarray(machine_ids).astype(str))
    distinct = pd.Index(sorted(ids.unique()))
    return distinct.get_indexer(ids) % folds


def cross_fitted(frame: pd.DataFrame, k: int = DEFAULT_HORIZON_DAYS, *,
                 origin: pd.Timestamp | None = None, start: pd.Timestamp | None = None,
                 folds: int = CROSS_FIT_FOLDS,
                 num_boost_round: int = NUM_BOOST_ROUND) -> pd.DataFrame:
    """P(replaced within k days) for every row up to the end of ``origin`` (default: the last
    day), each machine's rows predicted by a model trained at ``origin`` on the other
    machines only.

    Why: the part-level model learns how far to trust the summed probabilities from the days
    before the origin. A model predicting rows it was trained on is far surer there than it
    will be on the origin's unseen future, and the part-level model would learn to trust it
    too much. A model that never saw the machine is as unsure on its past as on its future.
    Nothing after ``origin`` is used: every fold model trains on ``training_rows``.
    Returns machine_id, part_id, activity_date, probability (rows from ``start`` on)."""
    origin = pd.Timestamp(origin if origin is not None else frame["activity_date"].max())
    dates = pd.to_datetime(frame["activity_date"])
    keep = dates <= origin
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    scored = frame[keep]
    group = fold_of(frame["machine_id"], folds)
    probability = np.full(len(scored), np.nan)
    scored_group = group[keep.to_numpy()]
    for fold in range(folds):
        if not (scored_group == fold).any():
            continue
        model = fit(frame[group != fold], k, origin=origin, start=start,
                    num_boost_round=num_boost_round)
        mask = scored_group == fold
        probability[mask] = model.predict(scored[mask])
    return scored[KEYS].assign(probability=probability).reset_index(drop=True)


def expected_replacements(probabilities: pd.DataFrame,
                          k: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Sum per part and day of P(replaced within k days) over the machines carrying the part:
    the expected number of those machines that get the part in the next k days. Input columns
    part_id, activity_date, probability; returns item (part_id), period (day),
    expected_replacements_{k}d: the long covariate table ``core.forecast`` takes."""
    _require(probabilities, {"part_id", "activity_date", "probability"}, "probabilities")
    frame = probabilities.assign(item=probabilities["part_id"].astype(str),
                                 period=pd.to_datetime(probabilities["activity_date"]))
    summed = frame.groupby(["item", "period"], sort=True)["probability"].sum(min_count=1)
    return summed.rename(covariate_column(k)).reset_index()


def condition_covariate(frame: pd.DataFrame, k: int = DEFAULT_HORIZON_DAYS, *,
                        origin: pd.Timestamp | None = None, start: pd.Timestamp | None = None,
                        folds: int = CROSS_FIT_FOLDS,
                        num_boost_round: int = NUM_BOOST_ROUND) -> pd.DataFrame:
    """The part-level covariate known at the end of ``origin``: item, period,
    expected_replacements_{k}d for every day from ``start`` to ``origin``, from
    ``cross_fitted`` probabilities."""
    probabilities = cross_fitted(frame, k, origin=origin, start=start, folds=folds,
                                 num_boost_round=num_boost_round)
    return expected_replacements(probabilities, k)
