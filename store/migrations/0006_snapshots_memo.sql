-- Pinned data snapshots, memoized stage results and re-execution. Times are epoch milliseconds in bigint, like the other tables.

-- One row per distinct manifest: the digest (sha256 of its canonical JSON) is the snapshot id.
CREATE TABLE snapshots (
  digest text PRIMARY KEY,
  source text NOT NULL,
  mode text NOT NULL CHECK (mode IN ('version', 'copy')),
  objects integer NOT NULL CHECK (objects > 0),
  bytes bigint NOT NULL CHECK (bytes >= 0),
  -- The manifest document in the artifact store (content-addressed too).
  manifest_uri text NOT NULL,
  created_at bigint NOT NULL
);

-- The manifest's entries, so a snapshot can be inspected (and compared) with SQL.
CREATE TABLE snapshot_objects (
  digest text NOT NULL REFERENCES snapshots (digest) ON DELETE CASCADE,
  path text NOT NULL,
  size bigint NOT NULL,
  version_id text,
  etag text,
  sha256 text,
  PRIMARY KEY (digest, path)
);

-- Memoized stage results, per experiment (a result is only visible where its run is).
CREATE TABLE memo_entries (
  experiment_id bigint NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  cache_key text NOT NULL,
  stage text NOT NULL,
  run_id text NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  launch_id text NOT NULL,
  -- Output name → URI, and output name → digest of its files.
  outputs jsonb NOT NULL,
  output_digests jsonb NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (experiment_id, cache_key)
);

ALTER TABLE stage_runs
  ADD COLUMN source text NOT NULL DEFAULT 'ran' CHECK (source IN ('ran', 'cached', 'reused')),
  -- The run whose memoized result a cached stage took, or whose result a reused stage took.
  ADD COLUMN source_run_id text,
  ADD COLUMN cache_key text,
  ADD COLUMN input_digests jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN output_digests jsonb NOT NULL DEFAULT '{}';

ALTER TABLE launches
  ADD COLUMN from_stage text,
  ADD COLUMN reused_launch text;
