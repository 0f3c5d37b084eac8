import { z } from 'zod';
import {
  MODEL_VERSION_COLUMNS,
  type ModelVersion,
  ModelVersionRow,
  type ModelVersionStage,
  MODEL_VERSION_STAGES,
  toModelVersion,
} from './model-versions';
import { named, type Queryable } from './pool';
import type { KeyValue } from './run-record';

// Registered models (and prompts: registered models tagged mlflow.prompt.is_prompt = 'true'), as
// the registered_models tables record them: reads and writes of one model, its tags and aliases.

/** The tag that makes a registered model a prompt (when its value is 'true'). */
export const IS_PROMPT_TAG = 'mlflow.prompt.is_prompt';

export interface ModelAlias {
  alias: string;
  version: number;
}

export interface RegisteredModel {
  name: string;
  creationTime: number;
  lastUpdatedTime: number;
  description?: string;
  /** The newest version in each stage (deleted versions aside). */
  latestVersions: ModelVersion[];
  tags: KeyValue[];
  aliases: ModelAlias[];
}

const RegisteredModelRow = z.object({
  name: z.string(),
  creation_time: z.number(),
  last_updated_time: z.number(),
  description: z.string().nullable(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })),
  aliases: z.array(z.object({ alias: z.string(), version: z.number().int() })),
  latest_versions: z.array(ModelVersionRow),
});

/** Every stage as an SQL array literal (constants only). */
const STAGES_ARRAY = `ARRAY[${MODEL_VERSION_STAGES.map((s) => `'${s}'`).join(', ')}]`;

/** The newest version of model `r` in each stage: one index probe per stage. */
const LATEST_VERSIONS_COLUMN = `
  COALESCE((SELECT json_agg(to_json(latest) ORDER BY latest.version)
            FROM unnest(${STAGES_ARRAY}) AS s(stage)
            CROSS JOIN LATERAL (
              SELECT ${MODEL_VERSION_COLUMNS}
              FROM model_versions v
              WHERE v.name = r.name AND v.current_stage = s.stage AND NOT v.deleted
              ORDER BY v.version DESC LIMIT 1
            ) AS latest), '[]'::json) AS latest_versions`;

/** A model's columns with its tags, aliases and latest versions, `r` being registered_models. */
export const REGISTERED_MODEL_COLUMNS = `
  r.name, r.creation_time, r.last_updated_time, r.description,
  COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
            FROM registered_model_tags t WHERE t.name = r.name), '[]'::json) AS tags,
  COALESCE((SELECT json_agg(json_build_object('alias', a.alias, 'version', a.version) ORDER BY a.alias)
            FROM registered_model_aliases a WHERE a.name = r.name), '[]'::json) AS aliases,
  ${LATEST_VERSIONS_COLUMN}`;

export function toRegisteredModel(raw: unknown): RegisteredModel {
  const row = RegisteredModelRow.parse(raw);
  return {
    name: row.name,
    creationTime: row.creation_time,
    lastUpdatedTime: row.last_updated_time,
    ...(row.description !== null && { description: row.description }),
    latestVersions: row.latest_versions.map(toModelVersion),
    tags: row.tags,
    aliases: row.aliases,
  };
}

const SELECT_REGISTERED_MODEL = `SELECT ${REGISTERED_MODEL_COLUMNS} FROM registered_models r WHERE r.name = $1`;

export async function getRegisteredModel(db: Queryable, name: string): Promise<RegisteredModel | undefined> {
  const { rows } = await db.query(named('mlfleet_get_registered_model', SELECT_REGISTERED_MODEL, [name]));
  return rows.length === 0 ? undefined : toRegisteredModel(rows[0]);
}

/** Whether a model by that name exists, and whether it is a prompt (its tag holds 'true', any case). */
export async function registeredModelKind(db: Queryable, name: string): Promise<'model' | 'prompt' | undefined> {
  const { rows } = await db.query(named('mlfleet_registered_model_kind',
    `SELECT (SELECT lower(t.value) = 'true' FROM registered_model_tags t WHERE t.name = r.name AND t.key = $2) AS prompt
     FROM registered_models r WHERE r.name = $1`,
    [name, IS_PROMPT_TAG],
  ));
  if (rows.length === 0) return undefined;
  return z.object({ prompt: z.boolean().nullable() }).parse(rows[0]).prompt === true ? 'prompt' : 'model';
}

