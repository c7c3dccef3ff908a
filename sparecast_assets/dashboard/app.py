"""The planners' dashboard: a Dash app over the analytics views.

Sections, top to bottom, in the order a planner works through them in the morning: parts at
risk of stockout, one part's demand with its forecast band and stock levels, model accuracy
over time, and fleet health. Every page load reads the database afresh.
"""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from sparecast_assets.dashboard import data

DASHBOARD_URL_VARIABLE = "SPARECAST_DASHBOARD_DATABASE_URL"

TEMPLATE = "simple_white"
# No toolbar over the charts: planners read them, they do not edit them.
GRAPH_CONFIG = {"displayModeBar": False}
DEMAND_COLOR = "#4c72b0"
FORECAST_COLOR = "#dd8452"
BAND_COLOR = "rgba(221, 132, 82, 0.25)"
RISK_COLOR = "#c44e52"
LOCATION_COLORS = ("#4c72b0", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
METHOD_COLORS = {"sparecast": "#dd8452", "empirical_quantiles": "#4c72b0", "tsb": "#55a868",
                 "croston_sba": "#8172b3", "adida": "#937860", "imapa": "#da8bc3",
                 "seasonal_naive": "#8c8c8c", "zero": "#cccccc"}


def _values(series: pd.Series) -> list:
    # Plain lists: plotly sends numpy arrays as binary blobs, which other tools cannot read
    # back from the page; missing values become gaps.
    return [None if pd.isna(v) else v for v in series.tolist()]


def _figure(title: str, x_title: str, y_title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        template=TEMPLATE, title={"text": title, "x": 0, "font": {"size": 15}},
        xaxis_title=x_title, yaxis_title=y_title, height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    return figure


def part_figure(history: pd.DataFrame, forecast: pd.DataFrame, part_id: str) -> go.Figure:
    """Daily demand before the as-of date and the forecast after it, in units per day."""
    figure = _figure(f"{part_id}: daily demand and forecast", "Date", "Demand (units per day)")
    figure.add_bar(x=_values(history["demand_date"]), y=_values(history["demand_quantity"]),
                   name="Demand", marker_color=DEMAND_COLOR)
    if not forecast.empty:
        # The band is the 10th-90th percentile where the forecast has quantiles; forecasts
        # written before them only have the median and the 90th.
        has_p10 = forecast["demand_p10"].notna().any()
        lower = forecast["demand_p10"] if has_p10 else forecast["demand_p50"]
        label = "10th-90th percentile" if has_p10 else "50th-90th percentile"
        days = _values(forecast["target_date"])
        figure.add_scatter(x=days, y=_values(forecast["demand_p90"]), mode="lines",
                           line={"width": 0}, showlegend=False, hoverinfo="skip",
                           name="90th percentile")
        figure.add_scatter(x=days, y=_values(lower), mode="lines", line={"width": 0},
                           fill="tonexty", fillcolor=BAND_COLOR, name=label)
        figure.add_scatter(x=days, y=_values(forecast["demand_mean"]), mode="lines",
                           line={"color": FORECAST_COLOR, "width": 2}, name="Forecast (mean)")
        as_of = pd.Timestamp(forecast["as_of_date"].iloc[0])
        figure.add_vline(x=as_of, line={"color": "#888", "dash": "dot", "width": 1})
        figure.add_annotation(x=as_of, y=1, yref="paper", text=f"as of {as_of:%Y-%m-%d}",
                              showarrow=False, xanchor="right", font={"size": 11})
    return figure


def position_figure(stock: pd.DataFrame, part_id: str) -> go.Figure:
    """Each location's inventory position as expected demand draws it down (if nothing is
    ordered), against its reorder point, over the lead time and a review period beyond."""
    figure = _figure(f"{part_id}: expected inventory position if nothing is ordered", "Date",
                     "Inventory position (units)")
    if stock.empty:
        figure.add_annotation(text="No stock recommendation for this part yet", showarrow=False,
                              x=0.5, y=0.5, xref="paper", yref="paper")
        return figure
    as_of = pd.Timestamp(stock["as_of_date"].iloc[0])
    lead_time = float(stock["lead_time_days"].max())
    days = pd.RangeIndex(0, int(lead_time) + 15)
    dates = [as_of + pd.Timedelta(days=int(d)) for d in days]
    for i, row in enumerate(stock.itertuples()):
        color = LOCATION_COLORS[i % len(LOCATION_COLORS)]
        figure.add_scatter(x=dates, y=[row.inventory_position - row.mean_daily_demand * d
                                       for d in days],
                           mode="lines", line={"color": color, "width": 2},
                           name=f"{row.location_id}: position")
        figure.add_scatter(x=[dates[0], dates[-1]], y=[row.reorder_point] * 2, mode="lines",
                           line={"color": color, "dash": "dash", "width": 1},
                           name=f"{row.location_id}: reorder point")
    arrival = as_of + pd.Timedelta(days=lead_time)
    figure.add_vline(x=arrival, line={"color": "#888", "dash": "dot", "width": 1})
    figure.add_annotation(x=arrival, y=1, yref="paper", showarrow=False, xanchor="left",
                          text=f" an order placed today arrives ({lead_time:.0f} days)",
                          font={"size": 11})
    return figure


def backtest_figure(backtest: pd.DataFrame) -> go.Figure:
    """Backtest weighted quantile loss of the model and its baselines (it scores the whole
    forecast distribution, which stock levels are set from), one group of bars per model."""
    figure = _figure("Backtest error by model run", "Model trained on history up to",
                     "Weighted quantile loss (0 perfect, 1 = forecasting nothing)")
    for method, rows in backtest.groupby("method", sort=True):
        figure.add_bar(x=_values(rows["training_end"].astype(str)), y=_values(rows["wql"]),
                       name=method,
                       marker_color=METHOD_COLORS.get(method),
                       text=rows["wql"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
                       textposition="outside")
    figure.update_layout(barmode="group")
    figure.update_xaxes(type="category")
    return figure


def realised_figure(realised: pd.DataFrame) -> go.Figure:
    """Realised MAE of each forecast against the demand that followed, by as-of date."""
    figure = _figure("Forecast error against actual demand", "Forecast made on (as-of date)",
                     "Mean absolute error (units per part-day)")
    if realised.empty:
        figure.add_annotation(text="No forecast has reached its target dates yet",
                              showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
        return figure
    for model, rows in realised.groupby("model_version", sort=False):
        figure.add_scatter(x=_values(rows["as_of_date"]), y=_values(rows["mae"]),
                           mode="lines+markers", name=model, text=rows["observations"].map(
                               lambda n: f"{n:,.0f} part-days with actuals"))
    first, last = pd.Timestamp(realised["as_of_date"].min()), pd.Timestamp(
        realised["as_of_date"].max())
    # A week either side, so that one or two forecasts do not get hour-by-hour ticks.
    figure.update_xaxes(tickformat="%Y-%m-%d", range=[first - pd.Timedelta(days=7),
                                                      last + pd.Timedelta(days=7)])
    figure.update_yaxes(rangemode="tozero")
    return figure


def fleet_figure(daily: pd.DataFrame) -> go.Figure:
    figure = _figure("Fleet errors and failures per day", "Date", "Events per day")
    figure.add_bar(x=_values(daily["activity_date"]), y=_values(daily["errors"]), name="Errors",
                   marker_color=DEMAND_COLOR)
    figure.add_bar(x=_values(daily["activity_date"]), y=_values(daily["failures"]), name="Failures",
                   marker_color=RISK_COLOR)
    figure.update_layout(barmode="overlay")
    return figure


def _number(value, digits: int = 1, unit: str = "") -> str:
    if value is None or pd.isna(value):
        return "-"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


def _fact(label: str, value: str, fact_id: str) -> html.Div:
    return html.Div([html.Div(label, className="fact-label"),
                     html.Div(value, id=fact_id, className="fact-value")], className="fact")


def _records(frame: pd.DataFrame) -> list[dict]:
    # Dates as ISO text and missing values as null, which the grid shows as '-'.
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _grid(grid_id: str, frame: pd.DataFrame, columns: list[dict],
          selectable: bool = False) -> dag.AgGrid:
    options = {"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 10,
               "paginationPageSizeSelector": False}
    if selectable:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False,
                                   "enableClickSelection": True}
    return dag.AgGrid(
        id=grid_id, rowData=_records(frame), columnDefs=columns,
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        columnSize="sizeToFit", dashGridOptions=options,
        style={"width": "100%"}, className="ag-theme-alpine")


def _numeric(field: str, header: str, digits: int = 1) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": f"params.value == null ? '-' : "
                                           f"d3.format(',.{digits}f')(params.value)"}}


def _percent(field: str, header: str) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": "params.value == null ? '-' : "
                                           "d3.format('.1%')(params.value)"}}


