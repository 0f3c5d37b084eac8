"""The prompt registry, which rides on the model registry: register_prompt (text and chat), load_prompt
by version, by alias and as the latest version, prompt tags, searches that show prompts only when
asked, and the errors of loading a missing prompt or giving a prompt a model's name."""

import pytest

import mlflow
from mlflow.exceptions import MlflowException


@pytest.fixture
def tracking(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    return mlflow.set_experiment(f"{unique}-prompts").experiment_id


def _error(call):
    """The MlflowException a call raises, as (error code, the server's message)."""
    with pytest.raises(MlflowException) as caught:
        call()
    code = caught.value.error_code
    return code, caught.value.message.removeprefix(f"{code}: ")


def test_register_and_load_by_version_alias_and_latest(tracking, unique):
    name = f"{unique}-greeting"
    first = mlflow.genai.register_prompt(name=name, template="Hello {{name}}!", commit_message="first", tags={"lang": "en"})
    second = mlflow.genai.register_prompt(name=name, template="Hi {{name}}, welcome.", commit_message="friendlier")
    assert (first.version, second.version) == (1, 2)

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    assert (loaded.template, loaded.commit_message, loaded.tags.get("lang")) == ("Hello {{name}}!", "first", "en")
    assert loaded.format(name="Ada") == "Hello Ada!"
    assert mlflow.genai.load_prompt(name, version=2, cache_ttl_seconds=0).template == "Hi {{name}}, welcome."

    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0).version == 1
    assert mlflow.genai.load_prompt(f"prompts:/{name}@latest", cache_ttl_seconds=0).version == 2
    mlflow.genai.set_prompt_alias(name, alias="production", version=2)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0).version == 2
    mlflow.genai.delete_prompt_alias(name, alias="production")
    assert _error(lambda: mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0))[0] == "INVALID_PARAMETER_VALUE"


def test_chat_prompts_and_prompt_tags(tracking, unique):
    name = f"{unique}-chat"
    template = [{"role": "system", "content": "You answer in {{style}}."}, {"role": "user", "content": "{{question}}"}]
    mlflow.genai.register_prompt(name=name, template=template, commit_message="chat")
    loaded = mlflow.genai.load_prompt(name, version=1, cache_ttl_seconds=0)
    assert loaded.template == template
    assert loaded.format(style="haiku", question="Why?") == [
        {"role": "system", "content": "You answer in haiku."},
        {"role": "user", "content": "Why?"},
    ]
    mlflow.genai.set_prompt_tag(name, "owner", "search")
    # The client also tags a prompt with the experiments it was registered from, in the background.
    assert mlflow.genai.get_prompt_tags(name)["owner"] == "search"
    mlflow.genai.delete_prompt_tag(name, "owner")
    assert "owner" not in mlflow.genai.get_prompt_tags(name)


def test_searches_show_prompts_only_when_asked(client, tracking, unique):
    prompt, model = f"{unique}-prompt", f"{unique}-model"
    mlflow.genai.register_prompt(name=prompt, template="Summarize {{text}}")
    client.create_registered_model(model)
    client.create_model_version(model, "s3://compat-prompts/model")
    everything = f"name LIKE '{unique}-%'"

    assert [m.name for m in client.search_registered_models(filter_string=everything)] == [model]
    assert [v.name for v in client.search_model_versions(everything)] == [model]
    assert [p.name for p in mlflow.genai.search_prompts(filter_string=everything)] == [prompt]
    asked = client.search_registered_models(filter_string=f"{everything} AND tags.`mlflow.prompt.is_prompt` = 'true'")
    assert [m.name for m in asked] == [prompt]


def test_errors_of_prompts(client, tracking, unique):
    missing = f"{unique}-missing"
    assert mlflow.genai.load_prompt(missing, version=1, allow_missing=True, cache_ttl_seconds=0) is None
    code, _ = _error(lambda: mlflow.genai.load_prompt(f"prompts:/{missing}/1", cache_ttl_seconds=0))
    assert code == "RESOURCE_DOES_NOT_EXIST"

    model = f"{unique}-taken"
    client.create_registered_model(model)
    assert _error(lambda: mlflow.genai.register_prompt(name=model, template="x")) == (
        "INVALID_PARAMETER_VALUE",
        f"Model '{model}' exists with the same name. MLflow does not allow registering a prompt with the same name as an existing model. "
        "Please choose a different name for the prompt.",
    )
