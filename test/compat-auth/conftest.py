"""Access-control compatibility: the stock MLflow client (and its basic-auth app client) against the
server MLFLOW_TRACKING_URI names, run by test/e2e/mlflow-auth-compat.test.ts against mlfleet with
MLFLEET_AUTH=on and against `mlflow server --app-name basic-auth`, both with NO_PERMISSIONS as the
default permission. Tests assert only what both servers do, except those marked mlfleet_only.
"""

import os
import uuid

import pytest

import mlflow
from mlflow.server import get_app_client

ADMIN = (os.environ.get("COMPAT_ADMIN_USERNAME", ""), os.environ.get("COMPAT_ADMIN_PASSWORD", ""))
SERVER = os.environ.get("COMPAT_SERVER", "")


def pytest_configure(config):
    if not os.environ.get("MLFLOW_TRACKING_URI") or not all(ADMIN) or SERVER not in ("mlfleet", "mlflow"):
        raise pytest.UsageError("set MLFLOW_TRACKING_URI, COMPAT_ADMIN_USERNAME, COMPAT_ADMIN_PASSWORD and COMPAT_SERVER=mlfleet|mlflow")
    config.addinivalue_line("markers", "mlfleet_only: behaviour MLflow's basic-auth app does not have (API tokens)")


def pytest_collection_modifyitems(config, items):
    if SERVER == "mlflow":
        skip = pytest.mark.skip(reason="mlfleet only")
        for item in items:
            if "mlfleet_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def uri():
    return os.environ["MLFLOW_TRACKING_URI"]


@pytest.fixture
def unique():
    return f"auth-{uuid.uuid4().hex[:12]}"


class Identity:
    """Switches the client's credentials, as a user would with the MLFLOW_TRACKING_* variables."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch

    def basic(self, username, password):
        self._monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        self._monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        self._monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    def token(self, token):
        self._monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        self._monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
        self._monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    def admin(self):
        self.basic(*ADMIN)

    def nobody(self):
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            self._monkeypatch.delenv(name, raising=False)


@pytest.fixture
def as_user(monkeypatch):
    identity = Identity(monkeypatch)
    identity.admin()
    return identity


@pytest.fixture
def auth_client(uri, as_user):
    as_user.admin()
    return get_app_client("basic-auth", tracking_uri=uri)