RISK_COLUMNS = [
    _numeric("risk_rank", "At risk, rank", 0),
    {"field": "part_id", "headerName": "Part"},
    {"field": "description", "headerName": "Description"},
    {"field": "criticality", "headerName": "Criticality"},
    {"field": "location_id", "headerName": "Location"},
    _percent("stockout_probability", "Stockout probability"),
    _numeric("value_at_risk", "Value at risk", 0),
    _numeric("on_hand", "On hand", 0),
    _numeric("on_order", "On order", 0),
    _numeric("reorder_point", "Reorder point", 0),
    _numeric("recommended_order_qty", "Order now", 0),
    _numeric("days_of_cover", "Days of cover", 0),
    _numeric("lead_time_days", "Lead time (days)", 0),
]

STOCK_COLUMNS = [
    {"field": "location_id", "headerName": "Location"},
    _numeric("on_hand", "On hand", 0),
    _numeric("on_order", "On order", 0),
    _numeric("inventory_position", "Position", 0),
    _numeric("safety_stock", "Safety stock", 1),
    _numeric("reorder_point", "Reorder point", 0),
    _numeric("order_up_to_level", "Order-up-to", 0),
    _numeric("recommended_order_qty", "Order now", 0),
    _percent("stockout_probability", "Stockout probability"),
    _percent("service_target", "Service target"),
]

