import { z } from 'zod';
import { named, type Queryable } from './pool';
import type { KeyValue } from './run-record';

// MLflow 3 logged models as the logged_models tables record them: reads and writes of one model.

export const LoggedModelStatus = z.enum(['UNSPECIFIED', 'PENDING', 'READY', 'UPLOAD_FAILED']);
export type LoggedModelStatus = z.infer<typeof LoggedModelStatus>;

/** One point of a model's metrics (every row logged with its model_id, not only the latest). */
export interface LoggedModelMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  runId: string;
  datasetName?: string;
  datasetDigest?: string;
}

/** A logged model; `artifactUri` is `<experiment artifact_location>/models/<id>/artifacts`. */
export interface LoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  artifactUri: string;
  status: LoggedModelStatus;
  statusMessage?: string;
  sourceRunId?: string;
  creationTimestampMs: number;
  lastUpdatedTimestampMs: number;
  modelType?: string;
  deleted: boolean;
  tags: KeyValue[];
  params: KeyValue[];
  metrics: LoggedModelMetric[];
}

const KeyValueRow = z.object({ key: z.string(), value: z.string() });
// z.number() refuses ±Infinity; json_build_object writes them (and NaN) as strings.
const JsonDouble = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity']).transform(Number)]);
const MetricRow = z.object({
  key: z.string(),
  value: JsonDouble,
  timestamp: z.number(),
  step: z.number(),
  run_id: z.string(),
  dataset_name: z.string().nullable(),
  dataset_digest: z.string().nullable(),
});

export const LoggedModelRow = z.object({
  model_id: z.string(),
  experiment_id: z.number().int(),
  name: z.string(),
  artifact_location: z.string(),
  status: LoggedModelStatus,
  status_message: z.string().nullable(),
  creation_timestamp_ms: z.number(),
  last_updated_timestamp_ms: z.number(),
  model_type: z.string().nullable(),
  source_run_id: z.string().nullable(),
  lifecycle_stage: z.enum(['active', 'deleted']),
  tags: z.array(KeyValueRow),
  params: z.array(KeyValueRow),
  metrics: z.array(MetricRow),
});
export type LoggedModelRow = z.infer<typeof LoggedModelRow>;

/** A model with its tags, params and metrics in one round trip; `WHERE` is appended by the caller. */
export const SELECT_LOGGED_MODEL = `
  SELECT m.model_id, m.experiment_id, m.name, m.artifact_location, m.status, m.status_message,
         m.creation_timestamp_ms, m.last_updated_timestamp_ms, m.model_type, m.source_run_id, m.lifecycle_stage,
         COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
                   FROM logged_model_tags t WHERE t.model_id = m.model_id), '[]'::json) AS tags,
         COALESCE((SELECT json_agg(json_build_object('key', p.key, 'value', p.value) ORDER BY p.key)
                   FROM logged_model_params p WHERE p.model_id = m.model_id), '[]'::json) AS params,
         COALESCE((SELECT json_agg(json_build_object('key', x.key, 'value', x.value,
                                                     'timestamp', x.timestamp, 'step', x.step, 'run_id', x.run_id,
                                                     'dataset_name', x.dataset_name, 'dataset_digest', x.dataset_digest)
                                   ORDER BY x.key, x.step, x.timestamp, x.run_id)
                   FROM logged_model_metrics x WHERE x.model_id = m.model_id), '[]'::json) AS metrics
  FROM logged_models m`;

export function toLoggedModel(row: LoggedModelRow): LoggedModel {
  return {
    modelId: row.model_id,
    experimentId: String(row.experiment_id),
    name: row.name,
    artifactUri: row.artifact_location,
    status: row.status,
    ...(row.status_message !== null && { statusMessage: row.status_message }),
    ...(row.source_run_id !== null && { sourceRunId: row.source_run_id }),
    creationTimestampMs: row.creation_timestamp_ms,
    lastUpdatedTimestampMs: row.last_updated_timestamp_ms,
    ...(row.model_type !== null && { modelType: row.model_type }),
    deleted: row.lifecycle_stage === 'deleted',
    tags: row.tags,
    params: row.params,
    metrics: row.metrics.map((m) => ({
      key: m.key,
      value: m.value,
      timestamp: m.timestamp,
      step: m.step,
      runId: m.run_id,
      ...(m.dataset_name !== null && { datasetName: m.dataset_name }),
      ...(m.dataset_digest !== null && { datasetDigest: m.dataset_digest }),
    })),
  };
}

