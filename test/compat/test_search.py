import pytest

from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


@pytest.fixture
def runs(client, experiment_id):
    """Four runs with known data; returns (experiment_id, {name: run_id})."""
    spec = {
        "r1": {"start": 1000, "metrics": {"acc": 0.9, "loss": 0.3}, "params": {"model": "LogReg", "lr": "0.1"}, "tags": {"team": "red", "odd key": "x", "size": "small"}},
        "r2": {"start": 2000, "metrics": {"acc": 0.7}, "params": {"model": "tree", "lr": "0.2"}, "tags": {"team": "blue", "size": "large"}},
        "r3": {"start": 3000, "metrics": {"acc": 0.8, "loss": 0.1}, "params": {"model": "logreg-v2"}, "tags": {"team": "Red", "size": "medium"}},
        "r4": {"start": 4000, "metrics": {}, "params": {}, "tags": {}},
    }
    ids = {}
    for name, s in spec.items():
        run = client.create_run(experiment_id, start_time=s["start"], run_name=name)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, 1, 0) for k, v in s["metrics"].items()],
            params=[Param(k, v) for k, v in s["params"].items()],
            tags=[RunTag(k, v) for k, v in s["tags"].items()],
        )
        ids[name] = run.info.run_id
    client.set_terminated(ids["r2"], status="FAILED", end_time=2500)
    client.set_terminated(ids["r3"], status="FINISHED", end_time=3500)
    return experiment_id, ids


def names(found, ids):
    by_id = {v: k for k, v in ids.items()}
    return [by_id[r.info.run_id] for r in found]


def search(client, exp, flt="", **kwargs):
    return client.search_runs([exp], filter_string=flt, **kwargs)


def test_default_order_is_start_time_desc(client, runs):
    exp, ids = runs
    assert names(search(client, exp), ids) == ["r4", "r3", "r2", "r1"]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("metrics.acc > 0.75", ["r1", "r3"]),
        ("metrics.acc >= 0.8", ["r1", "r3"]),
        ("metrics.acc < 0.8", ["r2"]),
        ("metrics.acc <= 0.8", ["r2", "r3"]),
        ("metrics.acc = 0.7", ["r2"]),
        ("metrics.acc != 0.7", ["r1", "r3"]),
        ("metric.loss < 1", ["r1", "r3"]),  # runs without the metric never match
        ("metrics.loss != 0.1", ["r1"]),
        ("params.model = 'tree'", ["r2"]),
        ('params.model = "tree"', ["r2"]),
        ("params.model != 'tree'", ["r1", "r3"]),
        ("params.model LIKE 'Log%'", ["r1"]),
        ("params.model ILIKE 'log%'", ["r1", "r3"]),
        ("params.model LIKE '%re_'", ["r2"]),
        ("param.lr = '0.1'", ["r1"]),
        ("parameters.lr != '0.1'", ["r2"]),
        ("tags.team = 'red'", ["r1"]),
        ("tags.team ILIKE 'red'", ["r1", "r3"]),
        ("tags.team LIKE 'R%'", ["r3"]),
        ("tags.team != 'red'", ["r2", "r3"]),
        ('tags."odd key" = \'x\'', ["r1"]),
        ("tags.`odd key` = 'x'", ["r1"]),
        ("attributes.status = 'FAILED'", ["r2"]),
        ("status = 'FINISHED'", ["r3"]),
        ("attributes.status != 'RUNNING'", ["r2", "r3"]),
        ("attributes.run_name = 'r2'", ["r2"]),
        ("attributes.run_name LIKE 'r%'", ["r1", "r2", "r3", "r4"]),
        ("attributes.run_name ILIKE 'R1'", ["r1"]),
        ("attributes.start_time > 2000", ["r3", "r4"]),
        ("attributes.start_time >= 2000", ["r2", "r3", "r4"]),
        ("attributes.start_time <= 2000", ["r1", "r2"]),
        ("attributes.start_time = 3000", ["r3"]),
        ("attributes.start_time != 3000", ["r1", "r2", "r4"]),
        ("attributes.end_time < 3000", ["r2"]),
        ("metrics.acc > 0.5 AND params.model ILIKE 'log%' and tags.team = 'Red'", ["r3"]),
        ("metrics.acc > 0.95", []),
    ],
)
def test_filters(client, runs, flt, expected):
    exp, ids = runs
    assert sorted(names(search(client, exp, flt), ids)) == expected