/**
 * Creates a model with its tags (the last value of a repeated key wins). Undefined, writing
 * nothing, when the name is taken.
 */
export async function createRegisteredModel(
  db: Queryable,
  input: { name: string; description?: string; tags: readonly KeyValue[]; now: number },
): Promise<RegisteredModel | undefined> {
  const tags = new Map(input.tags.map((t) => [t.key, t.value]));
  const { rows } = await db.query(named('mlfleet_create_registered_model',
    `WITH created AS (
       INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES ($1, $2, $2, $3)
       ON CONFLICT (name) DO NOTHING
       RETURNING name
     ), tagged AS (
       INSERT INTO registered_model_tags (name, key, value)
       SELECT created.name, t.key, t.value FROM created, unnest($4::text[], $5::text[]) AS t(key, value)
     )
     SELECT 1 FROM created`,
    [input.name, input.now, input.description ?? null, [...tags.keys()], [...tags.values()]],
  ));
  if (rows.length === 0) return undefined;
  return getRegisteredModel(db, input.name);
}

/** Sets a model's description; undefined when there is no such model. */
export async function updateRegisteredModel(db: Queryable, name: string, description: string | null, now: number): Promise<RegisteredModel | undefined> {
  const { rowCount } = await db.query(named('mlfleet_update_registered_model',
    'UPDATE registered_models SET description = $2, last_updated_time = $3 WHERE name = $1',
    [name, description, now],
  ));
  return rowCount === 0 ? undefined : getRegisteredModel(db, name);
}

/**
 * Renames a model; its versions, tags and aliases follow (ON UPDATE CASCADE), and its versions take
 * the new update time as in MLflow. 'missing' when there is no such model, 'taken' when another
 * model has the new name.
 */
export async function renameRegisteredModel(db: Queryable, name: string, newName: string, now: number): Promise<RegisteredModel | 'missing' | 'taken'> {
  let renamed: number;
  try {
    const { rows } = await db.query(named('mlfleet_rename_registered_model',
      `WITH renamed AS (
         UPDATE registered_models SET name = $2, last_updated_time = $3 WHERE name = $1 RETURNING name
       )
       SELECT count(*)::int AS renamed FROM renamed`,
      [name, newName, now],
    ));
    renamed = z.object({ renamed: z.number().int() }).parse(rows[0]).renamed;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === '23505') return 'taken';
    throw err;
  }
  if (renamed === 0) return 'missing';
  // The cascade has moved the versions by now; a second statement sees them under the new name.
  await db.query(named('mlfleet_touch_renamed_versions', 'UPDATE model_versions SET last_updated_time = $2 WHERE name = $1', [newName, now]));
  return (await getRegisteredModel(db, newName)) ?? 'missing';
}

/** Deletes a model with its versions, tags and aliases; false when there is no such model. */
export async function deleteRegisteredModel(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query(named('mlfleet_delete_registered_model', 'DELETE FROM registered_models WHERE name = $1', [name]));
  return (rowCount ?? 0) > 0;
}

/** Runs a statement that writes only when its target exists, and answers whether it did. */
async function foundTarget(db: Queryable, statement: string, sql: string, params: unknown[]): Promise<boolean> {
  const { rows } = await db.query(named(statement, sql, params));
  return rows.length > 0;
}

/** Sets one tag; false (writing nothing) when there is no such model. */
export async function setRegisteredModelTag(db: Queryable, name: string, tag: KeyValue): Promise<boolean> {
  return foundTarget(
    db,
    'mlfleet_set_registered_model_tag',
    `WITH target AS (
       SELECT name FROM registered_models WHERE name = $1 FOR KEY SHARE
     ), written AS (
       INSERT INTO registered_model_tags (name, key, value) SELECT name, $2, $3 FROM target
       ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value
     )
     SELECT 1 FROM target`,
    [name, tag.key, tag.value],
  );
}


