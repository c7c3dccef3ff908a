"""`sparecast dashboard` in headless Chromium, against a database the real pipeline filled.

The pipeline runs twice on a synthetic fleet (`sparecast generate`, then `sparecast run` up to a
day and over everything), so there are two model runs and a first forecast whose target days
have actuals. The dashboard connects as the read-only BI role: a query outside `analytics`
would fail. Each check compares what the browser shows with the database.

Screenshots go to $SPARECAST_SCREENSHOT_DIR when set, else to pytest's temporary folder.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sparecast_assets import cli
from sparecast_assets.dashboard import data
from tests.conftest import REPO, SERVER_URL, _with_dbname
from tests.test_analytics_views import contract_violations, undocumented

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FIRST_END = date(2025, 4, 2)  # the first run's last day: its forecast's targets are observed
LAST_DAY = date(2025, 4, 30)  # 120 days from 2025-01-01
BI_PASSWORD = "dashboard-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pipeline_database(tmp_path_factory):
    """A database filled by two real pipeline runs over a synthetic fleet; the runs build the
    analytics views too (the analytics_views asset)."""
    name = f"sparecast_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = _with_dbname(SERVER_URL, name)
    home = tmp_path_factory.mktemp("dashboard-home")
    landing = str(home / "landing")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPARECAST_DATABASE_URL", url)
        env.setenv("SPARECAST_HOME", str(home))
        assert cli.main(["generate", "--to", landing, "--machines", "6", "--parts", "5",
                         "--days", "120"]) == 0
        assert cli.main(["run", "--landing", landing, "--end", FIRST_END.isoformat()]) == 0
        assert cli.main(["run", "--landing", landing]) == 0
    yield url
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def bi_url(pipeline_database):
    role = f"sparecast_bi_test_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPARECAST_DATABASE_URL", pipeline_database)
        env.setenv("SPARECAST_BI_PASSWORD", BI_PASSWORD)
        assert cli.main(["bi-role", "--role", role]) == 0
    base, _, dbname = pipeline_database.rpartition("/")
    scheme, _, host = base.partition("://")
    yield f"{scheme}://{role}:{BI_PASSWORD}@{host.rpartition('@')[2]}/{dbname}"
    with psycopg.connect(pipeline_database, autocommit=True) as conn:
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def dashboard(bi_url, tmp_path_factory):
    """`sparecast dashboard` in its own process; yields its address."""
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard-log") / "dashboard.log"
    env = {**os.environ, "SPARECAST_DASHBOARD_DATABASE_URL": bi_url}
    env.pop("SPARECAST_DATABASE_URL", None)
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sparecast_assets.cli", "dashboard", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(address, timeout=5)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the dashboard did not start:\n{log.read_text()}")
                time.sleep(0.5)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)
    # The BI role never touched raw, dbt or ml: no permission error in the server's log.
    assert "permission denied" not in log.read_text()


@pytest.fixture(scope="module")
def browser(dashboard):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,2400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.get(dashboard)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("SPARECAST_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_for(driver, script: str, timeout: float = 30):
    """Poll a JavaScript expression until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {script}")


def plot(driver, graph_id: str, title_contains: str = "") -> dict:
    """The figure a dcc.Graph drew (data and layout), once it has drawn."""
    return json.loads(wait_for(driver, f"""(() => {{
        const el = document.querySelector('#{graph_id} .js-plotly-plot');
        if (!el || !el.layout || !el.data) return null;
        const title = (el.layout.title && el.layout.title.text) || '';
        if (!title.includes({json.dumps(title_contains)})) return null;
        // plotly keeps numeric arrays as typed arrays, which JSON would turn into objects
        const plain = v => ArrayBuffer.isView(v) ? Array.from(v) : v;
        const data = el.data.map(t => ({{...t, x: plain(t.x), y: plain(t.y)}}));
        return JSON.stringify({{data: data, layout: el.layout}});
    }})()"""))


def trace(figure: dict, name: str) -> dict:
    [found] = [t for t in figure["data"] if t.get("name") == name]
    return found


