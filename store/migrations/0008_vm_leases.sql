-- Every cloud VM mlfleet ever asks for, so none is ever leaked. The lease row is
-- written before the create call, so a VM can never exist that no row names; the stage heartbeats
-- `expires_at` forward while it waits, and the reaper terminates what an expired or orphaned lease
-- still holds. Times are epoch milliseconds in bigint.
CREATE TABLE vm_leases (
  -- The VM's deterministic name: the stage workflow id and placement attempt, hashed to fit every cloud.
  lease_id text PRIMARY KEY,
  owner_workflow_id text NOT NULL,
  launch_id text NOT NULL,
  stage text NOT NULL,
  placement_attempt integer NOT NULL CHECK (placement_attempt >= 1),
  cloud text NOT NULL CHECK (cloud IN ('aws', 'gcp', 'azure')),
  region text NOT NULL,
  zone text,
  instance_type text NOT NULL,
  spot boolean NOT NULL,
  price_per_hour double precision NOT NULL CHECK (price_per_hour >= 0),
  -- The cloud's id, once the create call returned it.
  vm_id text,
  state text NOT NULL CHECK (state IN ('creating', 'live', 'released')),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  -- Billing runs from the create call's return to the termination.
  vm_started_at bigint,
  released_at bigint,
  -- finished, failed, preempted, cancelled, create-failed: …, reaped: …
  end_reason text,
  preempted boolean NOT NULL DEFAULT false,
  cost_usd double precision NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
  UNIQUE (owner_workflow_id, placement_attempt)
);

CREATE INDEX vm_leases_open_idx ON vm_leases (expires_at) WHERE state <> 'released';
CREATE INDEX vm_leases_stage_idx ON vm_leases (launch_id, stage);

-- Where each stage attempt ran, for `mlfleet status` and the API.
ALTER TABLE stage_attempts
  ADD COLUMN cloud text,
  ADD COLUMN region text,
  ADD COLUMN zone text,
  ADD COLUMN instance_type text,
  ADD COLUMN spot boolean,
  ADD COLUMN price_per_hour double precision,
  ADD COLUMN cost_usd double precision;
