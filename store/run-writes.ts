import { z } from 'zod';
import { isExperimentId } from '../domain/auth';
import { RunStatus } from '../domain/launch';
import { ExperimentNotFoundError } from './experiments';
import { ADVANCE_LATEST_METRIC } from './metrics';
import { named, type Queryable } from './pool';
import { getRun } from './run-reads';
import {
  isForeignKeyViolation,
  type KeyValue,
  type KeyValues,
  type MlflowRun,
  type MlflowRunInfo,
  onRun,
  RUN_COLUMNS,
  RUN_NAME_TAG,
  RunNotFoundError,
  RunRow,
  TERMINAL_RUN_STATUSES,
  type TerminalRunStatus,
  toRunInfo,
  USER_TAG,
} from './run-record';

// Every change to a run: its creation, status and end, name, params, tags and lifecycle stage.

export interface CreateRunInput {
  runId: string;
  experimentId: string;
  name: string;
  userId: string;
  /** Epoch milliseconds. */
  startTime: number;
  artifactUri: string;
  tags?: Readonly<Record<string, string>>;
  /** RUNNING unless given: a stage run waiting for a VM is SCHEDULED. */
  status?: RunStatus;
}

/** Params are write-once (MLflow): re-logging the same value is fine, a different one is not. */
export class ParamConflictError extends Error {
  override readonly name = 'ParamConflictError';
  constructor(
    readonly runId: string,
    readonly key: string,
    readonly oldValue: string,
    readonly newValue: string,
  ) {
    super(
      `Changing param values is not allowed. Param with key='${key}' was already logged with value='${oldValue}' ` +
        `for run ID='${runId}'. Attempted logging new value '${newValue}'.`,
    );
  }
}

const KeyValueRow = z.object({ run_uuid: z.string(), key: z.string(), value: z.string() });
const StatusRow = z.object({ status: RunStatus });

/** Record or list → unique keys in first-seen order, last value winning (one upsert row per key). */
function entries(values: KeyValues): [keys: string[], values: string[]] {
  const merged = new Map<string, string>();
  const pairs: Iterable<readonly [string, string]> = Array.isArray(values)
    ? (values as readonly KeyValue[]).map((kv) => [kv.key, kv.value] as const)
    : Object.entries(values);
  for (const [key, value] of pairs) merged.set(key, value);
  return [[...merged.keys()], [...merged.values()]];
}

/**
 * Creates the run with its tags, always including mlflow.runName and mlflow.user. Idempotent: a
 * replay with the same runId (an activity retried after a lost response) returns the existing run
 * untouched.
 */
export async function createRun(db: Queryable, input: CreateRunInput): Promise<MlflowRun> {
  if (!isExperimentId(input.experimentId)) throw new ExperimentNotFoundError(input.experimentId);
  const [tagKeys, tagValues] = entries({ ...input.tags, [RUN_NAME_TAG]: input.name, [USER_TAG]: input.userId });
  let created: { run: unknown; tags: KeyValue[] } | undefined;
  try {
    // One statement, so the run never exists without its tags; it also returns the new run (its
    // tags sorted like loadRuns sorts them), so a create costs one round trip.
    const { rows } = await db.query(named('mlfleet_create_run',
      `WITH inserted AS (
         INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, artifact_uri)
         VALUES ($1, $2::bigint, $3, $4, $5, $6, $7)
         ON CONFLICT (run_uuid) DO NOTHING
         RETURNING ${RUN_COLUMNS.replace(/r\./g, '')}
       ),
       inserted_tags AS (
         INSERT INTO tags (run_uuid, key, value)
         SELECT inserted.run_uuid, t.key, t.value
         FROM inserted, unnest($8::text[], $9::text[]) AS t(key, value)
         ON CONFLICT (run_uuid, key) DO NOTHING
         RETURNING key, value
       )
       SELECT (SELECT row_to_json(inserted) FROM inserted) AS run,
              COALESCE((SELECT json_agg(json_build_object('key', key, 'value', value) ORDER BY key) FROM inserted_tags), '[]'::json) AS tags`,
      [
        input.runId,
        input.experimentId,
        input.name,
        input.userId,
        input.status ?? 'RUNNING',
        input.startTime,
        input.artifactUri,
        tagKeys,
        tagValues,
      ],
    ));
    created = rows[0] as { run: unknown; tags: KeyValue[] } | undefined;
  } catch (err) {
    if (isForeignKeyViolation(err, 'runs_experiment_id_fkey')) throw new ExperimentNotFoundError(input.experimentId);
    throw err;
  }
  // A new run has exactly the tags just written, and no params, metrics or inputs yet.
  if (created?.run) {
    return { info: toRunInfo(RunRow.parse(created.run)), data: { metrics: [], params: [], tags: created.tags }, inputs: { dataset_inputs: [] } };
  }
  // A replay (the run existed): report it as stored.
  const run = await getRun(db, input.runId);
  if (!run) throw new RunNotFoundError(input.runId);
  return run;
}