def test_run_id_in_and_not_in(client, runs):
    exp, ids = runs
    found = search(client, exp, f"attributes.run_id IN ('{ids['r1']}', '{ids['r3']}')")
    assert sorted(names(found, ids)) == ["r1", "r3"]
    found = search(client, exp, f"attributes.run_id NOT IN ('{ids['r1']}')")
    assert sorted(names(found, ids)) == ["r2", "r3", "r4"]
    found = search(client, exp, f"attributes.run_id = '{ids['r2']}'")
    assert names(found, ids) == ["r2"]


def test_order_by(client, runs):
    exp, ids = runs
    assert names(search(client, exp, order_by=["metrics.acc ASC"]), ids) == ["r2", "r3", "r1", "r4"]
    assert names(search(client, exp, order_by=["metrics.acc DESC"]), ids) == ["r1", "r3", "r2", "r4"]
    # Missing values sort last either way.
    assert names(search(client, exp, order_by=["metrics.loss"]), ids)[:2] == ["r3", "r1"]
    assert names(search(client, exp, order_by=["metrics.loss DESC"]), ids)[:2] == ["r1", "r3"]
    assert names(search(client, exp, order_by=["params.model ASC"]), ids)[:3] == ["r1", "r3", "r2"]
    assert names(search(client, exp, order_by=["tags.size DESC"]), ids)[:3] == ["r1", "r3", "r2"]
    assert names(search(client, exp, order_by=["attributes.start_time ASC"]), ids) == ["r1", "r2", "r3", "r4"]
    assert names(search(client, exp, order_by=["attributes.run_name DESC"]), ids) == ["r4", "r3", "r2", "r1"]
    assert names(search(client, exp, "metrics.acc > 0", order_by=["attributes.status ASC", "start_time ASC"]), ids) == [
        "r2",
        "r3",
        "r1",
    ]


def test_paging(client, runs):
    exp, ids = runs
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([exp], max_results=3, page_token=token, order_by=["attributes.start_time ASC"])
        pages += 1
        seen.extend(names(page, ids))
        token = page.token
        if not token:
            break
    assert seen == ["r1", "r2", "r3", "r4"]
    assert pages == 2
    assert search(client, exp, max_results=10).token is None


def test_search_several_experiments_and_view_types(client, runs, unique):
    exp, ids = runs
    other = client.create_experiment(f"{unique}-other")
    other_run = client.create_run(other, start_time=5000).info.run_id
    found = client.search_runs([exp, other], order_by=["attributes.start_time DESC"])
    assert [r.info.run_id for r in found][:2] == [other_run, ids["r4"]]
    assert len(found) == 5
    client.delete_run(ids["r1"])
    assert sorted(names(search(client, exp), ids)) == ["r2", "r3", "r4"]
    assert names(search(client, exp, run_view_type=ViewType.DELETED_ONLY), ids) == ["r1"]
    assert len(search(client, exp, run_view_type=ViewType.ALL)) == 4


@pytest.mark.parametrize(
    "flt",
    [
        "metrics.acc > 'a'",
        "params.model = tree",
        "foo.bar = 'x'",
        "attributes.nope = 'x'",
        "params.model > 'a'",
        "attributes.run_name IN ('a', 'b')",
        "metrics.acc > 0.1 OR metrics.acc < 0.1",
    ],
)
def test_bad_filters_are_invalid_parameter_value(client, runs, flt):
    exp, _ = runs
    with pytest.raises(MlflowException) as err:
        search(client, exp, flt)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_bad_page_token(client, runs):
    exp, _ = runs
    with pytest.raises(MlflowException) as err:
        client.search_runs([exp], page_token="not-a-token")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
