import pg from 'pg';
import { z } from 'zod';
import { isExperimentId } from '../domain/auth';
import { RunStatus } from '../domain/launch';
import { ExperimentNotFoundError } from './experiments';
import { named, type Queryable } from './pool';

export type TerminalRunStatus = 'FINISHED' | 'FAILED' | 'KILLED';
const TERMINAL_RUN_STATUSES: readonly TerminalRunStatus[] = ['FINISHED', 'FAILED', 'KILLED'];

export const RUN_NAME_TAG = 'mlflow.runName';
export const USER_TAG = 'mlflow.user';
export const PARENT_RUN_TAG = 'mlflow.parentRunId';

export interface KeyValue {
  key: string;
  value: string;
}

/** Tags or params as a record, or MLflow's list of {key, value} (where the last value of a key wins). */
export type KeyValues = Readonly<Record<string, string>> | readonly KeyValue[];

export interface MetricPoint {
  key: string;
  /** NaN and ±Infinity are allowed. */
  value: number;
  /** Epoch milliseconds. */
  timestamp: number;
  step?: number;
}

export interface MlflowRunInfo {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: 'active' | 'deleted';
}

export interface MlflowMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface MlflowDatasetInput {
  tags: KeyValue[];
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
}

/** A run in MLflow's JSON shape; `data.metrics` holds the latest point per key. */
export interface MlflowRun {
  info: MlflowRunInfo;
  data: { metrics: MlflowMetric[]; params: KeyValue[]; tags: KeyValue[] };
  inputs: { dataset_inputs: MlflowDatasetInput[] };
}

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

export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
  constructor(readonly runId: string) {
    super(`Run with id=${runId} not found`);
  }
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

export const isTerminalRunStatus = (status: RunStatus): status is TerminalRunStatus =>
  (TERMINAL_RUN_STATUSES as readonly RunStatus[]).includes(status);

const RunRow = z.object({
  run_uuid: z.string(),
  experiment_id: z.number().int(),
  name: z.string(),
  user_id: z.string(),
  status: RunStatus,
  start_time: z.number(),
  end_time: z.number().nullable(),
  artifact_uri: z.string(),
  lifecycle_stage: z.enum(['active', 'deleted']),
});
type RunRow = z.infer<typeof RunRow>;

const KeyValueRow = z.object({ run_uuid: z.string(), key: z.string(), value: z.string() });
// z.number() refuses ±Infinity, which a double precision column legitimately holds.
const Double = z.custom<number>((value) => typeof value === 'number', 'expected a double');
const MetricRow = z.object({
  run_uuid: z.string(),
  key: z.string(),
  value: Double,
  timestamp: z.number(),
  step: z.number(),
  is_nan: z.boolean(),
});
const DatasetInputRow = z.object({
  run_uuid: z.string(),
  name: z.string(),
  digest: z.string(),
  source_type: z.string(),
  source: z.string(),
  schema: z.string().nullable(),
  profile: z.string().nullable(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })),
});
const StatusRow = z.object({ status: RunStatus });

const RUN_COLUMNS = 'r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage';

function toRunInfo(row: RunRow): MlflowRunInfo {
  return {
    run_id: row.run_uuid,
    run_uuid: row.run_uuid,
    run_name: row.name,
    experiment_id: String(row.experiment_id),
    user_id: row.user_id,
    status: row.status,
    start_time: row.start_time,
    ...(row.end_time !== null && { end_time: row.end_time }),
    artifact_uri: row.artifact_uri,
    lifecycle_stage: row.lifecycle_stage,
  };
}

/** Record or list → unique keys in first-seen order, last value winning (one upsert row per key). */
function entries(values: KeyValues): [keys: string[], values: string[]] {
  const merged = new Map<string, string>();
  const pairs: Iterable<readonly [string, string]> = Array.isArray(values)
    ? (values as readonly KeyValue[]).map((kv) => [kv.key, kv.value] as const)
    : Object.entries(values);
  for (const [key, value] of pairs) merged.set(key, value);
  return [[...merged.keys()], [...merged.values()]];
}

function isForeignKeyViolation(err: unknown, ...constraints: string[]): boolean {
  return (
    err instanceof Error &&
    'code' in err &&
    err.code === '23503' &&
    'constraint' in err &&
    constraints.includes(err.constraint as string)
  );
}

/** Runs a write whose only foreign keys point at the run, turning their violation into RunNotFoundError. */
async function onRun<T>(runId: string, constraints: string[], write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isForeignKeyViolation(err, ...constraints)) throw new RunNotFoundError(runId);
    throw err;
  }
}

