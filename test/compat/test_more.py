"""Less travelled corners: resume, aliases and quoting in filters, NaN ordering, server-side limits,
mlflow.search_runs paging, and what deleting an experiment does to its runs."""

import math

import pytest

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def test_default_experiment(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_create_experiment_with_artifact_location(client, unique):
    exp_id = client.create_experiment(f"{unique}-loc", artifact_location="file:///tmp/compat-somewhere")
    assert client.get_experiment(exp_id).artifact_location == "file:///tmp/compat-somewhere"


def test_resume_run_and_explicit_parent(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    exp_id = mlflow.set_experiment(f"{unique}-resume").experiment_id
    with mlflow.start_run(description="the note") as parent:
        mlflow.log_params({"a": "1", "b": "2"})
        mlflow.log_metrics({"x": 1.0, "y": 2.0}, step=3)
        mlflow.set_tags({"k1": "v1", "k2": "v2"})
    first_end = client.get_run(parent.info.run_id).info.end_time
    with mlflow.start_run(run_id=parent.info.run_id) as resumed:
        assert client.get_run(resumed.info.run_id).info.status == "RUNNING"
        mlflow.log_metric("x", 5.0, step=4)
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time >= first_end
    assert run.data.params == {"a": "1", "b": "2"}
    assert run.data.metrics == {"x": 5.0, "y": 2.0}
    assert run.data.tags["k1"] == "v1" and run.data.tags["k2"] == "v2"
    assert run.data.tags["mlflow.note.content"] == "the note"

    with mlflow.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert client.get_run(child.info.run_id).info.experiment_id == exp_id


def test_fluent_search_runs_pages_through_everything(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    name = f"{unique}-many"
    exp_id = client.create_experiment(name)
    for i in range(7):
        client.create_run(exp_id, start_time=1000 + i, tags={"i": str(i)})
    runs = mlflow.search_runs(experiment_names=[name], output_format="list", max_results=5, order_by=["start_time ASC"])
    assert [r.data.tags["i"] for r in runs] == ["0", "1", "2", "3", "4"]
    everything = mlflow.search_runs(experiment_ids=[exp_id], output_format="list")
    assert len(everything) == 7
    frame = mlflow.search_runs(experiment_ids=[exp_id], filter_string="tags.i = '3'")
    assert list(frame["tags.i"]) == ["3"]


def test_filter_aliases_and_quoting(client, experiment_id):
    r1 = client.create_run(experiment_id, start_time=1000, run_name="alpha").info.run_id
    r2 = client.create_run(experiment_id, start_time=2000, run_name="beta").info.run_id
    client.log_batch(r1, metrics=[Metric("odd-key", 1.0, 1, 0), Metric("neg", -2.5, 1, 0)], params=[Param("p.q", "x")], tags=[RunTag("user-name", "Tomas")])
    client.log_batch(r2, metrics=[Metric("odd-key", 2.0, 1, 0), Metric("neg", 3e-3, 1, 0)])

    def found(flt):
        return sorted(r.info.run_id for r in client.search_runs([experiment_id], flt))

    assert found('metrics."odd-key" > 1.5') == [r2]
    assert found("metrics.`odd-key` <= 1") == [r1]
    assert found("`metrics`.neg < 0") == [r1]
    assert found("metrics.neg > -3") == sorted([r1, r2])
    assert found("metrics.neg < 1e-2 and metrics.neg > 1E-3") == [r2]
    assert found("params.p.q = 'x'") == [r1]
    assert found("tags.`user-name` = 'Tomas'") == [r1]
    assert found("tags.\"user-name\" LIKE 'Tom%'") == [r1]
    assert found("run.run_name = 'alpha'") == [r1]
    assert found("attr.run_name = 'beta'") == [r2]
    assert found("run_name = 'beta'") == [r2]
    assert found("tags.mlflow.runName = 'alpha'") == [r1]
    assert found("attributes.created >= 2000") == [r2]
    assert found("created < 2000") == [r1]
    assert found(f"attributes.run_id = '{r1}'") == [r1]
    assert found(f"attributes.artifact_uri LIKE '%{r2}%'") == [r2]
    assert found("attributes.user_id LIKE '%'") == sorted([r1, r2])
    assert found("attributes.status = 'RUNNING' AND attributes.end_time > 0") == []


def test_order_by_nan_and_ties(client, experiment_id):
    ids = {}
    for name, value, start in [("one", 1.0, 1000), ("nan", float("nan"), 2000), ("two", 2.0, 3000), ("none", None, 4000), ("one-b", 1.0, 5000)]:
        run_id = client.create_run(experiment_id, start_time=start).info.run_id
        if value is not None:
            client.log_metric(run_id, "m", value, timestamp=1, step=0)
        ids[run_id] = name

    def order(*order_by):
        return [ids[r.info.run_id] for r in client.search_runs([experiment_id], order_by=list(order_by))]

    # Ties on the key fall back to start_time DESC; NaN sorts after numbers, missing values last.
    assert order("metrics.m ASC") == ["one-b", "one", "two", "nan", "none"]
    assert order("metrics.m DESC") == ["two", "one-b", "one", "nan", "none"]
    # Paging keeps that order.
    paged, token = [], None
    while True:
        page = client.search_runs([experiment_id], order_by=["metrics.m ASC"], max_results=2, page_token=token)
        paged.extend(ids[r.info.run_id] for r in page)
        token = page.token
        if not token:
            break
    assert paged == ["one-b", "one", "two", "nan", "none"]
    nan_run = next(r for r, n in ids.items() if n == "nan")
    assert math.isnan(client.get_run(nan_run).data.metrics["m"])


def test_server_side_length_limits(client, experiment_id):
    store = client._tracking_client.store  # straight to the server, past the client's own checks
    run_id = client.create_run(experiment_id).info.run_id
    store.log_param(run_id, Param("long", "v" * 6000))
    assert len(client.get_run(run_id).data.params["long"]) == 6000
    # Longer values are cut to the limit by default (MLFLOW_TRUNCATE_LONG_VALUES on the server).
    store.log_param(run_id, Param("too-long", "v" * 6001))
    assert client.get_run(run_id).data.params["too-long"] == "v" * 6000
    with pytest.raises(MlflowException) as err:
        store.log_metric(run_id, Metric("k" * 251, 1.0, 1, 0))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    store.set_tag(run_id, RunTag("big", "t" * 8000))
    store.set_tag(run_id, RunTag("bigger", "t" * 9000))
    tags = client.get_run(run_id).data.tags
    assert len(tags["big"]) == 8000
    assert len(tags["bigger"]) == 8000


def test_deleting_an_experiment_deletes_its_runs(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)] == [run_id]
    client.restore_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_search_experiments_by_tag_and_time(client, unique):
    a = client.create_experiment(f"{unique}-a", tags={"owner": "Ann"})
    b = client.create_experiment(f"{unique}-b", tags={"owner": "bob"})
    created_a = client.get_experiment(a).creation_time

    def found(flt, **kwargs):
        return [e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{unique}-%' AND {flt}", **kwargs)]

    assert found("tags.owner ILIKE 'a%'") == [a]
    assert found("tags.owner LIKE 'b%'") == [b]
    assert found("tags.owner != 'bob'") == [a]
    assert found("attribute.name = '" + unique + "-b'") == [b]
    assert found(f"creation_time >= {created_a}", order_by=["creation_time ASC", "name ASC"]) == [a, b]
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{unique}-%'", order_by=["experiment_id ASC"])] == [a, b]
    assert found("last_update_time > 0", order_by=["last_update_time DESC", "name DESC"])[-1] in (a, b)
