-- Identities, per-experiment permissions and the audit trail. Passwords are scrypt hashes
-- (the PHC-style string carries its salt and cost); API tokens are stored only as their SHA-256,
-- which is enough for 256-bit random secrets and lets a lookup be one index probe.

CREATE TABLE users (
  user_id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1) PRIMARY KEY,
  username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,255}$'),
  password_hash text NOT NULL,
  is_admin boolean NOT NULL DEFAULT false,
  created_at bigint NOT NULL
);

CREATE TABLE api_tokens (
  token_id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1) PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint,
  last_used_at bigint
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE teams (
  team_id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1) PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
  created_at bigint NOT NULL
);

CREATE TABLE team_members (
  team_id bigint NOT NULL REFERENCES teams (team_id) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- One grant to a user or to a team. permission is the rank: 0 NO_PERMISSIONS, 1 READ, 2 EDIT, 3 MANAGE.
CREATE TABLE experiment_permissions (
  experiment_id bigint NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  user_id bigint REFERENCES users (user_id) ON DELETE CASCADE,
  team_id bigint REFERENCES teams (team_id) ON DELETE CASCADE,
  permission smallint NOT NULL CHECK (permission BETWEEN 0 AND 3),
  CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE UNIQUE INDEX experiment_permissions_user ON experiment_permissions (user_id, experiment_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX experiment_permissions_team ON experiment_permissions (team_id, experiment_id) WHERE team_id IS NOT NULL;
CREATE INDEX experiment_permissions_experiment ON experiment_permissions (experiment_id);

-- Who did what, when: permission and identity changes, and denied requests. actor is the username
-- at the time (NULL for an anonymous caller), kept as text so the trail outlives deleted users.
CREATE TABLE audit_events (
  event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  actor text,
  action text NOT NULL,
  target text NOT NULL DEFAULT '',
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  client_ip text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at DESC, event_id DESC);