/**
 * Runs a guarded UPDATE of a run (a constant of this module, never user input) and reads `columns`
 * of the run afterwards: as updated, or unchanged when the guard refused the change. Undefined when
 * there is no such run.
 */
async function guardedUpdate<T>(db: Queryable, runId: string, sql: string, values: unknown[], columns: string, row: z.ZodType<T>): Promise<T | undefined> {
  const { rows } = await db.query(
    `WITH updated AS (${sql} RETURNING ${columns})
     SELECT ${columns} FROM updated
     UNION ALL
     SELECT ${columns} FROM runs WHERE run_uuid = $1 AND NOT EXISTS (SELECT 1 FROM updated)`,
    [runId, ...values],
  );
  return rows.length === 0 ? undefined : row.parse(rows[0]);
}

/** A guarded status UPDATE: returns the new status, or the unchanged one when the guard refused the change. */
async function guardedStatusUpdate(db: Queryable, runId: string, sql: string, values: unknown[]): Promise<RunStatus> {
  const updated = await guardedUpdate(db, runId, sql, values, 'status', StatusRow);
  if (!updated) throw new RunNotFoundError(runId);
  return updated.status;
}

// Ending a run never overwrites an earlier end, so a late replay cannot change the real outcome.
const END_RUN = `UPDATE runs SET status = $2, end_time = $3 WHERE run_uuid = $1 AND status <> ALL($4::text[])`;

/** Ends the run unless it already ended. Returns the status the run has afterwards. */
export function endRun(db: Queryable, runId: string, status: TerminalRunStatus, endTime: number): Promise<RunStatus> {
  return guardedStatusUpdate(db, runId, END_RUN, [status, endTime, TERMINAL_RUN_STATUSES]);
}

const RunTimesRow = z.object({ start_time: z.number(), end_time: z.number().nullable() });

/**
 * endRun for a run that may not be recorded, logging its duration in seconds as metric `key`, in one
 * round trip (a run's end was two, one after the other). Answers the run's stored start and end
 * times afterwards (the first end, on a replay), or undefined when there is no such run or it ended
 * without an end time. The point is timestamped with the stored end, so a replay logs the very same
 * point (deduplicated); latest_metrics advances as logMetrics advances it (ADVANCE_LATEST_METRIC).
 */
export async function endRunWithDuration(
  db: Queryable,
  runId: string,
  status: TerminalRunStatus,
  endTime: number,
  key: string,
): Promise<{ startTime: number; endTime: number } | undefined> {
  const { rows } = await db.query(
    named(
      'mlfleet_end_run_with_duration',
      `WITH updated AS (
         ${END_RUN}
         RETURNING run_uuid, start_time, end_time
       ),
       -- A run that ended before (a replay) keeps its end; the lock keeps it from being deleted under the point.
       earlier AS (
         SELECT run_uuid, start_time, end_time FROM runs WHERE run_uuid = $1 FOR KEY SHARE
       ),
       run AS (
         SELECT * FROM updated
         UNION ALL
         SELECT * FROM earlier WHERE NOT EXISTS (SELECT 1 FROM updated)
       ),
       point AS (
         -- float8 division, as JavaScript divides: an earlier point of the same end is the same value.
         SELECT run_uuid, (end_time - start_time)::float8 / 1000 AS value, end_time AS timestamp FROM run WHERE end_time IS NOT NULL
       ),
       appended AS (
         INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan)
         SELECT run_uuid, $5, value, timestamp, 0, false FROM point
         ON CONFLICT DO NOTHING
       ),
       latest AS (
         INSERT INTO latest_metrics AS l (run_uuid, key, value, timestamp, step, is_nan)
         SELECT run_uuid, $5, value, timestamp, 0, false FROM point
         ${ADVANCE_LATEST_METRIC}
       )
       SELECT start_time, end_time FROM run`,
      [runId, status, endTime, TERMINAL_RUN_STATUSES, key],
    ),
  );
  const times = rows.length === 0 ? undefined : RunTimesRow.parse(rows[0]);
  return times?.end_time == null ? undefined : { startTime: times.start_time, endTime: times.end_time };
}

