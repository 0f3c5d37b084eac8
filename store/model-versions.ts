import type pg from 'pg';
import { z } from 'zod';
import { named, type Queryable, withTransaction } from './pool';
import type { KeyValue } from './run-record';

// Versions of registered models (and of prompts), as the model_versions tables record them: reads
// and writes of one version. A deleted version keeps its row, flagged, so its number is never given
// again; every read here leaves it out.

export const MODEL_VERSION_STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type ModelVersionStage = (typeof MODEL_VERSION_STAGES)[number];

export const ModelVersionStatus = z.enum(['PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY']);
export type ModelVersionStatus = z.infer<typeof ModelVersionStatus>;

/** A model version. Optional fields are absent where the row holds NULL (MLflow tells NULL from ''). */
export interface ModelVersion {
  name: string;
  version: number;
  creationTime: number;
  lastUpdatedTime: number;
  description?: string;
  userId?: string;
  currentStage: ModelVersionStage;
  source: string;
  /** Where the files are when `source` is a models:/ URI. */
  storageLocation?: string;
  runId?: string;
  runLink?: string;
  status: ModelVersionStatus;
  statusMessage?: string;
  modelId?: string;
  tags: KeyValue[];
  /** The model's aliases that point at this version (filled where MLflow fills them: single-version reads). */
  aliases: string[];
}

const KeyValueRow = z.object({ key: z.string(), value: z.string() });

export const ModelVersionRow = z.object({
  name: z.string(),
  version: z.number().int(),
  creation_time: z.number(),
  last_updated_time: z.number(),
  description: z.string().nullable(),
  user_id: z.string().nullable(),
  current_stage: z.enum(MODEL_VERSION_STAGES),
  source: z.string(),
  storage_location: z.string().nullable(),
  run_id: z.string().nullable(),
  run_link: z.string().nullable(),
  status: ModelVersionStatus,
  status_message: z.string().nullable(),
  model_id: z.string().nullable(),
  tags: z.array(KeyValueRow),
  aliases: z.array(z.string()).optional(),
});
export type ModelVersionRow = z.infer<typeof ModelVersionRow>;

/** The columns of a version with its tags (as `tags`), `v` being model_versions. */
export const MODEL_VERSION_COLUMNS = `
  v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, v.current_stage, v.source,
  v.storage_location, v.run_id, v.run_link, v.status, v.status_message, v.model_id,
  COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
            FROM model_version_tags t WHERE t.name = v.name AND t.version = v.version), '[]'::json) AS tags`;

/** The aliases pointing at the version `v` (as `aliases`). */
const ALIASES_COLUMN = `
  COALESCE((SELECT json_agg(a.alias ORDER BY a.alias) FROM registered_model_aliases a
            WHERE a.name = v.name AND a.version = v.version), '[]'::json) AS aliases`;

/** One version with its tags and aliases; `WHERE` is appended by the caller. */
const SELECT_MODEL_VERSION = `SELECT ${MODEL_VERSION_COLUMNS}, ${ALIASES_COLUMN} FROM model_versions v`;

export function toModelVersion(row: ModelVersionRow): ModelVersion {
  return {
    name: row.name,
    version: row.version,
    creationTime: row.creation_time,
    lastUpdatedTime: row.last_updated_time,
    ...(row.description !== null && { description: row.description }),
    ...(row.user_id !== null && { userId: row.user_id }),
    currentStage: row.current_stage,
    source: row.source,
    ...(row.storage_location !== null && { storageLocation: row.storage_location }),
    ...(row.run_id !== null && { runId: row.run_id }),
    ...(row.run_link !== null && { runLink: row.run_link }),
    status: row.status,
    ...(row.status_message !== null && { statusMessage: row.status_message }),
    ...(row.model_id !== null && { modelId: row.model_id }),
    tags: row.tags,
    aliases: row.aliases ?? [],
  };
}

const versionOf = (rows: unknown[]): ModelVersion | undefined => (rows.length === 0 ? undefined : toModelVersion(ModelVersionRow.parse(rows[0])));

/** The version (not deleted) with its tags and aliases. */
export async function getModelVersion(db: Queryable, name: string, version: number): Promise<ModelVersion | undefined> {
  const { rows } = await db.query(named('mlfleet_get_model_version', `${SELECT_MODEL_VERSION} WHERE v.name = $1 AND v.version = $2 AND NOT v.deleted`, [name, version]));
  return versionOf(rows);
}

/** Where the version's files are: its storage location, else its source (MLflow's get_model_version_download_uri). */
export const downloadUriOf = (version: ModelVersion): string => version.storageLocation || version.source;

export interface NewModelVersion {
  name: string;
  source: string;
  storageLocation?: string;
  runId?: string;
  runLink?: string;
  description?: string;
  modelId?: string;
  tags: readonly KeyValue[];
  now: number;
}

/**
 * Registers the next version of a model with its tags, in one statement: the model's row gives the
 * number (max_version + 1, deleted versions counted) and takes the new time, so concurrent
 * registrations wait for each other's row lock and number without gaps or duplicates. Undefined
 * when no model has that name.
 */
