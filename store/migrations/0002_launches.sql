-- mlfleet's own view of a launch and its stages, beside the MLflow runs that record them.
-- Times are epoch milliseconds in bigint, like the MLflow tables.

CREATE TABLE launches (
  launch_id text PRIMARY KEY,
  workflow_id text NOT NULL UNIQUE,
  experiment_id bigint NOT NULL REFERENCES experiments (experiment_id),
  -- The launch's parent run; NULL only until the workflow has created it.
  run_id text UNIQUE REFERENCES runs (run_uuid),
  status text NOT NULL CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
  trigger text NOT NULL CHECK (trigger IN ('cli', 'api', 'schedule', 'temporal')),
  spec jsonb NOT NULL,
  -- jsonb re-orders object keys, so the order of spec.stages is kept here for progress reports.
  stage_names text[] NOT NULL DEFAULT '{}',
  params jsonb NOT NULL DEFAULT '{}',
  code_digest text,
  created_at bigint NOT NULL,
  ended_at bigint,
  error text
);

CREATE INDEX launches_experiment_created_idx ON launches (experiment_id, created_at DESC);
CREATE INDEX launches_created_idx ON launches (created_at DESC);

CREATE TABLE stage_runs (
  launch_id text NOT NULL REFERENCES launches (launch_id) ON DELETE CASCADE,
  stage text NOT NULL,
  run_id text NOT NULL UNIQUE REFERENCES runs (run_uuid),
  workflow_id text,
  status text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SKIPPED')),
  started_at bigint,
  ended_at bigint,
  exit_code integer,
  error text,
  -- Output name → URI.
  outputs jsonb NOT NULL DEFAULT '{}',
  attempts integer NOT NULL DEFAULT 0,
  PRIMARY KEY (launch_id, stage)
);

-- One row per placement attempt of a stage (a preemption or capacity failover starts a new one).
CREATE TABLE stage_attempts (
  launch_id text NOT NULL REFERENCES launches (launch_id) ON DELETE CASCADE,
  stage text NOT NULL,
  attempt integer NOT NULL CHECK (attempt >= 0),
  provider text NOT NULL,
  status text NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'PREEMPTED')),
  started_at bigint,
  ended_at bigint,
  exit_code integer,
  error text,
  PRIMARY KEY (launch_id, stage, attempt)
);
