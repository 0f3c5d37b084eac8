"""MLflow 3 logged models: log_model with a signature and an input example, loading by runs:/ and
models:/m-…, the model's params and metrics, search_logged_models (filter, order_by, paging), tags,
deletion, and the error of each bad call."""

import numpy as np
import pandas as pd
import pytest

import mlflow
from mlflow.entities import LoggedModelStatus, Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

# Explicit requirements skip the client's requirement inference (a subprocess per model).
SKLEARN_REQUIREMENTS = ["scikit-learn"]
MISSING_MODEL = "m-" + "0" * 32


@pytest.fixture
def tracking(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    return mlflow.set_experiment(f"{unique}-models").experiment_id


def _classifier():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]])
    return LogisticRegression().fit(x, np.array([0, 1, 0, 1])), x


def _error(call):
    """The MlflowException a call raises, as (error code, the server's message)."""
    with pytest.raises(MlflowException) as caught:
        call()
    code = caught.value.error_code
    return code, caught.value.message.removeprefix(f"{code}: ")


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def test_sklearn_log_model_records_a_logged_model_and_loads_both_ways(client, tracking):
    model, x = _classifier()
    with mlflow.start_run() as run:
        mlflow.log_param("C", "1.0")
        mlflow.log_metric("acc", 0.75, step=0)
        info = mlflow.sklearn.log_model(
            model,
            name="clf",
            signature=infer_signature(x, model.predict(x)),
            input_example=x[:2],
            pip_requirements=SKLEARN_REQUIREMENTS,
        )
    run_id = run.info.run_id
    assert info.model_id.startswith("m-") and len(info.model_id) == 34

    logged = client.get_logged_model(info.model_id)
    assert logged.status == LoggedModelStatus.READY
    assert (logged.name, logged.experiment_id, logged.source_run_id) == ("clf", tracking, run_id)
    assert logged.artifact_location.endswith(f"/{tracking}/models/{info.model_id}/artifacts")
    assert logged.params == {"C": "1.0"}
    # The run's metrics at the model's step are copied to the model.
    assert [(m.key, m.value, m.step, m.run_id, m.model_id) for m in logged.metrics] == [("acc", 0.75, 0, run_id, info.model_id)]
    assert logged.tags.get("mlflow.source.type") is not None

    outputs = client.get_run(run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(info.model_id, 0)]
    names = sorted(a.path for a in client.list_logged_model_artifacts(info.model_id))
    assert {"MLmodel", "input_example.json", "requirements.txt"} <= set(names)

    for uri in (f"runs:/{run_id}/clf", f"models:/{info.model_id}"):
        loaded = mlflow.sklearn.load_model(uri)
        assert (loaded.predict(x) == model.predict(x)).all()
    pyfunc = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert pyfunc.metadata.signature == infer_signature(x, model.predict(x))
    assert pyfunc.metadata.model_id == info.model_id


def test_pyfunc_log_model_with_signature_and_input_example(client, tracking):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="doubler",
            python_model=Doubler(),
            signature=infer_signature(frame, frame * 2),
            input_example=frame,
            pip_requirements=["pandas"],
        )
    logged = client.get_logged_model(info.model_id)
    assert logged.status == LoggedModelStatus.READY and logged.source_run_id == run.info.run_id
    for uri in (f"runs:/{run.info.run_id}/doubler", f"models:/{info.model_id}"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert loaded.predict(frame).equals(frame * 2)
        assert loaded.metadata.get_input_schema().input_names() == ["a", "b"]
    example = mlflow.models.Model.load(f"models:/{info.model_id}").load_input_example(
        mlflow.artifacts.download_artifacts(f"models:/{info.model_id}")
    )
    assert example.equals(frame)


def test_log_metric_with_model_id_and_dataset(client, tracking):
    model = client.create_logged_model(tracking, name="scored")
    assert model.status == LoggedModelStatus.PENDING
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5, step=1, model_id=model.model_id)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", 0.25, 1000, 2, model_id=model.model_id, dataset_name="eval", dataset_digest="abc123")],
        )
    # The run gets the point as any other metric, and names the model among its inputs.
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.metrics == {"loss": 0.25}
    assert [m.model_id for m in fetched.inputs.model_inputs] == [model.model_id]
    points = sorted((m.key, m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id) for m in client.get_logged_model(model.model_id).metrics)
    assert points == [("loss", 0.25, 2, "eval", "abc123", run.info.run_id), ("loss", 0.5, 1, None, None, run.info.run_id)]


def test_create_finalize_tags_params_and_delete(client, tracking):
    run_id = client.create_run(tracking).info.run_id
    model = client.create_logged_model(tracking, name="hand-made", source_run_id=run_id, tags={"team": "a"}, params={"lr": "0.1"}, model_type="agent")
    assert (model.name, model.source_run_id, model.model_type) == ("hand-made", run_id, "agent")
    assert model.tags == {"team": "a"} and model.params == {"lr": "0.1"}
    assert model.creation_timestamp == model.last_updated_timestamp

    client.log_model_params(model.model_id, {"epochs": "3"})
    client.set_logged_model_tags(model.model_id, {"team": "b", "stage": "dev"})
    client.delete_logged_model_tag(model.model_id, "stage")
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY and ready.last_updated_timestamp >= model.last_updated_timestamp
    fetched = client.get_logged_model(model.model_id)
    assert fetched.tags == {"team": "b"} and fetched.params == {"lr": "0.1", "epochs": "3"}

    unnamed = client.create_logged_model(tracking)
    assert unnamed.name and unnamed.status == LoggedModelStatus.PENDING

    client.delete_logged_model(model.model_id)
    assert _error(lambda: client.get_logged_model(model.model_id)) == ("RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model.model_id}' not found.")
    assert [m.model_id for m in client.search_logged_models([tracking])] == [unnamed.model_id]


