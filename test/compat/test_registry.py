"""The model registry: register_model from a run's logged sklearn model, loading a version by
number, alias, stage and `latest`, aliases, tags, descriptions, renames, the two searches (filters,
order_by, paging), deletes, download URIs, and the error of each bad call."""

import json

import numpy as np
import pytest

import mlflow
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

# Explicit requirements skip the client's requirement inference (a subprocess per model).
SKLEARN_REQUIREMENTS = ["scikit-learn"]
SOURCE = "s3://compat-registry/model"

# Stages are deprecated in the client, and still served by MLflow's server.
pytestmark = pytest.mark.filterwarnings("ignore:.*Model registry stages will be removed:FutureWarning")


@pytest.fixture
def tracking(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    return mlflow.set_experiment(f"{unique}-registry").experiment_id


def _error(call):
    """The MlflowException a call raises, as (error code, the server's message)."""
    with pytest.raises(MlflowException) as caught:
        call()
    code = caught.value.error_code
    return code, caught.value.message.removeprefix(f"{code}: ")


def _model_with_versions(client, name, count, **kwargs):
    """A registered model with `count` versions of a plain source (no logged model needed)."""
    client.create_registered_model(name, **kwargs)
    return [client.create_model_version(name, f"{SOURCE}/{i}", run_id=None) for i in range(count)]


def test_register_a_logged_model_and_load_it_by_number_alias_stage_and_latest(client, tracking, unique):
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]])
    model = LogisticRegression().fit(x, np.array([0, 1, 0, 1]))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="clf", pip_requirements=SKLEARN_REQUIREMENTS)
    name = f"{unique}-clf"

    first = mlflow.register_model(f"runs:/{run.info.run_id}/clf", name)
    second = mlflow.register_model(f"runs:/{run.info.run_id}/clf", name)
    assert (first.version, second.version) == ("1", "2")
    version = client.get_model_version(name, "1")
    assert (version.source, version.run_id, version.current_stage, version.status) == (f"models:/{info.model_id}", run.info.run_id, "None", "READY")
    logged = client.get_logged_model(info.model_id)
    assert client.get_model_version_download_uri(name, "1") == logged.artifact_location
    # The server and the client both append the new version to the logged model's tag.
    linked = {(entry["name"], str(entry["version"])) for entry in json.loads(logged.tags["mlflow.modelVersions"])}
    assert linked == {(name, "1"), (name, "2")}

    expected = model.predict(x)
    assert (mlflow.sklearn.load_model(f"models:/{name}/1").predict(x) == expected).all()
    client.set_registered_model_alias(name, "champion", "2")
    assert (mlflow.sklearn.load_model(f"models:/{name}@champion").predict(x) == expected).all()
    client.transition_model_version_stage(name, "1", "Production")
    assert (mlflow.pyfunc.load_model(f"models:/{name}/Production").predict(x) == expected).all()
    assert (mlflow.sklearn.load_model(f"models:/{name}/latest").predict(x) == expected).all()
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["1"]

    registered = client.get_registered_model(name)
    assert registered.aliases == {"champion": "2"}
    assert sorted((v.version, v.current_stage) for v in registered.latest_versions) == [("1", "Production"), ("2", "None")]


def test_aliases_are_set_moved_and_deleted(client, tracking, unique):
    name = f"{unique}-aliases"
    _model_with_versions(client, name, 3)
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "1")
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert (by_alias.version, sorted(by_alias.aliases)) == ("1", ["challenger", "champion"])

    client.set_registered_model_alias(name, "champion", "3")
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    assert client.get_model_version(name, "1").aliases == ["challenger"]
    assert client.get_registered_model(name).aliases == {"champion": "3", "challenger": "1"}

    client.delete_registered_model_alias(name, "challenger")
    assert client.get_model_version(name, "1").aliases == []
    assert _error(lambda: client.get_model_version_by_alias(name, "challenger")) == (
        "INVALID_PARAMETER_VALUE",
        "Registered model alias challenger not found.",
    )
    # Deleting a version takes its aliases with it.
    client.delete_model_version(name, "3")
    assert client.get_registered_model(name).aliases == {}