/**
 * One collection (params, tags or latest metrics) of a page of runs as PostgreSQL aggregates it:
 * one JSON document of column arrays, aligned and sorted by (key, run). The driver decodes it with
 * one native JSON.parse, where one result row per entry cost ~2 µs each in the driver: a page of
 * 1,000 runs holds ~25,000 entries, and decoding their rows was most of a search's time.
 * Non-finite doubles arrive as the JSON strings PostgreSQL writes for them ('Infinity', 'NaN').
 */
interface EntryColumns {
  r: string[] | null;
  k: string[] | null;
  v: string[] | null;
}
interface MetricColumns {
  r: string[] | null;
  k: string[] | null;
  v: JsonDouble[] | null;
  t: number[] | null;
  s: number[] | null;
  n: boolean[] | null;
}
type JsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';
/** A metric history row (typed by the driver: int8 → number, see pool.ts). */
interface HistoryRow {
  value: number;
  timestamp: number;
  step: number;
  is_nan: boolean;
}
const fromJsonDouble = (value: JsonDouble): number => (typeof value === 'number' ? value : Number(value));

// Whitelisted table names only; the run ids travel as a parameter.
const entryColumnsSql = (table: 'params' | 'tags'): string =>
  `SELECT json_build_object('r', array_agg(run_uuid ORDER BY key, run_uuid), 'k', array_agg(key ORDER BY key, run_uuid),
                            'v', array_agg(value ORDER BY key, run_uuid)) AS c
   FROM (SELECT run_uuid, key, value FROM ${table} WHERE run_uuid = ANY($1::text[]) ORDER BY key, run_uuid) e`;
const METRIC_COLUMNS_SQL = `SELECT json_build_object('r', array_agg(run_uuid ORDER BY key, run_uuid), 'k', array_agg(key ORDER BY key, run_uuid),
                          'v', array_agg(value ORDER BY key, run_uuid), 't', array_agg(timestamp ORDER BY key, run_uuid),
                          's', array_agg(step ORDER BY key, run_uuid), 'n', array_agg(is_nan ORDER BY key, run_uuid)) AS c
   FROM (SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid = ANY($1::text[]) ORDER BY key, run_uuid) e`;
const PARAM_COLUMNS_SQL = entryColumnsSql('params');
const TAG_COLUMNS_SQL = entryColumnsSql('tags');

/** Params, tags, latest metrics and dataset inputs of many runs in a fixed number of queries. */
async function loadRuns(db: Queryable, rawRows: unknown[]): Promise<MlflowRun[]> {
  const rows = rawRows.map((row) => RunRow.parse(row));
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.run_uuid);
  const byRun = new Map(
    rows.map((row): [string, MlflowRun] => [
      row.run_uuid,
      { info: toRunInfo(row), data: { metrics: [], params: [], tags: [] }, inputs: { dataset_inputs: [] } },
    ]),
  );
  const runOf = (runId: string): MlflowRun => byRun.get(runId) as MlflowRun;

  const queries = [
    () => db.query<{ c: EntryColumns }>(PARAM_COLUMNS_SQL, [ids]),
    () => db.query<{ c: EntryColumns }>(TAG_COLUMNS_SQL, [ids]),
    () => db.query<{ c: MetricColumns }>(METRIC_COLUMNS_SQL, [ids]),
    () =>
      db.query(
        `SELECT i.destination_id AS run_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
                COALESCE((SELECT json_agg(json_build_object('key', t.name, 'value', t.value) ORDER BY t.name)
                          FROM input_tags t WHERE t.input_uuid = i.input_uuid), '[]'::json) AS tags
         FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
         WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ANY($1::text[])
         ORDER BY d.name, d.digest`,
        [ids],
      ),
  ] as const;
  // A pool runs the four on separate connections at once (a search page's latency); any other
  // Queryable may be a single transaction client, which runs one query at a time.
  const [params, tags, metrics, inputs] =
    db instanceof pg.Pool
      ? await Promise.all([queries[0](), queries[1](), queries[2](), queries[3]()])
      : [await queries[0](), await queries[1](), await queries[2](), await queries[3]()];
  for (const [result, into] of [
    [params, (run: MlflowRun) => run.data.params],
    [tags, (run: MlflowRun) => run.data.tags],
  ] as const) {
    const { r, k, v } = (result.rows[0] as { c: EntryColumns }).c;
    if (!r || !k || !v) continue;
    for (let i = 0; i < r.length; i++) into(runOf(r[i] as string)).push({ key: k[i] as string, value: v[i] as string });
  }
  const m = (metrics.rows[0] as { c: MetricColumns }).c;
  if (m.r && m.k && m.v && m.t && m.s && m.n) {
    for (let i = 0; i < m.r.length; i++) {
      // MLflow stores NaN as 0 with is_nan.
      const value = m.n[i] ? Number.NaN : fromJsonDouble(m.v[i] as JsonDouble);
      runOf(m.r[i] as string).data.metrics.push({ key: m.k[i] as string, value, timestamp: m.t[i] as number, step: m.s[i] as number });
    }
  }
  for (const row of inputs.rows) {
    const input = DatasetInputRow.parse(row);
    runOf(input.run_uuid).inputs.dataset_inputs.push({
      tags: input.tags,
      dataset: {
        name: input.name,
        digest: input.digest,
        source_type: input.source_type,
        source: input.source,
        ...(input.schema !== null && { schema: input.schema }),
        ...(input.profile !== null && { profile: input.profile }),
      },
    });
  }
  return rows.map((row) => runOf(row.run_uuid));
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