def test_search_logged_models_filter_order_and_paging(client, tracking, unique):
    other = client.create_experiment(f"{unique}-other")
    models = []
    for i, acc in enumerate([0.2, 0.9, 0.5, 0.7]):
        model = client.create_logged_model(tracking, name=f"m{i}", params={"i": str(i)}, tags={"even": str(i % 2 == 0)})
        run_id = client.create_run(tracking).info.run_id
        client.log_batch(run_id, metrics=[Metric("acc", acc, 1000 + i, 0, model_id=model.model_id)])
        models.append(model)
    client.create_logged_model(other, name="elsewhere")

    def names(**kwargs):
        return [m.name for m in client.search_logged_models([tracking], **kwargs)]

    # Newest first by default.
    assert names() == ["m3", "m2", "m1", "m0"]
    assert names(filter_string="metrics.acc > 0.6") == ["m3", "m1"]
    assert names(filter_string="name = 'm2'") == ["m2"]
    assert names(filter_string="params.i IN ('0', '3') AND tags.even = 'True'") == ["m0"]
    assert names(filter_string="name LIKE 'm%' AND metrics.acc <= 0.5") == ["m2", "m0"]
    assert names(order_by=[{"field_name": "metrics.acc", "ascending": False}]) == ["m1", "m3", "m2", "m0"]
    assert names(order_by=[{"field_name": "name", "ascending": True}]) == ["m0", "m1", "m2", "m3"]
    both = client.search_logged_models([tracking, other], filter_string="name = 'elsewhere'")
    assert [m.experiment_id for m in both] == [other]

    order = [{"field_name": "metrics.acc", "ascending": True}]
    first = client.search_logged_models([tracking], order_by=order, max_results=3)
    assert [m.name for m in first] == ["m0", "m2", "m3"] and first.token
    second = client.search_logged_models([tracking], order_by=order, max_results=3, page_token=first.token)
    assert [m.name for m in second] == ["m1"] and not second.token
    everything = mlflow.search_logged_models(experiment_ids=[tracking], output_format="list")
    assert len(everything) == 4

    mismatch = _error(lambda: client.search_logged_models([tracking], filter_string="name = 'm0'", page_token=first.token))
    assert mismatch == ("INVALID_PARAMETER_VALUE", "Filter string in the page token does not match the requested filter string. Expected: name = 'm0'. Found: None")


def test_bad_calls_answer_mlflows_errors(client, tracking):
    not_found = ("RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{MISSING_MODEL}' not found.")
    assert _error(lambda: client.get_logged_model(MISSING_MODEL)) == not_found
    assert _error(lambda: client.delete_logged_model(MISSING_MODEL)) == not_found
    assert _error(lambda: client.finalize_logged_model(MISSING_MODEL, LoggedModelStatus.READY)) == not_found

    assert _error(lambda: client.create_logged_model(tracking, name="a/b")) == (
        "INVALID_PARAMETER_VALUE",
        "Invalid model name ('a/b') provided. Model name must be a non-empty string and cannot contain the following characters: "
        """('/', ':', '.', '%', '"', "'")""",
    )
    assert _error(lambda: client.create_logged_model("987654321")) == ("RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists")
    assert _error(lambda: client.create_logged_model("abc")) == ("INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")

    model = client.create_logged_model(tracking, name="target")
    no_tag = ("RESOURCE_DOES_NOT_EXIST", f"No tag with key 'nope' found for model with ID '{model.model_id}'.")
    assert _error(lambda: client.delete_logged_model_tag(model.model_id, "nope")) == no_tag
    client.log_model_params(model.model_id, {"p": "1"})
    # A param is written once: MLflow's store refuses a second write of its key as a bad request.
    assert _error(lambda: client.log_model_params(model.model_id, {"p": "2"}))[0] == "BAD_REQUEST"
    run_id = client.create_run(tracking).info.run_id
    assert _error(lambda: client.log_metric(run_id, "x", 1.0, model_id=MISSING_MODEL))[0] == "BAD_REQUEST"

    for kwargs in (
        {"filter_string": "metrics.acc ~ 1"},
        {"filter_string": "name = 'a' OR name = 'b'"},
        {"filter_string": "metrics.acc LIKE '1'"},
        {"filter_string": "foo.bar = 'x'"},
        {"order_by": [{"field_name": "params.x"}]},
        {"order_by": [{"field_name": "nope"}]},
        {"datasets": [{"dataset_name": "", "dataset_digest": "abc"}]},
    ):
        assert _error(lambda: client.search_logged_models([tracking], **kwargs))[0] == "INVALID_PARAMETER_VALUE", kwargs
