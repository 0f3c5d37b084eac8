import math
import time

import pytest

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def test_fluent_runs_with_nested_children(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    exp_id = mlflow.set_experiment(f"{unique}-fluent").experiment_id
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.5)
        with mlflow.start_run(run_name="child-1", nested=True) as child1:
            mlflow.log_metric("loss", 0.4)
        with mlflow.start_run(run_name="child-2", nested=True) as child2:
            mlflow.set_tag("stage", "two")
    assert mlflow.active_run() is None

    parent_run = client.get_run(parent.info.run_id)
    assert parent_run.info.status == "FINISHED"
    assert parent_run.info.end_time is not None
    assert parent_run.info.run_name == "parent"
    assert parent_run.info.experiment_id == exp_id
    assert parent_run.data.params == {"lr": "0.1"}
    assert parent_run.data.metrics == {"loss": 0.5}
    assert "mlflow.parentRunId" not in parent_run.data.tags

    for child in (child1, child2):
        run = client.get_run(child.info.run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
    assert client.get_run(child2.info.run_id).data.tags["stage"] == "two"

    children = client.search_runs([exp_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(r.info.run_id for r in children) == sorted([child1.info.run_id, child2.info.run_id])
    assert mlflow.get_parent_run(child1.info.run_id).info.run_id == parent.info.run_id


def test_failed_fluent_run(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_experiment(f"{unique}-fail")
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as run:
            raise RuntimeError("boom")
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_create_run_fields(client, experiment_id):
    run = client.create_run(experiment_id, start_time=1_700_000_000_000, tags={"a": "b"}, run_name="named")
    info = run.info
    assert len(info.run_id) == 32
    assert info.experiment_id == experiment_id
    assert info.status == "RUNNING"
    assert info.start_time == 1_700_000_000_000
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.run_name == "named"
    assert run.data.tags["a"] == "b"
    assert run.data.tags["mlflow.runName"] == "named"
    fetched = client.get_run(info.run_id)
    assert fetched.info.run_name == "named"
    assert fetched.data.tags["mlflow.runName"] == "named"


def test_generated_run_name(client, experiment_id):
    run = client.create_run(experiment_id)
    # Servers pick different names; only that one is picked and mirrored in the tag is the contract.
    assert run.info.run_name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_params_metrics_tags(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    client.log_param(run_id, "p", "1")  # the same value again is fine
    client.log_param(run_id, "empty", "")
    with pytest.raises(MlflowException) as err:
        client.log_param(run_id, "p", "2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    client.log_metric(run_id, "m", 1.0, timestamp=1000, step=0)
    client.log_metric(run_id, "m", 3.0, timestamp=1000, step=2)
    client.log_metric(run_id, "m", 2.0, timestamp=1000, step=1)
    client.set_tag(run_id, "t", "x")
    client.set_tag(run_id, "t", "y")
    client.set_tag(run_id, "gone", "soon")
    client.delete_tag(run_id, "gone")
    client.set_tag(run_id, "empty", "")

    data = client.get_run(run_id).data
    assert data.params == {"p": "1", "empty": ""}
    assert data.metrics == {"m": 3.0}  # the value at the highest step
    assert data.tags["t"] == "y"
    assert data.tags["empty"] == ""
    assert "gone" not in data.tags

    with pytest.raises(MlflowException) as err:
        client.delete_tag(run_id, "never-set")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_latest_metric_is_max_step_then_timestamp(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "m", 5.0, timestamp=2000, step=1)
    client.log_metric(run_id, "m", 7.0, timestamp=1000, step=1)
    client.log_metric(run_id, "m", 9.0, timestamp=9000, step=0)
    assert client.get_run(run_id).data.metrics["m"] == 5.0


def test_metric_history(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for step in range(5):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=1000 + step, step=step)
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value, m.timestamp) for m in history) == [
        (s, 1.0 / (s + 1), 1000 + s) for s in range(5)
    ]
    assert all(m.key == "loss" for m in history)
    assert client.get_metric_history(run_id, "no-such-metric") == []


def test_nan_and_infinity(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"), timestamp=1, step=0)
    client.log_metric(run_id, "pinf", float("inf"), timestamp=1, step=0)
    client.log_metric(run_id, "ninf", float("-inf"), timestamp=1, step=0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    # SQL stores clamp infinities to the largest finite double; either reading is MLflow's.
    assert metrics["pinf"] >= 1.7976931348623157e308
    assert metrics["ninf"] <= -1.7976931348623157e308
    history = client.get_metric_history(run_id, "nan")
    assert len(history) == 1 and math.isnan(history[0].value)


def test_log_batch(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("acc", 0.1 * i, now + i, i) for i in range(10)],
        params=[Param("a", "1"), Param("b", "2")],
        tags=[RunTag("t", "v")],
    )
    data = client.get_run(run_id).data
    assert data.params == {"a": "1", "b": "2"}
    assert data.metrics == {"acc": pytest.approx(0.9)}
    assert data.tags["t"] == "v"
    assert len(client.get_metric_history(run_id, "acc")) == 10


def test_log_batch_limits(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    store = client._tracking_client.store  # the REST store sends one request, unchunked
    too_many_metrics = [Metric("m", float(i), i, i) for i in range(1001)]
    too_many_params = [Param(f"p{i}", "v") for i in range(101)]
    too_many_tags = [RunTag(f"t{i}", "v") for i in range(101)]
    for kwargs in ({"metrics": too_many_metrics}, {"params": too_many_params}, {"tags": too_many_tags}):
        args = {"metrics": [], "params": [], "tags": [], **kwargs}
        with pytest.raises(MlflowException) as err:
            store.log_batch(run_id, **args)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "A batch logging request can contain at most" in err.value.message
    assert client.get_run(run_id).data.params == {}

    # The client itself chunks large batches to the limits.
    client.log_batch(run_id, metrics=too_many_metrics, params=too_many_params, tags=too_many_tags)
    data = client.get_run(run_id).data
    assert len(data.params) == 101
    assert len(client.get_metric_history(run_id, "m")) == 1001


def test_log_batch_duplicate_and_changed_params(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, params=[Param("k", "1")])
    with pytest.raises(MlflowException) as err:
        client.log_batch(run_id, params=[Param("k", "2")])
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.log_batch(run_id, params=[Param("d", "1"), Param("d", "1")])
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_set_terminated_and_update(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id, status="KILLED", end_time=1_800_000_000_000)
    info = client.get_run(run_id).info
    assert info.status == "KILLED"
    assert info.end_time == 1_800_000_000_000
    client.update_run(run_id, name="renamed")
    run = client.get_run(run_id)
    assert run.info.run_name == "renamed"
    assert run.data.tags["mlflow.runName"] == "renamed"


def test_delete_and_restore_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    with pytest.raises(MlflowException) as err:
        client.log_param(run_id, "p", "1")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]


def test_runs_of_deleted_experiment(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException):
        client.create_run(experiment_id)
    client.restore_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
