import { z } from 'zod';
import { RunStatus } from '../../domain/launch';
import type { ModelMetricPoint } from '../../store/logged-models';
import type { MetricPoint } from '../../store/metrics';
import type { KeyValue, MlflowRun } from '../../store/run-record';
import { MlflowError, invalidParameter, missingParameter } from './errors';

// MLflow's wire conventions, shared by every MLflow endpoint module: request fields (int64 as
// numbers or strings, doubles with NaN/Infinity), MLflow's validation rules and messages, and the
// response encodings.

// Limits from mlflow/utils/validation.py.
export const MAX_ENTITY_KEY_LENGTH = 250;
export const MAX_PARAM_VAL_LENGTH = 6000;
export const MAX_TAG_VAL_LENGTH = 8000;

// ---- request parsing -------------------------------------------------------------------------

/** int64 fields arrive as JSON numbers or numeric strings (protobuf JSON). */
export const Int64 = z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]);
/** Doubles may also be the protobuf JSON strings for NaN and ±Infinity. */
export const Double = z.union([
  z.number(),
  z
    .string()
    .regex(/^(NaN|-?Infinity|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/)
    .transform(Number),
]);
/** Proto2 optional: absent and null both mean unset. */
export const OptString = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);
export const ReqString = z.string().min(1);
// Enums arrive by name, or by number as ParseDict also accepts.
export const RunStatusField = z.union([
  RunStatus,
  z
    .number()
    .int()
    .min(1)
    .max(5)
    .transform((n) => RunStatus.options[n - 1] as RunStatus),
]);
const VIEW_TYPES = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'] as const;
/** ViewType (of experiments and of runs) by name, or by number: ACTIVE_ONLY=1, DELETED_ONLY=2, ALL=3. */
export const ViewTypeField = z.union([
  z.enum(VIEW_TYPES),
  z
    .union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)])
    .pipe(z.number().min(1).max(3))
    .transform((n) => VIEW_TYPES[n - 1] as (typeof VIEW_TYPES)[number]),
]);
/** A repeated field given once in a query string arrives as a bare string: MLflow's parser wraps it into a list. */
export const repeated = <T extends z.ZodType>(list: T) => z.preprocess((v) => (typeof v === 'string' ? [v] : v), list);

export const RunRef = { run_id: OptString, run_uuid: OptString };
export const MetricItem = z.object({
  key: ReqString,
  value: Double,
  timestamp: Int64,
  step: Int64.nullish(),
  // MLflow 3: a point logged for a model (and the dataset it was measured on) is also that model's metric.
  model_id: OptString,
  dataset_name: OptString,
  dataset_digest: OptString,
});
export const KeyValueItem = z.object({ key: ReqString, value: z.string().nullish() });

export const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, part) => (typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[part] : undefined),
    data,
  );
}

/** Validates with zod, answering the first problem with MLflow's own schema messages. */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
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

export const RunRefSchema = z.object(RunRef);

/** Parses a request about one run; the run id is checked first, as MLflow's schemas list it first. */
export function parseRunRequest<S extends z.ZodType>(schema: S, data: unknown): { runId: string; body: z.output<S> } {
  const ref = parse(RunRefSchema, data);
  // The client sends both (run_uuid is the legacy name); either one identifies the run, and an
  // empty string counts as absent.
  const runId = ref.run_id || ref.run_uuid;
  if (!runId) throw missingParameter('run_id');
  return { runId, body: parse(schema, data) };
}

// Python's posixpath.normpath, which MLflow uses to reject keys that would alias as file paths.
export function normpath(path: string): string {
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
export const KEY_CHARACTERS = /^[\p{L}\p{N}_/.\- :]*$/u;
export const BAD_CHARACTERS_MESSAGE =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';

/** MLflow's key rules for metric, param and tag names (mlflow/utils/validation.py). */
export function validateKey(key: string, path: string, entity: string): void {
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

export function validateValue(value: string, entity: string, limit: number): void {
  if (value.length > limit) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `'${entity}' exceeds the maximum length of ${limit} characters`);
  }
}

/** A metric point of a request; with a model id it is also recorded as that model's metric. */
export type RequestMetricPoint = MetricPoint & { modelId?: string; datasetName?: string; datasetDigest?: string };

export function toMetricPoint(metric: z.output<typeof MetricItem>, path: string): RequestMetricPoint {
  validateKey(metric.key, `${path}key`, 'Metric name');
  if (metric.timestamp < 0) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid value ${metric.timestamp} for parameter '${path}timestamp' supplied: metric timestamp must be a nonnegative long (64-bit integer)`,
    );
  }
  return {
    key: metric.key,
    value: metric.value,
    timestamp: metric.timestamp,
    step: metric.step ?? 0,
    // MLflow reads an empty string as unset.
    ...(metric.model_id && { modelId: metric.model_id }),
    ...(metric.dataset_name && { datasetName: metric.dataset_name }),
    ...(metric.dataset_digest && { datasetDigest: metric.dataset_digest }),
  };
}

/** The points of a request that name a model, as that model's metrics. */
export function modelMetricsOf(points: readonly RequestMetricPoint[]): ModelMetricPoint[] {
  return points.flatMap((p) =>
    p.modelId === undefined
      ? []
      : [{
          modelId: p.modelId,
          key: p.key,
          value: p.value,
          timestamp: p.timestamp,
          step: p.step ?? 0,
          ...(p.datasetName !== undefined && { datasetName: p.datasetName }),
          ...(p.datasetDigest !== undefined && { datasetDigest: p.datasetDigest }),
        }],
  );
}

/**
 * Run param and tag values past their limit are cut to it, as MLflow's server does by default
 * (`_validate_length_limit(..., truncate=True)` with MLFLOW_TRUNCATE_LONG_VALUES on); Python counts
 * code points, not UTF-16 units.
 */
function truncateValue(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const codePoints = Array.from(value);
  return codePoints.length <= limit ? value : codePoints.slice(0, limit).join('');
}

export function toParam(item: { key: string; value?: string | null | undefined }, path: string): KeyValue {
  validateKey(item.key, `${path}key`, 'Param key');
  return { key: item.key, value: truncateValue(item.value ?? '', MAX_PARAM_VAL_LENGTH) };
}

export function toTag(item: { key: string; value?: string | null | undefined }, path: string): KeyValue {
  validateKey(item.key, `${path}key`, 'Tag key');
  return { key: item.key, value: truncateValue(item.value ?? '', MAX_TAG_VAL_LENGTH) };
}

// ---- responses ---------------------------------------------------------------------------------

/** Doubles in protobuf JSON: NaN and ±Infinity travel as strings (JSON.stringify would write null). */
export const encodeDouble = (value: number): number | string =>
  Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : value;

export const encodeRun = (run: MlflowRun) => ({
  ...run,
  data: { ...run.data, metrics: run.data.metrics.map((m) => ({ ...m, value: encodeDouble(m.value) })) },
});

