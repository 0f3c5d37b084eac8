-- MLflow's model registry: registered models with their tags and aliases, model versions with
-- theirs. A prompt is a registered model tagged mlflow.prompt.is_prompt = 'true', so prompts live
-- here too. Times are epoch ms. Every child row follows its model through a rename (ON UPDATE
-- CASCADE) and goes with it when the model is deleted. Names sort and compare by code point
-- (COLLATE "C"), so the primary key index serves the default name order of a search.

CREATE TABLE registered_models (
  name text COLLATE "C" PRIMARY KEY,
  creation_time bigint NOT NULL,
  last_updated_time bigint NOT NULL,
  description text,
  -- The highest version number ever given, deleted versions included: a registration takes the
  -- next one from this row in the statement that inserts the version, so concurrent registrations
  -- queue on the row and never share or skip a number.
  max_version integer NOT NULL DEFAULT 0
);

-- order_by timestamp / last_updated_timestamp, with the name as MLflow's tie-break.
CREATE INDEX registered_models_updated_idx ON registered_models (last_updated_time, name);

CREATE TABLE registered_model_tags (
  name text COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (name, key)
);

-- Searches hide prompts: the names tagged mlflow.prompt.is_prompt = 'true' come from this index alone.
CREATE INDEX registered_model_tags_key_value_idx ON registered_model_tags (key, value, name);

CREATE TABLE registered_model_aliases (
  name text COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
  alias text NOT NULL,
  version integer NOT NULL,
  PRIMARY KEY (name, alias)
);

CREATE TABLE model_versions (
  name text COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
  version integer NOT NULL CHECK (version > 0),
  creation_time bigint NOT NULL,
  last_updated_time bigint NOT NULL,
  description text,
  user_id text,
  current_stage text NOT NULL DEFAULT 'None' CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
  -- What the client registered (runs:/…, models:/m-…, a URI); storage_location is where the files
  -- are when the source is a models:/ URI (a logged model's artifact location, another version's).
  source text NOT NULL,
  storage_location text,
  run_id text,
  run_link text,
  status text NOT NULL DEFAULT 'READY' CHECK (status IN ('PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY')),
  status_message text,
  -- The logged model this version was registered from (MLflow's own SQL store drops it).
  model_id text,
  -- A deleted version keeps its row (and number) so the next registration never reuses the number.
  deleted boolean NOT NULL DEFAULT false,
  PRIMARY KEY (name, version)
);

-- search_model_versions' default order (last_updated_timestamp DESC, name, version_number DESC).
CREATE INDEX model_versions_updated_idx ON model_versions (last_updated_time DESC, name, version DESC) WHERE NOT deleted;
-- A model's latest version in each stage, one index probe per stage.
CREATE INDEX model_versions_stage_idx ON model_versions (name, current_stage, version DESC) WHERE NOT deleted;
CREATE INDEX model_versions_run_idx ON model_versions (run_id) WHERE NOT deleted;

CREATE TABLE model_version_tags (
  name text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
);

-- Version searches hide the versions of prompts (a prompt's versions carry the prompt tag).
CREATE INDEX model_version_tags_key_value_idx ON model_version_tags (key, value, name);