/** The logged model, deleted or not (callers that hide deleted models check `deleted`). */
export async function getLoggedModel(db: Queryable, modelId: string): Promise<LoggedModel | undefined> {
  const { rows } = await db.query(named('mlfleet_get_logged_model', `${SELECT_LOGGED_MODEL} WHERE m.model_id = $1`, [modelId]));
  return rows.length === 0 ? undefined : toLoggedModel(LoggedModelRow.parse(rows[0]));
}

/**
 * Sets (upserts) tags on a model; the last value of a key repeated in `tags` wins. Returns false,
 * writing nothing, when no such model exists (deleted models included, as MLflow's store does).
 */
export async function setLoggedModelTags(db: Queryable, modelId: string, tags: readonly KeyValue[]): Promise<boolean> {
  const last = new Map(tags.map((t) => [t.key, t.value]));
  // MLflow's set_logged_model_tags leaves last_updated_timestamp_ms as it was.
  const { rows } = await db.query(named('mlfleet_set_logged_model_tags',
    `WITH model AS (
       SELECT model_id FROM logged_models WHERE model_id = $1 FOR KEY SHARE
     ), written AS (
       INSERT INTO logged_model_tags (model_id, key, value)
       SELECT model.model_id, t.key, t.value FROM model, unnest($2::text[], $3::text[]) AS t(key, value)
       ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value
     )
     SELECT 1 FROM model`,
    [modelId, [...last.keys()], [...last.values()]],
  ));
  return rows.length > 0;
}

export interface NewLoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  /** `<experiment artifact_location>/models/<id>/artifacts`. */
  artifactLocation: string;
  modelType?: string;
  sourceRunId?: string;
  params: readonly KeyValue[];
  tags: readonly KeyValue[];
  /** Creation and last-update time, epoch ms. */
  now: number;
}

/** A params or tags list that names one key twice (MLflow's store refuses it, as a key is the row's key). */
export class DuplicateModelKeyError extends Error {
  override readonly name = 'DuplicateModelKeyError';
}

/** Inserts a PENDING model with its params and tags in one statement. */
export async function createLoggedModel(db: Queryable, model: NewLoggedModel): Promise<LoggedModel> {
  try {
    await db.query(named('mlfleet_create_logged_model',
      `WITH model AS (
         INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, status, creation_timestamp_ms,
                                    last_updated_timestamp_ms, model_type, source_run_id)
         VALUES ($1, $2::bigint, $3, $4, 'PENDING', $5, $5, $6, $7)
         RETURNING model_id
       ), params AS (
         INSERT INTO logged_model_params (model_id, key, value)
         SELECT model.model_id, p.key, p.value FROM model, unnest($8::text[], $9::text[]) AS p(key, value)
       )
       INSERT INTO logged_model_tags (model_id, key, value)
       SELECT model.model_id, t.key, t.value FROM model, unnest($10::text[], $11::text[]) AS t(key, value)`,
      [
        model.modelId,
        model.experimentId,
        model.name,
        model.artifactLocation,
        model.now,
        model.modelType ?? null,
        model.sourceRunId ?? null,
        model.params.map((p) => p.key),
        model.params.map((p) => p.value),
        model.tags.map((t) => t.key),
        model.tags.map((t) => t.value),
      ],
    ));
  } catch (err) {
    if (isUniqueViolation(err, 'logged_model_params_pkey', 'logged_model_tags_pkey')) throw new DuplicateModelKeyError('duplicate key');
    throw err;
  }
  return (await getLoggedModel(db, model.modelId)) as LoggedModel;
}

function isUniqueViolation(err: unknown, ...constraints: string[]): boolean {
  return err instanceof Error && 'code' in err && err.code === '23505' && 'constraint' in err && constraints.includes(err.constraint as string);
}

/** Sets a model's status (deleted models included, as MLflow's store does); undefined when no such model exists. */
export async function finalizeLoggedModel(db: Queryable, modelId: string, status: LoggedModelStatus, now: number): Promise<LoggedModel | undefined> {
  const { rowCount } = await db.query(named('mlfleet_finalize_logged_model',
    'UPDATE logged_models SET status = $2, last_updated_timestamp_ms = $3 WHERE model_id = $1',
    [modelId, status, now],
  ));
  return rowCount === 0 ? undefined : getLoggedModel(db, modelId);
}

