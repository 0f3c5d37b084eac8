"""The error codes of bad calls, as the client sees them (MlflowException.error_code)."""

import uuid

import pytest

from mlflow.exceptions import MlflowException

MISSING_RUN = uuid.uuid4().hex


def error_code(call):
    with pytest.raises(MlflowException) as err:
        call()
    return err.value.error_code


def test_missing_experiment(client):
    assert error_code(lambda: client.get_experiment("987654321987")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.delete_experiment("987654321987")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.rename_experiment("987654321987", "x")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.create_run("987654321987")) == "RESOURCE_DOES_NOT_EXIST"


def test_missing_run(client):
    assert error_code(lambda: client.get_run(MISSING_RUN)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.log_param(MISSING_RUN, "p", "1")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.log_metric(MISSING_RUN, "m", 1.0)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.set_tag(MISSING_RUN, "t", "v")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.set_terminated(MISSING_RUN)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.delete_run(MISSING_RUN)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.restore_run(MISSING_RUN)) == "RESOURCE_DOES_NOT_EXIST"
    # Reading the history of an unknown run is not an error: it has none.
    assert client.get_metric_history(MISSING_RUN, "m") == []


def test_invalid_experiment_names(client, unique):
    assert error_code(lambda: client.create_experiment("")) == "INVALID_PARAMETER_VALUE"
    exp_id = client.create_experiment(f"{unique}-a")
    client.create_experiment(f"{unique}-b")
    # Refused, but with no stable code: MLflow's SQL store lets the database's unique violation
    # through as BAD_REQUEST.
    assert error_code(lambda: client.rename_experiment(exp_id, f"{unique}-b")) in {"RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"}
    assert client.get_experiment(exp_id).name == f"{unique}-a"


def test_invalid_values(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert error_code(lambda: client.log_param(run_id, "p" * 300, "v")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.log_param(run_id, "bad/../key", "v")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.set_tag(run_id, "", "v")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.search_experiments(filter_string="nope = 'x'")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.search_runs([experiment_id], max_results=50001)) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.search_runs([experiment_id], order_by=["metrics.m SIDEWAYS"])) == "INVALID_PARAMETER_VALUE"


def test_deleted_run_refuses_writes(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert error_code(lambda: client.log_metric(run_id, "m", 1.0)) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.set_tag(run_id, "t", "v")) == "INVALID_PARAMETER_VALUE"
