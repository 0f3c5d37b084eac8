"""Artifacts through the stock client: log, list and download a run's files. Experiments created
over the API get `mlflow-artifacts:/` locations, so every byte goes through the server's proxied
artifact service; the e2e test runs this file with a file:// and with an s3:// artifact store."""

import json

import mlflow
import mlflow.artifacts


def _tree(root):
    """Every file under `root` as {relative posix path: bytes}."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _listing(client, run_id, path=None):
    """The run's artifacts directly under `path`, as the client lists them."""
    return [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path)]


def test_log_list_and_download_artifacts(client, experiment_id, tmp_path):
    folder = tmp_path / "folder"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "nested" / "b.csv").write_text("1,2\n3,4\n")
    (folder / "nested" / "with space.txt").write_text("spaced")
    (folder / "nested" / "deeper" / "c.bin").write_bytes(bytes(range(256)) * 40)
    single = tmp_path / "single.json"
    single.write_text('{"k": 1}')

    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="copies/of")
        mlflow.log_artifacts(str(folder), artifact_path="folder")
        mlflow.log_text("hello text", "notes/readme.txt")
        mlflow.log_dict({"a": [1, 2], "b": "c"}, "notes/config.json")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"

    assert _listing(client, run_id) == [
        ("copies", True, None),
        ("folder", True, None),
        ("notes", True, None),
        ("single.json", False, 8),
    ]
    assert _listing(client, run_id, "folder") == [("folder/a.txt", False, 5), ("folder/nested", True, None)]
    assert _listing(client, run_id, "folder/nested") == [
        ("folder/nested/b.csv", False, 8),
        ("folder/nested/deeper", True, None),
        ("folder/nested/with space.txt", False, 6),
    ]
    assert _listing(client, run_id, "folder/nested/deeper") == [("folder/nested/deeper/c.bin", False, 10240)]
    assert _listing(client, run_id, "copies/of") == [("copies/of/single.json", False, 8)]
    assert _listing(client, run_id, "missing") == []

    text = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes/readme.txt", dst_path=str(tmp_path / "one"))
    with open(text, encoding="utf-8") as f:
        assert f.read() == "hello text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/notes/config.json") == {"a": [1, 2], "b": "c"}
    assert json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/single.json")) == {"k": 1}

    copied = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="folder", dst_path=str(tmp_path / "all"))
    assert _tree(tmp_path / "all" / "folder") == _tree(folder)
    assert copied.rstrip("/").endswith("folder")


def test_artifacts_of_separate_runs_stay_apart(client, experiment_id, tmp_path):
    ids = []
    for i in range(2):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_text(f"run {i}", "out.txt")
        ids.append(run.info.run_id)
    for i, run_id in enumerate(ids):
        assert _listing(client, run_id) == [("out.txt", False, 5)]
        assert mlflow.artifacts.load_text(f"runs:/{run_id}/out.txt") == f"run {i}"