// An insert into latest_metrics (aliased l) keeps the greatest (step, timestamp, value) per key, so
// a point logged late at a lower step never replaces the latest one.
const ADVANCE_LATEST_METRIC = `ON CONFLICT (run_uuid, key) DO UPDATE
  SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, step = EXCLUDED.step, is_nan = EXCLUDED.is_nan
  WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > (l.step, l.timestamp, l.value)`;

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
 * Appends metric points and advances latest_metrics in one statement. A replayed point collides with
 * itself and is dropped; the latest point per key is the greatest (step, timestamp, value), so a point
 * logged late at a lower step never replaces it.
 */
export async function logMetrics(db: Queryable, runId: string, metrics: readonly MetricPoint[]): Promise<void> {
  if (metrics.length === 0) return;
  const keys: string[] = [];
  const values: number[] = [];
  const timestamps: number[] = [];
  const steps: number[] = [];
  const nans: boolean[] = [];
  for (const m of metrics) {
    const isNan = Number.isNaN(m.value);
    keys.push(m.key);
    // MLflow stores NaN as 0 with is_nan; ±Infinity fits a double precision column as is.
    values.push(isNan ? 0 : m.value);
    timestamps.push(m.timestamp);
    steps.push(m.step ?? 0);
    nans.push(isNan);
  }
  // metrics has no foreign key since migration 0005 (a per-row check was a third of a 1000-point
  // batch): the statement locks the run row FOR KEY SHARE once, as each row's check did, and
  // writes nothing when the run does not exist.
  const { rows } = await onRun(runId, ['latest_metrics_run_uuid_fkey'], () =>
    db.query(
      named(
        'mlfleet_log_metrics',
        `WITH run AS (
           SELECT run_uuid FROM runs WHERE run_uuid = $1 FOR KEY SHARE
         ),
         input AS (
           SELECT * FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[], $6::boolean[])
             AS t(key, value, timestamp, step, is_nan)
         ),
         appended AS (
           INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan)
           SELECT run.run_uuid, key, value, timestamp, step, is_nan FROM input, run
           ON CONFLICT DO NOTHING
         ),
         -- One row per key: ON CONFLICT DO UPDATE may touch a row only once per statement.
         newest AS (
           SELECT DISTINCT ON (key) key, value, timestamp, step, is_nan
           FROM input ORDER BY key, step DESC, timestamp DESC, value DESC
         ),
         latest AS (
           INSERT INTO latest_metrics AS l (run_uuid, key, value, timestamp, step, is_nan)
           SELECT run.run_uuid, key, value, timestamp, step, is_nan FROM newest, run
           ${ADVANCE_LATEST_METRIC}
         )
         SELECT count(*)::int AS runs FROM run`,
        [runId, keys, values, timestamps, steps, nans],
      ),
    ),
  );
  if ((rows[0] as { runs: number } | undefined)?.runs !== 1) throw new RunNotFoundError(runId);
}

/** The run's info alone (no params, tags or metrics): a cheap existence and lifecycle check. */
export async function getRunInfo(db: Queryable, runId: string): Promise<MlflowRunInfo | undefined> {
  const { rows } = await db.query(named('mlfleet_get_run_info', `SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1`, [runId]));
  return rows.length === 0 ? undefined : toRunInfo(RunRow.parse(rows[0]));
}

/** Runs by id, in the given order (ids of runs that do not exist drop out), fully loaded in 5 queries. */
export async function getRunsByIds(db: Queryable, runIds: readonly string[]): Promise<MlflowRun[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ANY($1::text[])`, [[...runIds]]);
  const byId = new Map((await loadRuns(db, rows)).map((run) => [run.info.run_id, run]));
  return runIds.map((id) => byId.get(id)).filter((run): run is MlflowRun => run !== undefined);
}

export async function getRun(db: Queryable, runId: string): Promise<MlflowRun | undefined> {
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1`, [runId]);
  const [run] = await loadRuns(db, rows);
  return run;
}