export async function createModelVersion(db: Queryable, input: NewModelVersion): Promise<ModelVersion | undefined> {
  // One INSERT cannot write a key twice: the last value of a repeated key wins, as in MLflow.
  const tags = new Map(input.tags.map((t) => [t.key, t.value]));
  const { rows } = await db.query(named('mlfleet_create_model_version',
    `WITH model AS (
       UPDATE registered_models SET max_version = max_version + 1, last_updated_time = $2
       WHERE name = $1
       RETURNING name, max_version
     ), created AS (
       INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, source, storage_location,
                                   run_id, run_link, model_id)
       SELECT model.name, model.max_version, $2, $2, $3, $4, $5, $6, $7, $8 FROM model
       RETURNING name, version
     ), tagged AS (
       INSERT INTO model_version_tags (name, version, key, value)
       SELECT created.name, created.version, t.key, t.value FROM created, unnest($9::text[], $10::text[]) AS t(key, value)
     )
     SELECT version FROM created`,
    [
      input.name,
      input.now,
      input.description ?? null,
      input.source,
      input.storageLocation ?? null,
      input.runId ?? null,
      input.runLink ?? null,
      input.modelId ?? null,
      [...tags.keys()],
      [...tags.values()],
    ],
  ));
  if (rows.length === 0) return undefined;
  const { version } = z.object({ version: z.number().int() }).parse(rows[0]);
  return getModelVersion(db, input.name, version);
}

/** Sets (or, with null, clears) a version's description; undefined when there is no such version. */
export async function updateModelVersionDescription(
  db: Queryable,
  name: string,
  version: number,
  description: string | null,
  now: number,
): Promise<ModelVersion | undefined> {
  const { rowCount } = await db.query(named('mlfleet_update_model_version',
    'UPDATE model_versions SET description = $3, last_updated_time = $4 WHERE name = $1 AND version = $2 AND NOT deleted',
    [name, version, description, now],
  ));
  return rowCount === 0 ? undefined : getModelVersion(db, name, version);
}

/**
 * Moves a version to a stage and, with `archiveExisting`, the model's other versions in that stage
 * to Archived. The model's row is locked first, so two transitions of one model into the same stage
 * run one after the other and the second archives the first. Undefined when there is no such version.
 */
export async function transitionModelVersionStage(
  pool: pg.Pool,
  input: { name: string; version: number; stage: ModelVersionStage; archiveExisting: boolean; now: number },
): Promise<ModelVersion | undefined> {
  return withTransaction(pool, async (tx) => {
    const locked = await tx.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [input.name]);
    if (locked.rows.length === 0) return undefined;
    const { rows } = await tx.query(
      `WITH target AS (
         SELECT name, version FROM model_versions WHERE name = $1 AND version = $2 AND NOT deleted
       ), archived AS (
         UPDATE model_versions v SET current_stage = 'Archived', last_updated_time = $5
         FROM target
         WHERE $4 AND v.name = target.name AND v.version <> target.version AND v.current_stage = $3 AND NOT v.deleted
       ), moved AS (
         UPDATE model_versions v SET current_stage = $3, last_updated_time = $5
         FROM target WHERE v.name = target.name AND v.version = target.version
         RETURNING v.name
       ), touched AS (
         UPDATE registered_models r SET last_updated_time = $5 FROM moved WHERE r.name = moved.name
       )
       SELECT name FROM moved`,
      [input.name, input.version, input.stage, input.archiveExisting, input.now],
    );
    return rows.length === 0 ? undefined : getModelVersion(tx, input.name, input.version);
  });
}

/**
 * Deletes a version: its aliases go, and its row stays flagged (with MLflow's redactions) so its
 * number is not given again. False when there is no such version.
 */
export async function deleteModelVersion(db: Queryable, name: string, version: number, now: number): Promise<boolean> {
  const { rows } = await db.query(named('mlfleet_delete_model_version',
    `WITH deleted AS (
       UPDATE model_versions
       SET deleted = true, last_updated_time = $3, description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH',
           storage_location = NULL, run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = NULL
       WHERE name = $1 AND version = $2 AND NOT deleted
       RETURNING name, version
     ), unaliased AS (
       DELETE FROM registered_model_aliases a USING deleted WHERE a.name = deleted.name AND a.version = deleted.version
     ), touched AS (
       UPDATE registered_models r SET last_updated_time = $3 FROM deleted WHERE r.name = deleted.name
     )
     SELECT 1 FROM deleted`,
    [name, version, now],
  ));
  return rows.length > 0;
}

/** Sets one tag of a version; false (writing nothing) when there is no such version. */
export async function setModelVersionTag(db: Queryable, name: string, version: number, tag: KeyValue): Promise<boolean> {
  const { rows } = await db.query(named('mlfleet_set_model_version_tag',
    `WITH target AS (
       SELECT name, version FROM model_versions WHERE name = $1 AND version = $2 AND NOT deleted FOR KEY SHARE
     ), written AS (
       INSERT INTO model_version_tags (name, version, key, value) SELECT name, version, $3, $4 FROM target
       ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value
     )
     SELECT 1 FROM target`,
    [name, version, tag.key, tag.value],
  ));
  return rows.length > 0;
}

/** Deletes one tag of a version if it has it; false when there is no such version. */
export async function deleteModelVersionTag(db: Queryable, name: string, version: number, key: string): Promise<boolean> {
  const { rows } = await db.query(named('mlfleet_delete_model_version_tag',
    `WITH target AS (
       SELECT name, version FROM model_versions WHERE name = $1 AND version = $2 AND NOT deleted
     ), removed AS (
       DELETE FROM model_version_tags t USING target WHERE t.name = target.name AND t.version = target.version AND t.key = $3
     )
     SELECT 1 FROM target`,
    [name, version, key],
  ));
  return rows.length > 0;
}

/**
 * Holds the logged model's row for the rest of the transaction, so appending to one of its tags
 * (read, then written) cannot lose a concurrent append. False when there is no such model.
 */
export async function lockLoggedModel(tx: Queryable, modelId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM logged_models WHERE model_id = $1 FOR UPDATE', [modelId]);
  return rows.length > 0;
}
