import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { RunStatus } from '../../domain/launch';
import { getExperiment, getExperimentByName } from '../../store/experiments';
import { withTransaction } from '../../store/pool';
import {
  getRun,
  getRunInfo,
  logMetrics,
  logParams,
  setTags,
  updateRunInfo,
  type KeyValue,
  type MetricPoint,
  type MlflowRun,
  type MlflowRunInfo,
} from '../../store/runs';
import { MlflowError, invalidParameter, missingParameter, runNotFound } from './errors';

export interface MlflowRouteDeps {
  pool: pg.Pool;
}

/** Where MLflow clients (/api) and the MLflow UI (/ajax-api) reach the same handlers. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

// Limits from mlflow/utils/validation.py.
const MAX_METRICS_PER_BATCH = 1000;
const MAX_PARAMS_TAGS_PER_BATCH = 100;
const MAX_ENTITIES_PER_BATCH = 1000;
const MAX_ENTITY_KEY_LENGTH = 250;
const MAX_PARAM_VAL_LENGTH = 6000;
const MAX_TAG_VAL_LENGTH = 8000;

// ---- request parsing -------------------------------------------------------------------------

/** int64 fields arrive as JSON numbers or numeric strings (protobuf JSON). */
const Int64 = z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]);
/** Doubles may also be the protobuf JSON strings for NaN and ±Infinity. */
const Double = z.union([
  z.number(),
  z
    .string()
    .regex(/^(NaN|-?Infinity|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/)
    .transform(Number),
]);
/** Proto2 optional: absent and null both mean unset. */
const OptString = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);
const ReqString = z.string().min(1);
// Enums arrive by name, or by number as ParseDict also accepts.
const RunStatusField = z.union([
  RunStatus,
  z
    .number()
    .int()
    .min(1)
    .max(5)
    .transform((n) => RunStatus.options[n - 1] as RunStatus),
]);

const RunRef = { run_id: OptString, run_uuid: OptString };
const MetricItem = z.object({ key: ReqString, value: Double, timestamp: Int64, step: Int64.nullish() });
const KeyValueItem = z.object({ key: ReqString, value: z.string().nullish() });

const GetExperimentQuery = z.object({ experiment_id: ReqString });
const GetExperimentByNameQuery = z.object({ experiment_name: ReqString });
const LogMetricBody = z.object({ ...RunRef, ...MetricItem.shape });
const LogParamBody = z.object({ ...RunRef, key: ReqString, value: z.string().nullish() });
const SetTagBody = LogParamBody;
const LogBatchBody = z.object({
  ...RunRef,
  metrics: z.array(MetricItem).nullish(),
  params: z.array(KeyValueItem).nullish(),
  tags: z.array(KeyValueItem).nullish(),
});
const UpdateRunBody = z.object({ ...RunRef, status: RunStatusField.nullish(), end_time: Int64.nullish(), run_name: OptString });

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, part) => (typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[part] : undefined),
    data,
  );
}

/** Validates with zod, answering the first problem with MLflow's own schema messages. */
function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  if (path.length === 0) throw new MlflowError('INVALID_PARAMETER_VALUE', 'The request body must be a JSON object.');
  const value = valueAt(data, path);
  // MLflow's _assert_required treats an empty string like an absent field.
  if (value === undefined || value === null || value === '') throw missingParameter(formatPath(path));
  throw invalidParameter(formatPath(path), value);
}

const RunRefSchema = z.object(RunRef);

/** Parses a request about one run; the run id is checked first, as MLflow's schemas list it first. */
function parseRunRequest<S extends z.ZodType>(schema: S, data: unknown): { runId: string; body: z.output<S> } {
  const ref = parse(RunRefSchema, data);
  // The client sends both (run_uuid is the legacy name); either one identifies the run, and an
  // empty string counts as absent.
  const runId = ref.run_id || ref.run_uuid;
  if (!runId) throw missingParameter('run_id');
  return { runId, body: parse(schema, data) };
}