/** Soft-deletes a model (again, if already deleted); false when no such model exists. */
export async function deleteLoggedModel(db: Queryable, modelId: string, now: number): Promise<boolean> {
  const { rowCount } = await db.query(named('mlfleet_delete_logged_model',
    "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = $2 WHERE model_id = $1",
    [modelId, now],
  ));
  return (rowCount ?? 0) > 0;
}

/** Removes one tag: 'no-model' when the model does not exist, 'no-tag' when it has no such tag. */
export async function deleteLoggedModelTag(db: Queryable, modelId: string, key: string): Promise<'deleted' | 'no-model' | 'no-tag'> {
  const { rows } = await db.query(named('mlfleet_delete_logged_model_tag',
    `WITH model AS (
       SELECT model_id FROM logged_models WHERE model_id = $1
     ), removed AS (
       DELETE FROM logged_model_tags t USING model WHERE t.model_id = model.model_id AND t.key = $2 RETURNING 1
     )
     SELECT (SELECT count(*) FROM removed)::int AS removed FROM model`,
    [modelId, key],
  ));
  if (rows.length === 0) return 'no-model';
  return z.object({ removed: z.number().int() }).parse(rows[0]).removed > 0 ? 'deleted' : 'no-tag';
}

/**
 * Adds params to a model; false when no such model exists. A param is written once: a key the
 * model already has, or one named twice, is a DuplicateModelKeyError (nothing is written).
 */
export async function logLoggedModelParams(db: Queryable, modelId: string, params: readonly KeyValue[]): Promise<boolean> {
  try {
    const { rows } = await db.query(named('mlfleet_log_logged_model_params',
      `WITH model AS (
         SELECT model_id FROM logged_models WHERE model_id = $1 FOR KEY SHARE
       ), written AS (
         INSERT INTO logged_model_params (model_id, key, value)
         SELECT model.model_id, p.key, p.value FROM model, unnest($2::text[], $3::text[]) AS p(key, value)
       )
       SELECT 1 FROM model`,
      [modelId, params.map((p) => p.key), params.map((p) => p.value)],
    ));
    return rows.length > 0;
  } catch (err) {
    if (isUniqueViolation(err, 'logged_model_params_pkey')) throw new DuplicateModelKeyError('duplicate key');
    throw err;
  }
}

/** A metric point logged with a model_id (runs/log-metric, runs/log-batch). */
export interface ModelMetricPoint {
  modelId: string;
  key: string;
  value: number;
  timestamp: number;
  step: number;
  datasetName?: string;
  datasetDigest?: string;
}

/** MLflow's sanitize_metric_value for model metrics, which keep no NaN flag: NaN is 0, ±Infinity the largest doubles. */
const storedMetricValue = (value: number): number =>
  Number.isNaN(value) ? 0 : value === Infinity ? Number.MAX_VALUE : value === -Infinity ? -Number.MAX_VALUE : value;

/** A metric point names a model that does not exist. */
export class ModelMetricModelNotFoundError extends Error {
  override readonly name = 'ModelMetricModelNotFoundError';
  constructor(readonly modelId: string) {
    super(`Logged model with ID '${modelId}' not found.`);
  }
}

/** A point of a model's metric logged again by the same run, key, timestamp and step, with another value or dataset. */
export class ModelMetricConflictError extends Error {
  override readonly name = 'ModelMetricConflictError';
}

/**
 * Records the points of a run that name a model as that model's metrics. As in MLflow's store, a
 * point is keyed by model, run, key, timestamp and step: one replayed as it was is dropped, one with
 * another value or dataset is a ModelMetricConflictError, and a missing model a
 * ModelMetricModelNotFoundError; either way nothing is written.
 */
