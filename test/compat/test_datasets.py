"""Dataset inputs (runs/log-inputs) and `datasets.*` in search_runs. Built from
mlflow.data.meta_dataset.MetaDataset and mlflow.entities, so nothing needs pandas."""

import mlflow
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import Dataset, DatasetInput, InputTag


def dataset_input(name, digest, context):
    dataset = Dataset(name=name, digest=digest, source_type="http", source='{"url": "http://example.invalid/d.csv"}')
    return DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value=context)])


def test_fluent_log_input(client, unique):
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_experiment(f"{unique}-ds")
    dataset = MetaDataset(source=HTTPDatasetSource(url="http://example.invalid/train.csv"), name="train-set", digest="d1g3st01")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "train-set"
    assert inputs[0].dataset.digest == "d1g3st01"
    assert inputs[0].dataset.source_type == "http"
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}


def test_log_inputs_is_idempotent(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_inputs(run_id, datasets=[dataset_input("a", "aaaa", "train")])
    client.log_inputs(run_id, datasets=[dataset_input("a", "aaaa", "train")])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("a", "aaaa")]


def test_search_by_dataset(client, experiment_id):
    r1 = client.create_run(experiment_id, start_time=1000).info.run_id
    r2 = client.create_run(experiment_id, start_time=2000).info.run_id
    r3 = client.create_run(experiment_id, start_time=3000).info.run_id
    client.log_inputs(r1, datasets=[dataset_input("wine", "digest1", "train"), dataset_input("wine-eval", "digest2", "eval")])
    client.log_inputs(r2, datasets=[dataset_input("iris", "digest3", "train")])

    def found(flt):
        return sorted(r.info.run_id for r in client.search_runs([experiment_id], flt))

    assert found("datasets.digest = 'digest1'") == [r1]
    assert found("datasets.digest IN ('digest1', 'digest3')") == sorted([r1, r2])
    assert found("datasets.name = 'iris'") == [r2]
    assert found("datasets.name LIKE 'wine%'") == [r1]
    assert found("datasets.name ILIKE 'IRIS'") == [r2]
    assert found("datasets.context = 'eval'") == [r1]
    assert found("datasets.context = 'train'") == sorted([r1, r2])
    assert found("datasets.digest IN ('digest3') AND datasets.context = 'train'") == [r2]
    assert found("datasets.name = 'nothing'") == []
    assert r3 not in found("datasets.name LIKE '%'")
