"""Inventory recommendations and exceptions on a real Postgres, against figures computed by
hand for a small case."""

from datetime import date, timedelta

import psycopg
import pytest

from sparecast_assets.inventory.policy import InventorySettings
from sparecast_assets.inventory.store import recommendation_problems, refresh_recommendations

AS_OF = date(2025, 6, 30)
LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99)
QUANTILE_COLUMNS = ", ".join(f"demand_p{level} double precision" for level in LEVELS)


def _schema(conn):
    conn.execute("create schema if not exists analytics; create schema if not exists dbt")
    conn.execute("""
        create table dbt.dim_parts (part_id text, description text, unit_cost numeric,
            lead_time_days numeric, min_order_qty numeric, pack_size numeric, criticality text,
            has_master_data boolean);
        create table dbt.fct_inventory_snapshot (part_id text, location_id text,
            snapshot_at timestamptz, snapshot_date date, on_hand numeric, on_order numeric);
        create table dbt.dim_machines (machine_id text, location_id text);
        create table dbt.stg_part_usage (part_id text, machine_id text, quantity numeric,
            used_date date);
        create table dbt.fct_part_demand_daily (part_id text, demand_date date,
            demand_quantity numeric);""")
    conn.execute(f"""
        create table analytics.part_demand_forecast (as_of_date date, part_id text,
            target_date date, horizon_days integer, demand_mean double precision,
            {QUANTILE_COLUMNS}, demand_class text, model_version text,
            created_at timestamptz default now(),
            primary key (as_of_date, part_id, target_date))""")


def _forecast(conn, as_of, part):
    # Every day: q10..q50 = 0 and q60..q99 = 1, i.e. 0 or 1 unit, P(1) = 0.45, mean 0.45.
    for day in range(1, 29):
        quantiles = [0.0 if level <= 50 else 1.0 for level in LEVELS]
        conn.execute(
            f"insert into analytics.part_demand_forecast (as_of_date, part_id, target_date, "
            f"horizon_days, demand_mean, {', '.join(f'demand_p{l}' for l in LEVELS)}, "
            f"demand_class, model_version) values (%s, %s, %s, %s, 0.45, "
            f"{', '.join(['%s'] * len(LEVELS))}, 'intermittent', 'lgbm-test')",
            (as_of, part, as_of + timedelta(days=day), day, *quantiles))


@pytest.fixture
def small_case(fresh_database):
    with psycopg.connect(fresh_database) as conn:
        _schema(conn)
        conn.execute("""
            insert into dbt.dim_parts values
                ('A', 'valve', 10, 2, 3, 2, 'medium', true),
                ('C', 'gasket', 4, 30, 1, 1, 'low', true),
                ('D', 'belt', 1, 2, 0, 1, 'high', true);
            insert into dbt.fct_inventory_snapshot values
                ('A', 'WH-1', '2025-06-29 18:00+00', '2025-06-29', 1, 0),
                ('C', 'WH-1', '2025-06-29 18:00+00', '2025-06-29', 5, 0),
                ('D', 'WH-1', '2025-06-29 18:00+00', '2025-06-29', 10, 0);
            insert into dbt.dim_machines values ('M1', 'WH-1'), ('M2', 'WH-2');
            insert into dbt.stg_part_usage values
                ('A', 'M1', 2, '2025-06-20'),
                ('C', 'M1', 1, '2024-02-16'),
                ('D', 'M1', 3, '2025-06-01'),
                ('D', 'M2', 1, '2025-06-02');
            insert into dbt.fct_part_demand_daily values ('A', '2023-11-08', 0)""")
        _forecast(conn, AS_OF, "A")
        _forecast(conn, AS_OF, "D")
        conn.commit()
        yield conn