export async function logModelMetrics(db: Queryable, runId: string, points: readonly ModelMetricPoint[]): Promise<void> {
  if (points.length === 0) return;
  const conflict = (p: ModelMetricPoint) =>
    new ModelMetricConflictError(`Metric '${p.key}' of logged model '${p.modelId}' at timestamp ${p.timestamp} and step ${p.step} was already logged by run ${runId} with another value.`);
  const seen = new Map<string, string>();
  for (const p of points) {
    const key = JSON.stringify([p.modelId, p.key, p.timestamp, p.step]);
    const value = JSON.stringify([storedMetricValue(p.value), p.datasetName ?? null, p.datasetDigest ?? null]);
    if ((seen.get(key) ?? value) !== value) throw conflict(p);
    seen.set(key, value);
  }
  let rows: unknown[];
  try {
    ({ rows } = await db.query(named('mlfleet_log_model_metrics',
      `WITH input AS (
         SELECT * FROM unnest($2::text[], $3::text[], $4::float8[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])
           WITH ORDINALITY AS t(model_id, key, value, timestamp, step, dataset_name, dataset_digest, ord)
       ), clash AS (
         SELECT t.ord FROM input t
         JOIN logged_model_metrics x
           ON x.model_id = t.model_id AND x.key = t.key AND x.timestamp = t.timestamp AND x.step = t.step AND x.run_id = $1
         WHERE (x.value, x.dataset_name, x.dataset_digest) IS DISTINCT FROM (t.value, t.dataset_name, t.dataset_digest)
         LIMIT 1
       ), written AS (
         INSERT INTO logged_model_metrics (model_id, key, value, timestamp, step, run_id, dataset_name, dataset_digest)
         SELECT t.model_id, t.key, t.value, t.timestamp, t.step, $1, t.dataset_name, t.dataset_digest
         FROM input t WHERE NOT EXISTS (SELECT 1 FROM clash)
         ON CONFLICT DO NOTHING
       )
       SELECT ord FROM clash`,
      [
        runId,
        points.map((p) => p.modelId),
        points.map((p) => p.key),
        points.map((p) => storedMetricValue(p.value)),
        points.map((p) => p.timestamp),
        points.map((p) => p.step),
        points.map((p) => p.datasetName ?? null),
        points.map((p) => p.datasetDigest ?? null),
      ],
    )));
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === '23503' && 'constraint' in err && err.constraint === 'logged_model_metrics_model_id_fkey') {
      const detail = 'detail' in err && typeof err.detail === 'string' ? /\(model_id\)=\(([^)]*)\)/.exec(err.detail)?.[1] : undefined;
      throw new ModelMetricModelNotFoundError(detail ?? points[0]?.modelId ?? '');
    }
    throw err;
  }
  if (rows.length > 0) {
    const ord = z.object({ ord: z.coerce.number().int() }).parse(rows[0]).ord;
    throw conflict(points[ord - 1] as ModelMetricPoint);
  }
}

/** A run named as the output of a model it already produced (MLflow's store refuses the second link). */
export class DuplicateModelOutputError extends Error {
  override readonly name = 'DuplicateModelOutputError';
}

/** Links models a run produced (runs/outputs); linking one twice is a DuplicateModelOutputError, and nothing is written. */
export async function logRunModelOutputs(db: Queryable, runId: string, outputs: ReadonlyArray<{ modelId: string; step: number }>): Promise<void> {
  if (outputs.length === 0) return;
  try {
    await db.query(named('mlfleet_log_run_model_outputs',
      `INSERT INTO run_model_outputs (run_id, model_id, step)
       SELECT $1, t.model_id, t.step FROM unnest($2::text[], $3::bigint[]) AS t(model_id, step)`,
      [runId, outputs.map((o) => o.modelId), outputs.map((o) => o.step)],
    ));
  } catch (err) {
    if (isUniqueViolation(err, 'run_model_outputs_pkey')) throw new DuplicateModelOutputError(`Run ${runId} already has a model output naming one of these models.`);
    throw err;
  }
}

/** Links models a run read (runs/log-inputs models[]); a link made again is a no-op. */
export async function logRunModelInputs(db: Queryable, runId: string, modelIds: readonly string[]): Promise<void> {
  if (modelIds.length === 0) return;
  await db.query(named('mlfleet_log_run_model_inputs',
    `INSERT INTO run_model_inputs (run_id, model_id) SELECT $1, t.model_id FROM unnest($2::text[]) AS t(model_id)
     ON CONFLICT DO NOTHING`,
    [runId, [...modelIds]],
  ));
}