// Python's posixpath.normpath, which MLflow uses to reject keys that would alias as file paths.
function normpath(path: string): string {
  if (path === '') return '.';
  const leading = path.startsWith('//') && !path.startsWith('///') ? 2 : path.startsWith('/') ? 1 : 0;
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..' || (leading === 0 && parts.length === 0) || parts.at(-1) === '..') parts.push(part);
    else parts.pop();
  }
  return '/'.repeat(leading) + parts.join('/') || '.';
}

// Python's \w is Unicode-aware, hence \p{L}\p{N} rather than JS's ASCII \w.
const KEY_CHARACTERS = /^[\p{L}\p{N}_/.\- :]*$/u;
const BAD_CHARACTERS_MESSAGE =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';

/** MLflow's key rules for metric, param and tag names (mlflow/utils/validation.py). */
function validateKey(key: string, path: string, entity: string): void {
  const invalid = (why: string) =>
    new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value ${JSON.stringify(key)} for parameter '${path}' supplied: ${why}`);
  if (!KEY_CHARACTERS.test(key)) throw invalid(BAD_CHARACTERS_MESSAGE);
  const norm = normpath(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw invalid(
      'Names may be treated as files in certain cases, and must not resolve to other names when treated as such. ' +
        `This name would resolve to '${norm}'`,
    );
  }
  if (key.length > MAX_ENTITY_KEY_LENGTH) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `'${entity}' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
  }
}

function validateValue(value: string, entity: string, limit: number): void {
  if (value.length > limit) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `'${entity}' exceeds the maximum length of ${limit} characters`);
  }
}

function toMetricPoint(metric: z.output<typeof MetricItem>, path: string): MetricPoint {
  validateKey(metric.key, `${path}key`, 'Metric name');
  if (metric.timestamp < 0) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid value ${metric.timestamp} for parameter '${path}timestamp' supplied: metric timestamp must be a nonnegative long (64-bit integer)`,
    );
  }
  return { key: metric.key, value: metric.value, timestamp: metric.timestamp, step: metric.step ?? 0 };
}

function toParam(item: { key: string; value?: string | null | undefined }, path: string): KeyValue {
  const value = item.value ?? '';
  validateKey(item.key, `${path}key`, 'Param key');
  validateValue(value, 'Param value', MAX_PARAM_VAL_LENGTH);
  return { key: item.key, value };
}

function toTag(item: { key: string; value?: string | null | undefined }, path: string): KeyValue {
  const value = item.value ?? '';
  validateKey(item.key, `${path}key`, 'Tag key');
  validateValue(value, 'Tag value', MAX_TAG_VAL_LENGTH);
  return { key: item.key, value };
}

function checkBatchLimit(entity: string, limit: number, count: number): void {
  if (count > limit) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `A batch logging request can contain at most ${limit} ${entity}. Got ${count} ${entity}. ` +
        `Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

// ---- responses ---------------------------------------------------------------------------------

/** Doubles in protobuf JSON: NaN and ±Infinity travel as strings (JSON.stringify would write null). */
const encodeDouble = (value: number): number | string =>
  Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : value;

const encodeRun = (run: MlflowRun) => ({
  ...run,
  data: { ...run.data, metrics: run.data.metrics.map((m) => ({ ...m, value: encodeDouble(m.value) })) },
});

// ---- routes ------------------------------------------------------------------------------------

/** Writes go only to runs that exist and are not deleted (MLflow's _check_run_is_active). */
async function requireActiveRun(pool: pg.Pool, runId: string): Promise<MlflowRunInfo> {
  const info = await getRunInfo(pool, runId);
  if (!info) throw runNotFound(runId);
  if (info.lifecycle_stage !== 'active') {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `The run ${runId} must be in the 'active' state. Current state is ${info.lifecycle_stage}.`,
    );
  }
  return info;
}

/** MLflow accepts an empty body as `{}` and a JSON string holding the JSON (double-encoded). */
function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') return {};
  const parsed: unknown = JSON.parse(raw);
  return typeof parsed === 'string' ? (JSON.parse(parsed) as unknown) : parsed;
}

function mlflowRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, raw, done) => {
    try {
      done(null, parseJsonBody(raw as string));
    } catch {
      done(new MlflowError('BAD_REQUEST', 'The request body is not valid JSON.'));
    }
  });

  scope.get('/experiments/get', async (request) => {
    const { experiment_id } = parse(GetExperimentQuery, request.query);
    const experiment = await getExperiment(pool, experiment_id);
    if (!experiment) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experiment_id} exists`);
    return { experiment };
  });

  scope.get('/experiments/get-by-name', async (request) => {
    const { experiment_name } = parse(GetExperimentByNameQuery, request.query);
    const experiment = await getExperimentByName(pool, experiment_name);
    if (!experiment) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${experiment_name}'`);
    }
    return { experiment };
  });

  scope.get('/runs/get', async (request) => {
    const { runId } = parseRunRequest(RunRefSchema, request.query);
    const run = await getRun(pool, runId);
    if (!run) throw runNotFound(runId);
    return { run: encodeRun(run) };
  });

  scope.post('/runs/log-metric', async (request) => {
    const { runId, body } = parseRunRequest(LogMetricBody, request.body);
    const metric = toMetricPoint(body, '');
    await requireActiveRun(pool, runId);
    await logMetrics(pool, runId, [metric]);
    return {};
  });

  scope.post('/runs/log-parameter', async (request) => {
    const { runId, body } = parseRunRequest(LogParamBody, request.body);
    const param = toParam(body, '');
    await requireActiveRun(pool, runId);
    await logParams(pool, runId, [param]);
    return {};
  });

  scope.post('/runs/set-tag', async (request) => {
    const { runId, body } = parseRunRequest(SetTagBody, request.body);
    const tag = toTag(body, '');
    await requireActiveRun(pool, runId);
    await setTags(pool, runId, [tag]);
    return {};
  });

  scope.post('/runs/log-batch', async (request) => {
    const { runId, body } = parseRunRequest(LogBatchBody, request.body);
    const [rawMetrics, rawParams, rawTags] = [body.metrics ?? [], body.params ?? [], body.tags ?? []];
    checkBatchLimit('metrics', MAX_METRICS_PER_BATCH, rawMetrics.length);
    checkBatchLimit('params', MAX_PARAMS_TAGS_PER_BATCH, rawParams.length);
    checkBatchLimit('tags', MAX_PARAMS_TAGS_PER_BATCH, rawTags.length);
    checkBatchLimit('metrics, params, and tags', MAX_ENTITIES_PER_BATCH, rawMetrics.length + rawParams.length + rawTags.length);
    const metrics = rawMetrics.map((m, i) => toMetricPoint(m, `metrics[${i}].`));
    const params = rawParams.map((p, i) => toParam(p, `params[${i}].`));
    const tags = rawTags.map((t, i) => toTag(t, `tags[${i}].`));
    const duplicates = params.map((p) => p.key).filter((key, i, keys) => keys.indexOf(key) !== i);
    if (duplicates.length > 0) {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `Duplicate parameter keys have been submitted: [${duplicates.map((k) => `'${k}'`).join(', ')}]. ` +
          'Please ensure the request contains only one param value per param key.',
      );
    }
    await requireActiveRun(pool, runId);
    // All or nothing, so a client retrying a failed batch never finds half of it applied.
    await withTransaction(pool, async (tx) => {
      await logParams(tx, runId, params);
      await logMetrics(tx, runId, metrics);
      await setTags(tx, runId, tags);
    });
    return {};
  });

  scope.post('/runs/update', async (request) => {
    const { runId, body } = parseRunRequest(UpdateRunBody, request.body);
    await requireActiveRun(pool, runId);
    const runInfo = await updateRunInfo(pool, runId, {
      ...(body.status != null && { status: body.status }),
      ...(body.end_time != null && { endTime: body.end_time }),
      ...(body.run_name !== undefined && { runName: body.run_name }),
    });
    return { run_info: runInfo };
  });
}

/** Registers the MLflow REST 2.0 routes (and MLflow's error bodies) under both MLflow prefixes. */
export function registerMlflowRoutes(app: FastifyInstance, deps: MlflowRouteDeps): void {
  for (const prefix of MLFLOW_PREFIXES) {
    void app.register(
      (scope, _opts, done) => {
        mlflowRoutes(scope, deps);
        done();
      },
      { prefix },
    );
  }
}