def test_recommendations_match_the_hand_computed_case(small_case):
    settings = InventorySettings(review_period_days=1)
    refresh_recommendations(small_case, settings)
    rows = {(r[0], r[1]): r for r in small_case.execute("""
        select part_id, location_id, reorder_point, order_up_to_level, safety_stock,
               lead_time_demand_mean, recommended_order_qty, recommended_order_value,
               stockout_probability, expected_units_short, value_at_risk, days_of_cover,
               projected_stockout_date, excess_units, dead_stock_units, dead_stock_value,
               demand_share, mean_daily_demand, data_flags, model_version, expected_fill_rate
        from analytics.inventory_recommendations where as_of_date = %s
        order by 1, 2""", (AS_OF,)).fetchall()}

    # A: lead time 2 days + review 1, daily pmf [0.55, 0.45]: D_L = Bin(2, 0.45), mean 0.9;
    # D_LR = Bin(3, 0.45). Medium target 0.95: fill rate at S = 2 is 1 - 0.091125 / 0.45 =
    # 0.7975, at S = 3 it is 1 -> S = 3; s = 1 gives 1 - 0.2025 / 2 = 0.89875, s = 2 gives 1
    # -> s = 2, safety stock 2 - 0.9. Position 1 <= 2: need 3 - 1 = 2, MOQ 3, packs of 2 -> 4.
    # Stockout within the lead time: P(D_L > 1) = 0.45^2; short E[(D_L - 1)^+] = 0.2025,
    # value 10 x 0.2025. Cover 1 / 0.45 days -> runs out on day 2.
    a = rows[("A", "WH-1")]
    assert a[2:4] == (2, 3)
    assert a[4] == pytest.approx(1.1) and a[5] == pytest.approx(0.9)
    assert a[6:8] == (4.0, 40.0)
    assert a[8] == pytest.approx(0.2025) and a[9] == pytest.approx(0.2025)
    assert a[10] == pytest.approx(2.025)
    assert a[11] == pytest.approx(1 / 0.45) and a[12] == AS_OF + timedelta(days=2)
    assert (a[13], a[14], a[18], a[19], a[20]) == (0.0, 0.0, "", "lgbm-test", 1.0)

    # C: stock but no forecast and no use since 2024-02-16, more than 365 days before the
    # as-of date, with history from 2023-11-08: dead stock 5 x 4; all of it is excess.
    c = rows[("C", "WH-1")]
    assert (c[2], c[3], c[6]) == (0, 0, 0.0)
    assert (c[13], c[14], c[15]) == (5.0, 5.0, 20.0)
    assert c[18] == "no_forecast" and c[11] is None and c[12] is None and c[19] is None

    # D: 3 of its 4 units in the window were used at WH-1, 1 at WH-2 (which has no count).
    assert rows[("D", "WH-1")][16:19] == (0.75, pytest.approx(0.3375), "")
    assert rows[("D", "WH-2")][16:19] == (0.25, pytest.approx(0.1125), "no_inventory_snapshot")


def test_exceptions_rank_the_parts_at_risk_by_value(small_case):
    refresh_recommendations(small_case, InventorySettings(review_period_days=1))
    exceptions = small_case.execute("""
        select part_id, location_id, risk_rank, value_at_risk, stockout_probability
        from analytics.inventory_exceptions where as_of_date = %s order by risk_rank""",
                                    (AS_OF,)).fetchall()
    # A at WH-1: 0.2025 > 1 - 0.95, value 2.025. D at WH-2 holds nothing: each of its two lead
    # time days brings a unit with probability 0.45 x 0.25, P(D_L > 0) = 1 - 0.8875^2 > 0.01,
    # value 1 x 2 x 0.1125. D at WH-1 (10 on hand) and C (no demand) are safe.
    assert [(p, loc, rank) for p, loc, rank, _, _ in exceptions] == [
        ("A", "WH-1", 1), ("D", "WH-2", 2)]
    assert exceptions[0][3] == pytest.approx(2.025)
    assert exceptions[1][3] == pytest.approx(0.225)
    assert exceptions[1][4] == pytest.approx(1 - 0.8875**2)


def test_refresh_replaces_its_as_of_date_and_keeps_the_others(small_case):
    settings = InventorySettings(review_period_days=1)
    earlier = AS_OF - timedelta(days=7)
    _forecast(small_case, earlier, "A")
    refresh_recommendations(small_case, settings, as_of_date=earlier)
    refresh_recommendations(small_case, settings)
    refresh_recommendations(small_case, settings)
    counts = small_case.execute("""
        select as_of_date, count(*) from analytics.inventory_recommendations
        group by 1 order by 1""").fetchall()
    # The earlier as-of date has A's forecast only: A, C and D (D and C from their counts).
    assert counts == [(earlier, 4), (AS_OF, 4)]
    assert recommendation_problems(small_case) == {
        "as_of_date": str(AS_OF), "recommendation_rows": 4,
        "reorder_point_above_order_up_to_rows": 0, "order_breaking_moq_or_pack_rows": 0,
        "negative_value_rows": 0, "forecast_parts_without_recommendation": 0}


def test_refresh_without_a_forecast_says_so(fresh_database):
    with psycopg.connect(fresh_database) as conn:
        _schema(conn)
        with pytest.raises(ValueError, match="part_demand_forecast is empty"):
            refresh_recommendations(conn, InventorySettings())