/** Points an alias at a version (moving it if it pointed elsewhere); false when there is no such version. */
export async function setRegisteredModelAlias(db: Queryable, name: string, alias: string, version: number): Promise<boolean> {
  return foundTarget(
    db,
    'mlfleet_set_registered_model_alias',
    `WITH target AS (
       SELECT name, version FROM model_versions WHERE name = $1 AND version = $3 AND NOT deleted FOR KEY SHARE
     ), written AS (
       INSERT INTO registered_model_aliases (name, alias, version) SELECT name, $2, version FROM target
       ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version
     )
     SELECT 1 FROM target`,
    [name, alias, version],
  );
}

// A model's tags and aliases: keyed rows deleted the same way (constant identifiers, never input).
const KEYED_ROWS = { tag: { table: 'registered_model_tags', key: 'key' }, alias: { table: 'registered_model_aliases', key: 'alias' } } as const;

/** Deletes one tag or alias if the model has it; false when there is no such model. */
function deleteKeyedRow(db: Queryable, kind: keyof typeof KEYED_ROWS, name: string, key: string): Promise<boolean> {
  const { table, key: column } = KEYED_ROWS[kind];
  return foundTarget(
    db,
    `mlfleet_delete_registered_model_${kind}`,
    `WITH target AS (
       SELECT name FROM registered_models WHERE name = $1
     ), removed AS (
       DELETE FROM ${table} r USING target WHERE r.name = target.name AND r.${column} = $2
     )
     SELECT 1 FROM target`,
    [name, key],
  );
}

export const deleteRegisteredModelTag = (db: Queryable, name: string, key: string): Promise<boolean> => deleteKeyedRow(db, 'tag', name, key);

export const deleteRegisteredModelAlias = (db: Queryable, name: string, alias: string): Promise<boolean> => deleteKeyedRow(db, 'alias', name, alias);

/** The version an alias points at: 'no-model' when there is no such model, 'no-alias' when it has no such alias. */
export async function aliasedVersion(db: Queryable, name: string, alias: string): Promise<number | 'no-model' | 'no-alias'> {
  const { rows } = await db.query(named('mlfleet_aliased_version',
    `SELECT (SELECT a.version FROM registered_model_aliases a WHERE a.name = r.name AND a.alias = $2) AS version
     FROM registered_models r WHERE r.name = $1`,
    [name, alias],
  ));
  if (rows.length === 0) return 'no-model';
  return z.object({ version: z.number().int().nullable() }).parse(rows[0]).version ?? 'no-alias';
}

/**
 * The newest version in each of `stages` (every stage when empty), with their aliases; undefined
 * when there is no such model.
 */
export async function getLatestVersions(db: Queryable, name: string, stages: readonly ModelVersionStage[]): Promise<ModelVersion[] | undefined> {
  const { rows } = await db.query(named('mlfleet_get_latest_versions',
    `SELECT r.name,
       COALESCE((SELECT json_agg(to_json(latest) ORDER BY latest.version)
                 FROM unnest($2::text[]) AS s(stage)
                 CROSS JOIN LATERAL (
                   SELECT ${MODEL_VERSION_COLUMNS},
                          COALESCE((SELECT json_agg(a.alias ORDER BY a.alias) FROM registered_model_aliases a
                                    WHERE a.name = v.name AND a.version = v.version), '[]'::json) AS aliases
                   FROM model_versions v
                   WHERE v.name = r.name AND v.current_stage = s.stage AND NOT v.deleted
                   ORDER BY v.version DESC LIMIT 1
                 ) AS latest), '[]'::json) AS versions
     FROM registered_models r WHERE r.name = $1`,
    [name, stages.length > 0 ? [...new Set(stages)] : MODEL_VERSION_STAGES],
  ));
  if (rows.length === 0) return undefined;
  return z.object({ versions: z.array(ModelVersionRow) }).parse(rows[0]).versions.map(toModelVersion);
}
