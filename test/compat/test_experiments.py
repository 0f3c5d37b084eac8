import pytest

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException


def test_create_get_by_id_and_name(client, unique):
    name = f"{unique}-a"
    exp_id = client.create_experiment(name, tags={"team": "core"})
    assert isinstance(exp_id, str) and exp_id.isdigit()
    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags["team"] == "core"
    assert exp.creation_time is not None and exp.creation_time > 0
    by_name = client.get_experiment_by_name(name)
    assert by_name.experiment_id == exp_id
    assert client.get_experiment_by_name(f"{unique}-missing") is None


def test_duplicate_name_is_resource_already_exists(client, unique):
    client.create_experiment(f"{unique}-dup")
    with pytest.raises(MlflowException) as err:
        client.create_experiment(f"{unique}-dup")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_rename(client, unique):
    exp_id = client.create_experiment(f"{unique}-old")
    client.rename_experiment(exp_id, f"{unique}-new")
    assert client.get_experiment(exp_id).name == f"{unique}-new"
    assert client.get_experiment_by_name(f"{unique}-old") is None
    assert client.get_experiment_by_name(f"{unique}-new").experiment_id == exp_id


def test_delete_and_restore(client, unique):
    exp_id = client.create_experiment(f"{unique}-del")
    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # A deleted experiment is still found by name, and its name stays taken.
    assert client.get_experiment_by_name(f"{unique}-del").lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as err:
        client.create_experiment(f"{unique}-del")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_experiment_tags(client, unique):
    exp_id = client.create_experiment(f"{unique}-tags")
    client.set_experiment_tag(exp_id, "k", "v1")
    client.set_experiment_tag(exp_id, "k", "v2")
    assert client.get_experiment(exp_id).tags["k"] == "v2"
    client.delete_experiment_tag(exp_id, "k")
    assert "k" not in client.get_experiment(exp_id).tags


def test_search_filter_order_and_view_type(client, unique):
    ids = {}
    for suffix in ["b", "a", "c"]:
        ids[suffix] = client.create_experiment(f"{unique}-{suffix}", tags={"letter": suffix})
    client.delete_experiment(ids["c"])

    active = client.search_experiments(filter_string=f"name LIKE '{unique}-%'", order_by=["name ASC"])
    assert [e.name for e in active] == [f"{unique}-a", f"{unique}-b"]

    desc = client.search_experiments(filter_string=f"name LIKE '{unique}-%'", order_by=["name DESC"])
    assert [e.name for e in desc] == [f"{unique}-b", f"{unique}-a"]

    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{unique}-%'")
    assert [e.experiment_id for e in deleted] == [ids["c"]]

    everything = client.search_experiments(
        view_type=ViewType.ALL, filter_string=f"name LIKE '{unique}-%'", order_by=["name ASC"]
    )
    assert [e.name for e in everything] == [f"{unique}-a", f"{unique}-b", f"{unique}-c"]

    by_tag = client.search_experiments(filter_string=f"name LIKE '{unique}-%' AND tags.letter = 'b'")
    assert [e.experiment_id for e in by_tag] == [ids["b"]]

    ilike = client.search_experiments(filter_string=f"name ILIKE '{unique.upper()}-A'")
    assert [e.experiment_id for e in ilike] == [ids["a"]]

    exact = client.search_experiments(filter_string=f"name = '{unique}-b'")
    assert [e.experiment_id for e in exact] == [ids["b"]]

    # Default order: newest first (creation time descending, then id).
    default = client.search_experiments(filter_string=f"name LIKE '{unique}-%'")
    assert [e.experiment_id for e in default] == [ids["a"], ids["b"]]


def test_search_paging(client, unique):
    names = [f"{unique}-{i}" for i in range(5)]
    for name in names:
        client.create_experiment(name)
    seen = []
    token = None
    pages = 0
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{unique}-%'", order_by=["name ASC"], max_results=2, page_token=token
        )
        pages += 1
        seen.extend(e.name for e in page)
        token = page.token
        if not token:
            break
    assert seen == names
    assert pages == 3
    one_page = client.search_experiments(filter_string=f"name LIKE '{unique}-%'", max_results=10)
    assert len(one_page) == 5
    assert one_page.token is None
