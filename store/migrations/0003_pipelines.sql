-- Code bundles uploaded through the API (the archive itself lives in the artifact store), with the
-- git facts the client knew, and registered pipeline versions.
CREATE TABLE code_bundles (
  digest text PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
  uri text NOT NULL,
  bytes bigint NOT NULL,
  files integer NOT NULL,
  git_commit text,
  git_branch text,
  git_dirty boolean,
  created_at bigint NOT NULL
);

CREATE TABLE pipelines (
  name text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  -- sha256 of the canonical JSON of {spec, code_bundle}: registering the same again is a no-op.
  digest text NOT NULL,
  -- The spec as JSON text, not jsonb: jsonb would lose the order of the stages.
  spec text NOT NULL,
  code_bundle text REFERENCES code_bundles (digest),
  created_at bigint NOT NULL,
  PRIMARY KEY (name, version),
  UNIQUE (name, digest)
);
