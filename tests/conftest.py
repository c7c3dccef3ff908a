"""Shared fixtures: a fresh database on a real Postgres server, and a real S3 endpoint (moto's
server over HTTP)."""

from __future__ import annotations

import os
import socket
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
AZURE_PDM = DATA / "azure_pdm"

# The server the tests create their databases on; CI starts the machine's Postgres 15.
SERVER_URL = os.environ.get("SPARECAST_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_dbname(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture
def fresh_database():
    """A new, empty database for one test; dropped afterwards."""
    name = f"sparecast_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = _with_dbname(SERVER_URL, name)
    yield url
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server on a local port, with boto3 pointed at it through the standard
    AWS_ENDPOINT_URL_S3 variable. Yields (endpoint URL, boto3 client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in process-wide state: start every test from an empty store.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield endpoint, boto3.client("s3")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azure_landing(tmp_path_factory):
    """The Azure PdM sample imported once into a local landing folder."""
    from sparecast_assets.landing.storage import LocalLanding
    from sparecast_assets.sources.azure_pdm import import_azure_pdm

    root = tmp_path_factory.mktemp("azure-landing")
    import_azure_pdm(AZURE_PDM, LocalLanding(root))
    return root