/** Moves a run that has not ended to RUNNING (or SCHEDULED); an ended run keeps its status. */
export function setRunStatus(db: Queryable, runId: string, status: 'RUNNING' | 'SCHEDULED'): Promise<RunStatus> {
  return guardedStatusUpdate(
    db,
    runId,
    `UPDATE runs SET status = $2
     WHERE run_uuid = $1 AND status <> ALL($3::text[])`,
    [status, TERMINAL_RUN_STATUSES],
  );
}

export interface RunInfoUpdate {
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

/**
 * MLflow's runs/update: sets what is given, unguarded (a client resuming a run moves it from
 * FINISHED back to RUNNING), and keeps the mlflow.runName tag in step with the name.
 */
export async function updateRunInfo(db: Queryable, runId: string, update: RunInfoUpdate): Promise<MlflowRunInfo> {
  const { rows } = await db.query(named('mlfleet_update_run_info',
    `WITH updated AS (
       UPDATE runs AS r
       SET status = COALESCE($2, r.status),
           end_time = COALESCE($3, r.end_time),
           name = COALESCE(NULLIF($4, ''), r.name)
       WHERE r.run_uuid = $1
       RETURNING ${RUN_COLUMNS}
     ),
     name_tag AS (
       INSERT INTO tags (run_uuid, key, value)
       SELECT run_uuid, $5::text, name FROM updated WHERE NULLIF($4, '') IS NOT NULL
       ON CONFLICT (run_uuid, key) DO UPDATE SET value = EXCLUDED.value
     )
     SELECT * FROM updated`,
    [runId, update.status ?? null, update.endTime ?? null, update.runName ?? null, RUN_NAME_TAG],
  ));
  if (rows.length === 0) throw new RunNotFoundError(runId);
  return toRunInfo(RunRow.parse(rows[0]));
}

/** Upserts tags in one statement; setting mlflow.runName renames the run, as in MLflow. */
export async function setTags(db: Queryable, runId: string, tags: KeyValues): Promise<void> {
  const [keys, values] = entries(tags);
  if (keys.length === 0) return;
  const runName = values[keys.lastIndexOf(RUN_NAME_TAG)] ?? null;
  await onRun(runId, ['tags_run_uuid_fkey'], () =>
    db.query(named('mlfleet_set_tags',
      `WITH renamed AS (
         UPDATE runs SET name = $4 WHERE run_uuid = $1 AND $4::text IS NOT NULL
       )
       INSERT INTO tags (run_uuid, key, value)
       SELECT $1, t.key, t.value FROM unnest($2::text[], $3::text[]) AS t(key, value)
       ON CONFLICT (run_uuid, key) DO UPDATE SET value = EXCLUDED.value`,
      [runId, keys, values, runName],
    )),
  );
}

const ParamOutcomeRow = z.object({
  outcome: z.enum(['conflict', 'unseen']),
  key: z.string(),
  old_value: z.string().nullable(),
  new_value: z.string(),
});

/**
 * Logs write-once params. A key already logged with the same value is a no-op; a different value
 * throws ParamConflictError and, when the conflict is visible up front, writes nothing.
 */
export async function logParams(db: Queryable, runId: string, params: KeyValues): Promise<void> {
  const [keys, values] = entries(params);
  if (keys.length === 0) return;
  const { rows } = await onRun(runId, ['params_run_uuid_fkey'], () =>
    db.query(named('mlfleet_log_params',
      `WITH input AS (
         SELECT t.key, t.value, t.ord FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(key, value, ord)
       ),
       existing AS (
         SELECT i.key, i.value AS new_value, p.value AS old_value, i.ord
         FROM input i JOIN params p ON p.run_uuid = $1 AND p.key = i.key
       ),
       conflict AS (
         SELECT key, old_value, new_value FROM existing WHERE old_value <> new_value ORDER BY ord LIMIT 1
       ),
       inserted AS (
         INSERT INTO params (run_uuid, key, value)
         SELECT $1, key, value FROM input WHERE NOT EXISTS (SELECT 1 FROM conflict)
         ON CONFLICT (run_uuid, key) DO NOTHING
         RETURNING key
       )
       SELECT 'conflict' AS outcome, key, old_value, new_value FROM conflict
       UNION ALL
       -- Skipped by ON CONFLICT yet absent from this statement's snapshot: a concurrent writer won.
       SELECT 'unseen', i.key, NULL, i.value FROM input i
       WHERE NOT EXISTS (SELECT 1 FROM conflict)
         AND i.key NOT IN (SELECT key FROM inserted)
         AND i.key NOT IN (SELECT key FROM existing)`,
      [runId, keys, values],
    )),
  );
  const outcomes = rows.map((row) => ParamOutcomeRow.parse(row));
  const conflict = outcomes.find((o) => o.outcome === 'conflict');
  if (conflict) throw new ParamConflictError(runId, conflict.key, conflict.old_value ?? '', conflict.new_value);
  const unseen = outcomes.filter((o) => o.outcome === 'unseen');
  if (unseen.length === 0) return;
  // A fresh statement sees what the concurrent writer committed.
  const current = await db.query('SELECT key, value FROM params WHERE run_uuid = $1 AND key = ANY($2::text[])', [
    runId,
    unseen.map((o) => o.key),
  ]);
  const stored = new Map(current.rows.map((row) => KeyValueRow.omit({ run_uuid: true }).parse(row)).map((p) => [p.key, p.value]));
  for (const o of unseen) {
    const old = stored.get(o.key);
    if (old !== undefined && old !== o.new_value) throw new ParamConflictError(runId, o.key, old, o.new_value);
  }
}

/**
 * Soft-deletes or restores a run (MLflow's delete_run / restore_run): unguarded, so repeating
 * either is harmless. deleted_time records the first deletion.
 */
export async function setRunLifecycleStage(db: Queryable, runId: string, stage: 'active' | 'deleted', now: number): Promise<void> {
  const { rows } = await db.query(
    `UPDATE runs
     SET lifecycle_stage = $2,
         deleted_time = CASE WHEN $2 = 'deleted' THEN COALESCE(deleted_time, $3::bigint) ELSE NULL END
     WHERE run_uuid = $1
     RETURNING run_uuid`,
    [runId, stage, now],
  );
  if (rows.length === 0) throw new RunNotFoundError(runId);
}

/** Deletes one run tag; false when the run has no such tag. */
export async function deleteTag(db: Queryable, runId: string, key: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM tags WHERE run_uuid = $1 AND key = $2', [runId, key]);
  return (rowCount ?? 0) > 0;
}

/**
 * Reads a run tag with a row lock (inside a transaction), for read-modify-write updates such as
 * MLflow's mlflow.log-model.history list.
 */
export async function getTagForUpdate(db: Queryable, runId: string, key: string): Promise<string | undefined> {
  const { rows } = await db.query('SELECT value FROM tags WHERE run_uuid = $1 AND key = $2 FOR UPDATE', [runId, key]);
  return rows.length === 0 ? undefined : z.object({ value: z.string() }).parse(rows[0]).value;
}

/** Locks the run row, serialising read-modify-write updates of its tags. */
export async function lockRun(db: Queryable, runId: string): Promise<void> {
  const { rows } = await db.query('SELECT run_uuid FROM runs WHERE run_uuid = $1 FOR UPDATE', [runId]);
  if (rows.length === 0) throw new RunNotFoundError(runId);
}
