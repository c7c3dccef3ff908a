# One image for the user-code server, the webserver and the daemon.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/home \
    SPARECAST_HOME=/opt/sparecast

WORKDIR /opt/sparecast/app
COPY pyproject.toml README.md ./
COPY sparecast_assets ./sparecast_assets
COPY dbt_project ./dbt_project
RUN pip install . && mkdir -p "$DAGSTER_HOME" \
    && cd dbt_project && dbt parse --quiet
COPY docker/dagster.yaml docker/workspace.yaml /opt/dagster/home/
