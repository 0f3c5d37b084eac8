-- Idempotency keys of POST /api/v1/launches. The launch id is derived from the key, so a retried
-- request names the same launch (and workflow); the digest of the request body tells a retry from a
-- different request that reuses the key. No foreign key to launches: the launch row is written by
-- the workflow later, and never for a launch that fails before it is recorded.
CREATE TABLE launch_requests (
  launch_id text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  -- sha256:<hex> of the canonical JSON of the request body.
  request_digest text NOT NULL,
  -- The first run id of the launch workflow; NULL only until the workflow was started, so a retry
  -- after that never starts it again (not even once Temporal no longer keeps the closed workflow).
  workflow_run_id text,
  created_at bigint NOT NULL
);