FLEET_COLUMNS = [
    {"field": "machine_id", "headerName": "Machine"},
    {"field": "location_id", "headerName": "Location"},
    {"field": "model", "headerName": "Model"},
    {"field": "risk_reason", "headerName": "Rising risk"},
    _numeric("errors_last_7d", "Errors, 7 days", 0),
    _numeric("errors_per_day_prior_28d", "Errors/day before", 2),
    _numeric("error_rate_ratio", "Error rate ratio", 2),
    {"field": "drifting_sensor", "headerName": "Drifting sensor"},
    _numeric("sensor_drift_z", "Drift (std devs)", 1),
    _numeric("failures_last_90d", "Failures, 90 days", 0),
    _numeric("days_since_last_failure", "Days since failure", 0),
]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 14px 24px; background: #fff; border-bottom: 1px solid #ddd; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 0 0 10px 0; }
.subtitle { color: #666; font-size: 13px; }
section { background: #fff; margin: 16px 24px; padding: 14px 18px; border: 1px solid #e3e3e3; }
.facts { display: flex; gap: 28px; margin: 6px 0 4px 0; flex-wrap: wrap; }
.fact-label { color: #666; font-size: 12px; }
.fact-value { font-size: 18px; font-variant-numeric: tabular-nums; }
.row { display: flex; gap: 16px; flex-wrap: wrap; }
.row > div { flex: 1 1 480px; min-width: 0; }
.controls { display: flex; gap: 16px; margin-bottom: 8px; }
.controls > div { min-width: 240px; }
"""


def create_app(database_url: str) -> dash.Dash:
    app = dash.Dash(__name__, title="sparecast", update_title=None)
    app.index_string = app.index_string.replace("</head>", f"<style>{STYLE}</style></head>")

    def layout():
        with data.connect(database_url) as conn:
            summary = data.overview(conn)
            parts = data.part_choices(conn)
            criticalities, locations = data.stock_filters(conn)
            risk = data.stock_risk(conn)
            backtest = data.backtest_by_run(conn)
            realised = data.accuracy_over_time(conn)
            fleet = data.fleet_health(conn)
            fleet_days = data.fleet_daily(conn)
        # The riskiest part first; without recommendations, the first part.
        first_part = (risk["part_id"].iloc[0] if len(risk)
                      else parts["part_id"].iloc[0] if len(parts) else None)
        at_risk = int(risk["risk_rank"].notna().sum())
        return html.Div([
            html.Header([
                html.H1("sparecast: spare parts"),
                html.Div(
                    f"forecast as of {summary.as_of_date or '-'}, history to "
                    f"{summary.history_end or '-'}, model {summary.model_version or '-'}; "
                    f"{summary.parts} parts, {summary.machines} machines",
                    id="overview", className="subtitle"),
            ]),
            html.Section([
                html.H2(f"Parts at risk of stockout: {at_risk} of {len(risk)} part-locations",
                        id="risk-title"),
                html.Div([
                    html.Div(dcc.Dropdown(id="criticality-filter", multi=True,
                                          placeholder="All criticalities",
                                          options=criticalities)),
                    html.Div(dcc.Dropdown(id="location-filter", multi=True,
                                          placeholder="All locations", options=locations)),
                ], className="controls"),
                _grid("risk-grid", risk, RISK_COLUMNS, selectable=True),
            ], id="risk-section"),
            html.Section([
                html.H2("Part demand and forecast"),
                html.Div([dcc.Dropdown(
                    id="part-picker", value=first_part, clearable=False,
                    options=[{"label": f"{r.part_id}  {r.description}", "value": r.part_id}
                             for r in parts.itertuples()])], className="controls"),
                html.Div(id="part-facts", className="facts"),
                dcc.Graph(id="part-chart", config=GRAPH_CONFIG),
                html.H2("Inventory position"),
                _grid("stock-grid", pd.DataFrame(), STOCK_COLUMNS),
                dcc.Graph(id="position-chart", config=GRAPH_CONFIG),
            ], id="part-section"),
            html.Section([
                html.H2("Model accuracy over time"),
                html.Div([
                    html.Div(dcc.Graph(id="backtest-chart", figure=backtest_figure(backtest),
                                       config=GRAPH_CONFIG)),
                    html.Div(dcc.Graph(id="realised-chart", figure=realised_figure(realised),
                                       config=GRAPH_CONFIG)),
                ], className="row"),
            ], id="accuracy-section"),
            html.Section([
                html.H2(f"Fleet health: {summary.machines_at_risk} of {summary.machines} "
                        "machines with rising failure risk", id="fleet-title"),
                _grid("fleet-grid", fleet, FLEET_COLUMNS),
                dcc.Graph(id="fleet-chart", figure=fleet_figure(fleet_days), config=GRAPH_CONFIG),
            ], id="fleet-section"),
        ])

    app.layout = layout

    @app.callback(Output("risk-grid", "rowData"), Input("criticality-filter", "value"),
                  Input("location-filter", "value"), prevent_initial_call=True)
    def filter_risk(criticalities, locations):
        with data.connect(database_url) as conn:
            return _records(data.stock_risk(conn, criticalities, locations))

    @app.callback(Output("part-picker", "value"), Input("risk-grid", "selectedRows"),
                  prevent_initial_call=True)
    def pick_from_risk(rows):
        if not rows:
            return dash.no_update
        return rows[0]["part_id"]

    @app.callback(Output("part-chart", "figure"), Output("part-facts", "children"),
                  Output("stock-grid", "rowData"), Output("position-chart", "figure"),
                  Input("part-picker", "value"))
    def show_part(part_id):
        if not part_id:
            empty = _figure("No part selected", "Date", "Demand (units per day)")
            return empty, [], [], empty
        with data.connect(database_url) as conn:
            history = data.part_history(conn, part_id)
            forecast = data.part_forecast(conn, part_id)
            parts = data.part_choices(conn)
            stock = data.part_stock(conn, part_id)
        part = parts.set_index("part_id").loc[part_id]
        expected = forecast["demand_mean"].sum() if len(forecast) else None
        facts = [
            _fact("Criticality", part["criticality"] or "-", "fact-criticality"),
            _fact("Lead time", _number(part["lead_time_days"], 0, "days"), "fact-lead-time"),
            _fact(f"Expected demand, next {len(forecast)} days", _number(expected, 1, "units"),
                  "fact-expected"),
            _fact("Demand class", (forecast["demand_class"].dropna().iloc[0]
                                   if forecast["demand_class"].notna().any() else "-"),
                  "fact-class"),
        ]
        return (part_figure(history, forecast, part_id), facts, _records(stock),
                position_figure(stock, part_id))

    return app


def serve(database_url: str, host: str = "127.0.0.1", port: int = 8050) -> None:
    create_app(database_url).run(host=host, port=port, debug=False)
