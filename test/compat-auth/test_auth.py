import pytest
import requests

import mlflow
from mlflow.server import get_app_client
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from conftest import ADMIN

PASSWORD = "a long enough password"


def new_user(auth_client, unique, suffix="user"):
    username = f"{unique}-{suffix}"
    user = auth_client.create_user(username, PASSWORD)
    assert user.username == username and user.is_admin is False
    return username


def test_unauthenticated_requests_are_refused(uri, as_user):
    as_user.nobody()
    with pytest.raises(MlflowException, match="You are not authenticated"):
        MlflowClient(uri).search_experiments()
    as_user.basic(ADMIN[0], "not the password")
    with pytest.raises(MlflowException, match="You are not authenticated"):
        MlflowClient(uri).search_experiments()


def test_the_client_works_with_basic_auth(uri, as_user, unique):
    as_user.admin()
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(f"{unique}-exp")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_metric(run.info.run_id, "loss", 0.5, step=1)
    client.set_terminated(run.info.run_id)
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"lr": "0.1"}
    assert fetched.data.metrics == {"loss": 0.5}
    assert fetched.info.status == "FINISHED"


def test_a_user_created_by_the_app_client_gets_only_what_is_granted(uri, as_user, auth_client, unique):
    username = new_user(auth_client, unique)
    as_user.admin()
    experiment_id = MlflowClient(uri).create_experiment(f"{unique}-shared")

    as_user.basic(username, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_experiment(experiment_id)
    assert [e.experiment_id for e in MlflowClient(uri).search_experiments(filter_string=f"name = '{unique}-shared'")] == []

    as_user.admin()
    auth_client.grant_user_permission(username, "experiment", experiment_id, "READ")
    assert auth_client.get_user_permission(username, "experiment", experiment_id).permission == "READ"

    as_user.basic(username, PASSWORD)
    client = MlflowClient(uri)
    assert client.get_experiment(experiment_id).name == f"{unique}-shared"
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name = '{unique}-shared'")] == [experiment_id]
    with pytest.raises(MlflowException):
        client.create_run(experiment_id)

    as_user.admin()
    # A second grant on the same resource is refused; changing one is revoke, then grant.
    with pytest.raises(MlflowException, match="RESOURCE_ALREADY_EXISTS"):
        auth_client.grant_user_permission(username, "experiment", experiment_id, "EDIT")
    auth_client.revoke_user_permission(username, "experiment", experiment_id)
    auth_client.grant_user_permission(username, "experiment", experiment_id, "EDIT")
    as_user.basic(username, PASSWORD)
    run = MlflowClient(uri).create_run(experiment_id)
    MlflowClient(uri).log_metric(run.info.run_id, "m", 1.0)
    with pytest.raises(MlflowException):
        MlflowClient(uri).delete_experiment(experiment_id)

    as_user.admin()
    auth_client.revoke_user_permission(username, "experiment", experiment_id)
    as_user.basic(username, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_run(run.info.run_id)


def test_the_creator_of_an_experiment_manages_it(uri, as_user, auth_client, unique):
    username = new_user(auth_client, unique)
    as_user.basic(username, PASSWORD)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(f"{unique}-mine")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("p", "1")
    client.delete_experiment(experiment_id)
    client.restore_experiment(experiment_id)
    assert client.get_run(run.info.run_id).data.params == {"p": "1"}


def test_user_management(uri, as_user, auth_client, unique):
    username = new_user(auth_client, unique)
    assert auth_client.get_user(username).username == username
    auth_client.update_user_password(username, "another long password")
    as_user.basic(username, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).search_experiments()
    as_user.basic(username, "another long password")
    MlflowClient(uri).search_experiments()
    # A user who is not an admin may not manage others, nor make themselves admin.
    with pytest.raises(MlflowException):
        get_app_client("basic-auth", tracking_uri=uri).update_user_admin(username, True)
    as_user.admin()
    auth_client.update_user_admin(username, True)
    assert auth_client.get_user(username).is_admin is True
    auth_client.delete_user(username)
    with pytest.raises(MlflowException):
        auth_client.get_user(username)


@pytest.mark.mlfleet_only
def test_the_client_works_with_a_token_and_a_revoked_token_does_not(uri, as_user, auth_client, unique):
    username = new_user(auth_client, unique)
    created = _post(f"{uri}/api/v1/tokens", {"name": "ci", "expires_in_days": 1}, (username, PASSWORD))
    token = created["token"]
    as_user.token(token)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(f"{unique}-tokened")
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_metric("m", 2.0)
    assert len(client.search_runs([experiment_id])) == 1
    _post(f"{uri}/api/v1/tokens/{created['token_id']}/revoke", {}, (username, PASSWORD))
    with pytest.raises(MlflowException, match="You are not authenticated"):
        MlflowClient(uri).search_experiments()


def _post(url, body, credentials):
    response = requests.post(url, json=body, auth=credentials, timeout=30)
    response.raise_for_status()
    return response.json()