def query(url: str, text: str, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(text, params).fetchall()


def test_the_pipeline_database_keeps_the_view_contract(pipeline_database):
    with psycopg.connect(pipeline_database) as conn:
        assert contract_violations(conn) == []
        assert undocumented(conn) == []


def test_the_header_shows_the_newest_forecast_and_model(browser, pipeline_database,
                                                        screenshots):
    [(version, parts, machines)] = query(pipeline_database, """
        select (select model_version from ml.model_runs order by trained_at desc limit 1),
               (select count(*) from dbt.dim_parts), (select count(*) from dbt.dim_machines)""")
    text = wait_for(browser, "document.getElementById('overview')?.innerText")
    browser.save_screenshot(str(screenshots / "dashboard.png"))

    assert text == (f"forecast as of {LAST_DAY}, history to {LAST_DAY}, model {version}; "
                    f"{parts} parts, {machines} machines")
    assert (parts, machines) == (5, 6)


def grid_rows(driver, grid_id: str, column: str) -> list[str]:
    """The column's cells of the grid's current page, in row order."""
    rows = wait_for(driver, f"""(() => {{
        const cells = [...document.querySelectorAll(
            '#{grid_id} .ag-center-cols-container .ag-row [col-id={column}]')];
        return cells.length ? cells.map(c => [c.closest('.ag-row').getAttribute('row-index'),
                                              c.innerText]) : null;
    }})()""")
    return [text for _, text in sorted(rows, key=lambda r: int(r[0]))]


RISK_ORDER = """
    select r.part_id, r.location_id, r.criticality
    from analytics.inventory_recommendations as r
    left join analytics.inventory_exceptions as e using (as_of_date, part_id, location_id)
    where r.as_of_date = (select max(as_of_date) from analytics.inventory_recommendations)
    order by e.risk_rank nulls last, r.stockout_probability desc, r.value_at_risk desc,
             r.part_id, r.location_id"""


def test_parts_at_risk_of_stockout_come_first(browser, pipeline_database, screenshots):
    expected = query(pipeline_database, RISK_ORDER)
    [(at_risk,)] = query(pipeline_database, """
        select count(*) from analytics.inventory_exceptions
        where as_of_date = (select max(as_of_date) from analytics.inventory_exceptions)""")
    parts = grid_rows(browser, "risk-grid", "part_id")
    locations = grid_rows(browser, "risk-grid", "location_id")
    browser.find_element("id", "risk-section").screenshot(str(screenshots / "risk.png"))

    assert len(expected) > 0
    assert list(zip(parts, locations)) == [(p, loc) for p, loc, _ in expected[:10]]
    assert browser.find_element("id", "risk-title").text == (
        f"Parts at risk of stockout: {at_risk} of {len(expected)} part-locations")


def test_the_risk_list_filters_by_location(browser, pipeline_database):
    expected = query(pipeline_database, RISK_ORDER)
    location = expected[-1][1]
    browser.find_element("id", "location-filter").click()
    wait_for(browser, f"""[...document.querySelectorAll('[role=option]')]
        .find(o => o.innerText.trim() === {json.dumps(location)})""").click()
    browser.find_element("tag name", "body").send_keys("\ue00c")  # Escape closes the list

    wanted = [(p, loc) for p, loc, _ in expected if loc == location][:10]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = list(zip(grid_rows(browser, "risk-grid", "part_id"),
                         grid_rows(browser, "risk-grid", "location_id")))
        if shown == wanted:
            break
        time.sleep(0.25)
    assert shown == wanted


def test_choosing_a_risk_row_shows_that_parts_stock_by_location(browser, pipeline_database,
                                                                 screenshots):
    first = browser.find_element(
        "css selector", "#risk-grid .ag-center-cols-container .ag-row[row-index='0'] "
                        "[col-id=part_id]")
    part = first.text
    first.click()

    figure = plot(browser, "position-chart", part)
    browser.find_element("id", "part-section").screenshot(str(screenshots / "part-stock.png"))

    stock = query(pipeline_database, """
        select location_id, inventory_position, reorder_point from
        analytics.inventory_recommendations where part_id = %s
          and as_of_date = (select max(as_of_date) from analytics.inventory_recommendations)
        order by location_id""", (part,))
    assert grid_rows(browser, "stock-grid", "location_id") == [loc for loc, _, _ in stock]
    for location, position, reorder_point in stock:
        assert trace(figure, f"{location}: position")["y"][0] == pytest.approx(position)
        assert trace(figure, f"{location}: reorder point")["y"] == [reorder_point] * 2
    assert figure["layout"]["yaxis"]["title"]["text"] == "Inventory position (units)"


def pick_part(driver, part: str) -> None:
    """Choose the part in the part picker (a no-op when it is already chosen)."""
    if driver.find_element("id", "part-picker-value").text.startswith(part):
        return
    driver.find_element("id", "part-picker").click()
    wait_for(driver, f"""[...document.querySelectorAll('[role=option]')]
        .find(o => o.innerText.startsWith({json.dumps(part)}))""").click()


def test_a_parts_chart_shows_its_history_and_forecast_band(browser, pipeline_database,
                                                           screenshots):
    part = query(pipeline_database, "select min(part_id) from dbt.dim_parts")[0][0]
    pick_part(browser, part)
    figure = plot(browser, "part-chart", part)
    section = browser.find_element("id", "part-section")
    section.screenshot(str(screenshots / "part.png"))

    history = query(pipeline_database, """
        select demand_quantity from dbt.fct_part_demand_daily
        where part_id = %s and demand_date > %s::date - 120 order by demand_date""",
                    (part, LAST_DAY))
    forecast = query(pipeline_database, """
        select demand_mean, demand_p90 from analytics.part_demand_forecast
        where part_id = %s and as_of_date = %s order by target_date""", (part, LAST_DAY))
    assert trace(figure, "Demand")["y"] == [q for (q,) in history]
    assert len(history) == 120
    assert trace(figure, "Forecast (mean)")["y"] == pytest.approx([m for m, _ in forecast])
    assert trace(figure, "90th percentile")["y"] == pytest.approx([p for _, p in forecast])
    assert len(forecast) == 28
    assert figure["layout"]["yaxis"]["title"]["text"] == "Demand (units per day)"
    assert figure["layout"]["xaxis"]["title"]["text"] == "Date"

    [(lead_time, criticality)] = query(pipeline_database, "select lead_time_days, criticality "
                                       "from dbt.dim_parts where part_id = %s", (part,))
    facts = browser.find_element("id", "part-facts").text
    assert f"Lead time\n{lead_time:.0f} days" in facts
    assert f"Criticality\n{criticality}" in facts
    assert f"Expected demand, next 28 days\n{sum(m for m, _ in forecast):,.1f} units" in facts


def test_picking_another_part_redraws_its_chart(browser, pipeline_database):
    part = query(pipeline_database, "select max(part_id) from dbt.dim_parts")[0][0]
    pick_part(browser, part)

    figure = plot(browser, "part-chart", part)

    forecast = query(pipeline_database, """
        select demand_mean from analytics.part_demand_forecast
        where part_id = %s and as_of_date = %s order by target_date""", (part, LAST_DAY))
    assert trace(figure, "Forecast (mean)")["y"] == pytest.approx([m for (m,) in forecast])


def test_accuracy_charts_show_both_model_runs_and_the_realised_error(browser, pipeline_database,
                                                                     screenshots):
    backtest = plot(browser, "backtest-chart", "Backtest")
    realised = plot(browser, "realised-chart", "actual")
    browser.find_element("id", "accuracy-section").screenshot(str(screenshots / "accuracy.png"))

    runs = query(pipeline_database, """
        select training_end, (backtest -> 'sparecast' ->> 'wql')::float from ml.model_runs
        order by training_end""")
    assert [end for end, _ in runs] == [FIRST_END, LAST_DAY]
    model = trace(backtest, "sparecast")
    assert model["x"] == [str(end) for end, _ in runs]
    assert model["y"] == pytest.approx([wql for _, wql in runs])
    assert backtest["layout"]["yaxis"]["title"]["text"] == (
        "Weighted quantile loss (0 perfect, 1 = forecasting nothing)")

    # The first forecast's 28 target days are all in the second run's history.
    [(version, mae, observations)] = query(pipeline_database, """
        select f.model_version, avg(abs(f.demand_mean - d.demand_quantity)), count(*)
        from analytics.part_demand_forecast as f
        join dbt.fct_part_demand_daily as d
          on d.part_id = f.part_id and d.demand_date = f.target_date
        where f.as_of_date = %s group by f.model_version""", (FIRST_END,))
    assert observations == 5 * 28
    line = trace(realised, version)
    assert line["x"] == [FIRST_END.isoformat()]
    assert line["y"] == pytest.approx([mae])


def test_fleet_health_lists_machines_at_rising_risk_first(browser, pipeline_database,
                                                          screenshots):
    expected = query(pipeline_database, """
        select machine_id from analytics.fleet_health
        order by rising_failure_risk desc, abs(sensor_drift_z) desc nulls last,
                 error_rate_ratio desc nulls last, machine_id""")
    [(rising,)] = query(pipeline_database,
                        "select count(*) from analytics.fleet_health where rising_failure_risk")
    shown = grid_rows(browser, "fleet-grid", "machine_id")
    section = browser.find_element("id", "fleet-section")
    browser.execute_script("arguments[0].scrollIntoView()", section)
    section.screenshot(str(screenshots / "fleet.png"))

    assert shown == [m for (m,) in expected]
    assert browser.find_element("id", "fleet-title").text == (
        f"Fleet health: {rising} of 6 machines with rising failure risk")
    figure = plot(browser, "fleet-chart", "Fleet")
    daily = query(pipeline_database, """
        select sum(error_count)::float from dbt.fct_machine_daily
        where activity_date > %s::date - 90 group by activity_date order by activity_date""",
                  (LAST_DAY,))
    assert trace(figure, "Errors")["y"] == [e for (e,) in daily]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Events per day"


def test_the_page_logged_no_browser_errors(browser):
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_dashboard_queries_name_only_the_analytics_schema():
    import inspect
    import re

    source = inspect.getsource(data)
    schemas = set(re.findall(r"\b(raw|dbt|ml|analytics|public)\.[a-z_]+", source))
    assert schemas == {"analytics"}
