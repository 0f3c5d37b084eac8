"""Registered-model permissions through the stock client and its basic-auth app client: the creator
manages a model, a grant lets a user read, register versions or delete them, a model nobody
granted is hidden, a role's permission reaches the users assigned the role, and a prompt is
granted as a prompt.
"""

import pytest

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from test_auth import PASSWORD, new_user


def _version(client, name, run_id, suffix="model"):
    return client.create_model_version(name, f"s3://bucket/{name}/{suffix}", run_id=run_id)


def test_model_permissions_follow_mlflows_levels(uri, as_user, auth_client, unique):
    owner = new_user(auth_client, unique, "owner")
    reader = new_user(auth_client, unique, "reader")
    name = f"{unique}-model"

    as_user.basic(owner, PASSWORD)
    client = MlflowClient(uri)
    client.create_registered_model(name)
    experiment_id = client.create_experiment(f"{unique}-source")
    run_id = client.create_run(experiment_id).info.run_id
    assert _version(client, name, run_id).version == "1"

    # Nobody granted the reader anything: the model is out of sight.
    as_user.basic(reader, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_registered_model(name)
    assert MlflowClient(uri).search_registered_models(filter_string=f"name = '{name}'") == []
    assert MlflowClient(uri).search_model_versions(filter_string=f"name = '{name}'") == []

    # The creator manages the model, so may grant on it.
    as_user.basic(owner, PASSWORD)
    owners_client = auth_client
    owners_client.grant_user_permission(reader, "registered_model", name, "READ")

    as_user.basic(reader, PASSWORD)
    # A user may ask what they hold; READ is not "allowed" (MLflow's word for may use).
    result = auth_client.get_user_permission(reader, "registered_model", name)
    assert (result.permission, result.allowed) == ("READ", False)
    client = MlflowClient(uri)
    assert client.get_registered_model(name).name == name
    assert [m.name for m in client.search_registered_models(filter_string=f"name = '{name}'")] == [name]
    assert client.get_model_version(name, "1").version == "1"
    with pytest.raises(MlflowException):
        _version(client, name, run_id)
    with pytest.raises(MlflowException):
        client.update_registered_model(name, description="not mine")

    as_user.basic(owner, PASSWORD)
    owners_client.revoke_user_permission(reader, "registered_model", name)
    owners_client.grant_user_permission(reader, "registered_model", name, "EDIT")
    owners_client.grant_user_permission(reader, "experiment", experiment_id, "READ")
    as_user.basic(reader, PASSWORD)
    client = MlflowClient(uri)
    assert _version(client, name, run_id, "second").version == "2"
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    with pytest.raises(MlflowException):
        client.delete_model_version(name, "1")

    as_user.basic(owner, PASSWORD)
    owners_client.revoke_user_permission(reader, "registered_model", name)
    owners_client.grant_user_permission(reader, "registered_model", name, "MANAGE")
    as_user.basic(reader, PASSWORD)
    client = MlflowClient(uri)
    client.delete_model_version(name, "1")
    client.delete_registered_model(name)
    as_user.admin()
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        MlflowClient(uri).get_registered_model(name)


def test_a_version_needs_read_on_its_source_run(uri, as_user, auth_client, unique):
    editor = new_user(auth_client, unique, "editor")
    name = f"{unique}-model"
    as_user.admin()
    admin_client = MlflowClient(uri)
    admin_client.create_registered_model(name)
    run_id = admin_client.create_run(admin_client.create_experiment(f"{unique}-private")).info.run_id
    auth_client.grant_user_permission(editor, "registered_model", name, "EDIT")

    as_user.basic(editor, PASSWORD)
    with pytest.raises(MlflowException) as refused:
        _version(MlflowClient(uri), name, run_id)
    assert refused.value.error_code == "PERMISSION_DENIED"
    # Without a run it needs nothing more.
    assert MlflowClient(uri).create_model_version(name, f"s3://bucket/{name}/free").version == "1"


def test_a_roles_permission_reaches_the_users_assigned_it(uri, as_user, auth_client, unique):
    holder = new_user(auth_client, unique, "holder")
    name = f"{unique}-model"
    as_user.admin()
    MlflowClient(uri).create_registered_model(name)

    role = auth_client.create_role("default", f"{unique}-readers", description="model readers")
    assert (role.name, role.workspace, role.description) == (f"{unique}-readers", "default", "model readers")
    permission = auth_client.add_role_permission(role.id, "registered_model", name, "READ")
    assert (permission.role_id, permission.resource_type, permission.resource_pattern, permission.permission) == (role.id, "registered_model", name, "READ")

    as_user.basic(holder, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_registered_model(name)

    as_user.admin()
    assert auth_client.assign_role(holder, role.id).role_id == role.id
    as_user.basic(holder, PASSWORD)
    assert MlflowClient(uri).get_registered_model(name).name == name
    with pytest.raises(MlflowException):
        MlflowClient(uri).update_registered_model(name, description="read only")

    as_user.admin()
    fetched = auth_client.get_role(role.id)
    assert [(p.resource_type, p.resource_pattern, p.permission) for p in fetched.permissions] == [("registered_model", name, "READ")]
    assert role.id in [r.id for r in auth_client.list_roles("default")]
    assert auth_client.update_role(role.id, description="readers of one model").description == "readers of one model"
    auth_client.unassign_role(holder, role.id)
    as_user.basic(holder, PASSWORD)
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_registered_model(name)

    as_user.admin()
    auth_client.delete_role(role.id)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        auth_client.get_role(role.id)


def test_a_prompt_is_granted_as_a_prompt(uri, as_user, auth_client, unique):
    reader = new_user(auth_client, unique, "reader")
    name = f"{unique}-prompt"
    as_user.admin()
    mlflow.genai.register_prompt(name=name, template="Hello {{name}}")

    as_user.basic(reader, PASSWORD)
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}/1")

    as_user.admin()
    auth_client.grant_user_permission(reader, "prompt", name, "READ")
    as_user.basic(reader, PASSWORD)
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").template == "Hello {{name}}"
