-- Grants on registered models to a user or a team, as experiment_permissions holds them for
-- experiments (a prompt is a registered model, so its grants are these too). Keyed by the model's
-- name: a rename carries its grants along and a delete takes them.
CREATE TABLE registered_model_permissions (
  name text COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
  user_id bigint REFERENCES users (user_id) ON DELETE CASCADE,
  team_id bigint REFERENCES teams (team_id) ON DELETE CASCADE,
  permission smallint NOT NULL CHECK (permission BETWEEN 0 AND 3),
  CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE UNIQUE INDEX registered_model_permissions_user ON registered_model_permissions (user_id, name) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX registered_model_permissions_team ON registered_model_permissions (team_id, name) WHERE team_id IS NOT NULL;
CREATE INDEX registered_model_permissions_name ON registered_model_permissions (name);

-- MLflow's roles API shows each team as a role: its grants are the role's permissions and its
-- members the role's assignments, which that API addresses by id; a role also has a description.
CREATE SEQUENCE grant_ids;
ALTER TABLE experiment_permissions ADD COLUMN grant_id bigint NOT NULL DEFAULT nextval('grant_ids');
ALTER TABLE registered_model_permissions ADD COLUMN grant_id bigint NOT NULL DEFAULT nextval('grant_ids');
ALTER SEQUENCE grant_ids OWNED BY experiment_permissions.grant_id;
CREATE UNIQUE INDEX experiment_permissions_grant ON experiment_permissions (grant_id);
CREATE UNIQUE INDEX registered_model_permissions_grant ON registered_model_permissions (grant_id);
ALTER TABLE team_members ADD COLUMN assignment_id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE teams ADD COLUMN description text;