def test_tags_and_descriptions_of_models_and_versions(client, tracking, unique):
    name = f"{unique}-tags"
    client.create_registered_model(name, tags={"team": "search", "tier": "1"}, description="first words")
    client.create_model_version(name, SOURCE, tags={"data": "v1"}, description="version words")

    client.set_registered_model_tag(name, "tier", "2")
    client.delete_registered_model_tag(name, "team")
    client.update_registered_model(name, description="second words")
    registered = client.get_registered_model(name)
    assert (registered.tags, registered.description) == ({"tier": "2"}, "second words")

    client.set_model_version_tag(name, "1", "checked", "yes")
    client.delete_model_version_tag(name, "1", "data")
    client.update_model_version(name, "1", description="new version words")
    version = client.get_model_version(name, "1")
    assert (version.tags, version.description) == ({"checked": "yes"}, "new version words")


def test_rename_carries_versions_tags_and_aliases(client, tracking, unique):
    name, new_name = f"{unique}-old", f"{unique}-new"
    _model_with_versions(client, name, 2, tags={"k": "v"})
    client.set_model_version_tag(name, "2", "vk", "vv")
    client.set_registered_model_alias(name, "prod", "2")

    client.rename_registered_model(name, new_name)
    moved = client.get_registered_model(new_name)
    assert (moved.tags, moved.aliases) == ({"k": "v"}, {"prod": "2"})
    version = client.get_model_version(new_name, "2")
    assert (version.name, version.tags, version.aliases) == (new_name, {"vk": "vv"}, ["prod"])
    assert client.get_model_version_by_alias(new_name, "prod").version == "2"
    assert _error(lambda: client.get_registered_model(name)) == ("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
    # The numbering continues under the new name.
    assert client.create_model_version(new_name, SOURCE).version == "3"


def test_search_registered_models_filters_orders_and_pages(client, tracking, unique):
    for suffix, team in (("a", "red"), ("b", "blue"), ("c", "red"), ("d", None)):
        client.create_registered_model(f"{unique}-{suffix}", tags={"team": team} if team else None)
    names = lambda models: [m.name for m in models]  # noqa: E731
    prefix = f"name LIKE '{unique}-%'"

    assert names(client.search_registered_models(filter_string=prefix)) == [f"{unique}-{s}" for s in "abcd"]
    assert names(client.search_registered_models(filter_string=f"{prefix} AND tags.team = 'red'")) == [f"{unique}-a", f"{unique}-c"]
    assert names(client.search_registered_models(filter_string=f"name = '{unique}-b'")) == [f"{unique}-b"]
    assert names(client.search_registered_models(filter_string=f"name ILIKE '{unique.upper()}-B'")) == [f"{unique}-b"]
    assert names(client.search_registered_models(filter_string=f"{prefix} AND name != '{unique}-a' AND tags.team LIKE 'r%'")) == [f"{unique}-c"]
    assert names(client.search_registered_models(filter_string=prefix, order_by=["name DESC"])) == [f"{unique}-{s}" for s in "dcba"]

    first = client.search_registered_models(filter_string=prefix, max_results=3)
    assert names(first) == [f"{unique}-{s}" for s in "abc"] and first.token
    rest = client.search_registered_models(filter_string=prefix, max_results=3, page_token=first.token)
    assert names(rest) == [f"{unique}-d"] and not rest.token

    client.update_registered_model(f"{unique}-b", description="touched last")
    assert names(client.search_registered_models(filter_string=prefix, order_by=["last_updated_timestamp DESC"]))[0] == f"{unique}-b"


def test_search_model_versions_filters_orders_and_pages(client, tracking, unique):
    name, other = f"{unique}-m", f"{unique}-other"
    _model_with_versions(client, name, 4)
    client.create_registered_model(other)
    client.create_model_version(other, f"{SOURCE}/other", tags={"kind": "odd"})
    client.set_model_version_tag(name, "3", "kind", "odd")
    versions = lambda found: [(v.name, v.version) for v in found]  # noqa: E731

    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert versions(found) == [(name, "1"), (name, "2"), (name, "3"), (name, "4")]
    assert versions(client.search_model_versions(f"name = '{name}' AND version_number >= 3")) == [(name, "4"), (name, "3")]
    assert versions(client.search_model_versions(f"name LIKE '{unique}-%' AND tags.kind = 'odd'", order_by=["name"])) == [(name, "3"), (other, "1")]
    assert versions(client.search_model_versions(f"source_path = '{SOURCE}/1' AND name = '{name}'")) == [(name, "2")]
    assert versions(client.search_model_versions(f"name IN ('{name}', '{other}') AND version_number = 1", order_by=["name DESC"])) == [(other, "1"), (name, "1")]

    first = client.search_model_versions(f"name = '{name}'", max_results=3, order_by=["version_number DESC"])
    assert versions(first) == [(name, "4"), (name, "3"), (name, "2")] and first.token
    rest = client.search_model_versions(f"name = '{name}'", max_results=3, order_by=["version_number DESC"], page_token=first.token)
    assert versions(rest) == [(name, "1")] and not rest.token


def test_search_model_versions_by_run(client, tracking, unique):
    name = f"{unique}-runs"
    client.create_registered_model(name)
    with mlflow.start_run() as first, mlflow.start_run(nested=True) as second:
        pass
    for run in (first, second, first):
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    found = client.search_model_versions(f"run_id = '{first.info.run_id}'", order_by=["version_number"])
    assert [v.version for v in found] == ["1", "3"]
    both = client.search_model_versions(f"run_id IN ('{first.info.run_id}', '{second.info.run_id}')", order_by=["version_number"])
    assert [v.version for v in both] == ["1", "2", "3"]


def test_deleted_versions_keep_their_numbers_and_deleted_models_are_gone(client, tracking, unique):
    name = f"{unique}-deletes"
    _model_with_versions(client, name, 2)
    client.delete_model_version(name, "2")
    assert _error(lambda: client.get_model_version(name, "2")) == ("RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version=2) not found")
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1"]
    assert client.create_model_version(name, SOURCE).version == "3"
    assert client.get_model_version_download_uri(name, "3") == SOURCE

    client.delete_registered_model(name)
    assert _error(lambda: client.get_registered_model(name)) == ("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
    assert client.search_model_versions(f"name = '{name}'") == []


def test_errors_of_bad_calls(client, tracking, unique):
    name = f"{unique}-errors"
    _model_with_versions(client, name, 1)
    missing = f"{unique}-missing"
    assert _error(lambda: client.get_registered_model(missing)) == ("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={missing} not found")
    assert _error(lambda: client.get_model_version(name, "7")) == ("RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version=7) not found")
    assert _error(lambda: client.create_model_version(missing, SOURCE)) == ("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={missing} not found")
    assert _error(lambda: client.create_registered_model(name)) == ("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.")
    assert _error(lambda: client.transition_model_version_stage(name, "1", "Bogus")) == (
        "INVALID_PARAMETER_VALUE",
        "Invalid Model Version stage: Bogus. Value must be one of None, Staging, Production, Archived.",
    )
    assert _error(lambda: client.set_registered_model_alias(name, "latest", "1")) == (
        "INVALID_PARAMETER_VALUE",
        "'latest' alias name (case insensitive) is reserved.",
    )
    assert _error(lambda: client.set_registered_model_alias(name, "v3", "1")) == ("INVALID_PARAMETER_VALUE", "Version alias name 'v3' is reserved.")
    assert _error(lambda: client.set_registered_model_alias(name, "champion", "5")) == (
        "RESOURCE_DOES_NOT_EXIST",
        f"Model Version (name={name}, version=5) not found",
    )
    code, _ = _error(lambda: client.search_registered_models(filter_string="name > 'a'"))
    assert code == "INVALID_PARAMETER_VALUE"
    code, _ = _error(lambda: client.search_model_versions("version_number LIKE '1'"))
    assert code == "INVALID_PARAMETER_VALUE"