/** Active runs tagged mlflow.parentRunId = parentRunId, newest first (MLflow's default order). */
export async function listChildRuns(db: Queryable, parentRunId: string): Promise<MlflowRun[]> {
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS}
     FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid
     WHERE t.key = $1 AND t.value = $2 AND r.lifecycle_stage = 'active'
     ORDER BY r.start_time DESC, r.run_uuid`,
    [PARENT_RUN_TAG, parentRunId],
  );
  return loadRuns(db, rows);
}

// ---- run lifecycle, tag deletion, logged models and metric history (MLflow REST endpoints) ----

export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';

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

/** Where a metric history page ends: the full ordering key of its last point. */
export interface MetricCursor {
  step: number;
  timestamp: number;
  isNan: boolean;
  value: number;
}

export interface MetricHistoryPage {
  metrics: MlflowMetric[];
  /** Set when more points follow. */
  next?: MetricCursor;
}

/**
 * One metric's points ordered by (step, timestamp); ties (same step and timestamp) by NaN-ness and
 * value, which with the run and key form the primary key (in that order since migration 0005), so a
 * page is an index range scan and keyset paging never skips or repeats. Without a limit, every point.
 * Rows are read without per-row validation: a history can hold millions of points.
 */
export async function getMetricHistory(
  db: Queryable,
  runId: string,
  key: string,
  page: { limit?: number; after?: MetricCursor } = {},
): Promise<MetricHistoryPage> {
  const { after, limit } = page;
  const { rows } = await db.query<HistoryRow>(
    `SELECT step, timestamp, is_nan, value FROM metrics
     WHERE run_uuid = $1 AND key = $2
       AND ($3::bigint IS NULL OR (step, timestamp, is_nan, value) > ($3::bigint, $4::bigint, $5::boolean, $6::float8))
     ORDER BY step, timestamp, is_nan, value
     LIMIT $7`,
    [runId, key, after?.step ?? null, after?.timestamp ?? null, after?.isNan ?? null, after?.value ?? null, limit === undefined ? null : limit + 1],
  );
  const hasMore = limit !== undefined && rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const metrics = new Array<MlflowMetric>(pageRows.length);
  for (let i = 0; i < pageRows.length; i++) {
    const { step, timestamp, is_nan, value } = pageRows[i] as (typeof pageRows)[number];
    metrics[i] = { key, value: is_nan ? Number.NaN : value, timestamp, step };
  }
  const last = pageRows.at(-1);
  return {
    metrics,
    ...(hasMore && last && { next: { step: last.step, timestamp: last.timestamp, isNan: last.is_nan, value: last.value } }),
  };
}

/** The distinct steps logged for `key` across `runIds`, ascending, and each run's own min and max step. */
export async function getMetricSteps(
  db: Queryable,
  runIds: readonly string[],
  key: string,
): Promise<{ steps: number[]; runMinMax: number[] }> {
  const { rows } = await db.query(
    `SELECT run_uuid, array_agg(DISTINCT step ORDER BY step)::float8[] AS steps
     FROM metrics WHERE run_uuid = ANY($1::text[]) AND key = $2
     GROUP BY run_uuid`,
    [runIds, key],
  );
  const all = new Set<number>();
  const runMinMax: number[] = [];
  for (const row of rows) {
    const { steps } = z.object({ steps: z.array(z.number()) }).parse(row);
    for (const step of steps) all.add(step);
    if (steps.length > 0) runMinMax.push(steps[0] as number, steps.at(-1) as number);
  }
  return { steps: [...all].sort((a, b) => a - b), runMinMax };
}

export interface MetricWithRunId extends MlflowMetric {
  run_id: string;
}

/**
 * MLflow's get_metric_history_bulk_interval_from_steps: each run's points of `key` at `steps`,
 * ordered by step then timestamp, at most `perRunLimit` per run, runs in the order given.
 */
export async function getMetricsAtSteps(
  db: Queryable,
  runIds: readonly string[],
  key: string,
  steps: readonly number[],
  perRunLimit: number,
): Promise<MetricWithRunId[]> {
  if (runIds.length === 0 || steps.length === 0) return [];
  const { rows } = await db.query(
    `SELECT run_uuid, key, value, timestamp, step, is_nan FROM (
       SELECT m.*, row_number() OVER (PARTITION BY run_uuid ORDER BY step, timestamp, is_nan, value) AS n
       FROM metrics m
       WHERE run_uuid = ANY($1::text[]) AND key = $2 AND step = ANY($3::bigint[])
     ) ranked
     WHERE n <= $4
     ORDER BY array_position($1::text[], run_uuid), step, timestamp, is_nan, value`,
    [runIds, key, steps, perRunLimit],
  );
  return rows.map((row) => {
    const m = MetricRow.parse(row);
    return { key: m.key, value: m.is_nan ? Number.NaN : m.value, timestamp: m.timestamp, step: m.step, run_id: m.run_uuid };
  });
}
