"""Compatibility suite: the stock MLflow client against whatever server MLFLOW_TRACKING_URI names.

The same tests run against mlfleet and against a real `mlflow server` (test/e2e/mlflow-compat.test.ts),
so they may only assert what MLflow itself does. Every test works in experiments of its own.
"""

import os
import uuid

import pytest

import mlflow
from mlflow import MlflowClient


def pytest_configure(config):
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        raise pytest.UsageError("set MLFLOW_TRACKING_URI to the server under test")


@pytest.fixture(scope="session")
def client():
    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


@pytest.fixture
def unique():
    """A fresh name prefix for this test."""
    return f"compat-{uuid.uuid4().hex}"


@pytest.fixture
def experiment_id(client, unique):
    return client.create_experiment(f"{unique}-exp")


@pytest.fixture(autouse=True)
def _no_active_run():
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
