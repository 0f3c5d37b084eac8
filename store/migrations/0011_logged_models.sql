-- MLflow 3 logged models: a model is an entity of its own (id m-<32 hex>) with tags, params and
-- metrics, linked to the runs that produced it (run outputs) and the runs that read it (model inputs).
-- Shaped like MLflow's own SQL store so its search semantics port directly; times are epoch ms.

CREATE TABLE logged_models (
  model_id text PRIMARY KEY CHECK (model_id ~ '^m-[0-9a-f]{32}$'),
  experiment_id bigint NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  name text NOT NULL,
  -- <experiment artifact_location>/models/<model_id>/artifacts, fixed at creation.
  artifact_location text NOT NULL,
  -- MLflow's LoggedModelStatus; a finalize naming no known status sets UNSPECIFIED, as MLflow's does.
  status text NOT NULL CHECK (status IN ('UNSPECIFIED', 'PENDING', 'READY', 'UPLOAD_FAILED')),
  status_message text,
  creation_timestamp_ms bigint NOT NULL,
  last_updated_timestamp_ms bigint NOT NULL,
  model_type text,
  -- Not a foreign key: MLflow keeps a model whose source run was deleted.
  source_run_id text,
  lifecycle_stage text NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted'))
);

-- search_logged_models' default order (creation time, newest first) within the requested experiments.
CREATE INDEX logged_models_experiment_created_idx ON logged_models (experiment_id, creation_timestamp_ms DESC, model_id);
CREATE INDEX logged_models_source_run_idx ON logged_models (source_run_id);

CREATE TABLE logged_model_tags (
  model_id text NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
  model_id text NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (model_id, key)
);

-- Every metric point logged with a model_id; a model's data.metrics lists them all. The key is
-- MLflow's, so a replayed point (same run, name, timestamp and step) keeps its first value. As in
-- MLflow, NaN is stored as 0 and ±Infinity as the largest finite doubles.
CREATE TABLE logged_model_metrics (
  model_id text NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key text NOT NULL,
  value double precision NOT NULL,
  timestamp bigint NOT NULL,
  step bigint NOT NULL,
  run_id text NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  dataset_name text,
  dataset_digest text,
  PRIMARY KEY (model_id, key, timestamp, step, run_id)
);

-- Metric filters and order_by compare one key's values across models.
CREATE INDEX logged_model_metrics_key_idx ON logged_model_metrics (key, model_id);

-- A model a run produced (log_outputs), at a step, and a model a run read (log_inputs models[]).
-- MLflow links them by id without a foreign key to the model (its inputs table is polymorphic), so
-- a link may name a model that does not exist, and a deleted model's links stay.
CREATE TABLE run_model_outputs (
  run_id text NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  model_id text NOT NULL,
  step bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, model_id)
);

CREATE TABLE run_model_inputs (
  run_id text NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  model_id text NOT NULL,
  PRIMARY KEY (run_id, model_id)
);
