import type { LoggedModel, LoggedModelStatus } from '../../store/logged-models';
import { invalidValue } from './errors';
import { pyRepr } from './logged-models-filter';
import { encodeDouble } from './wire';

// MLflow 3 logged models on the wire: the LoggedModel JSON, its status enum, names and ids.

const STATUS_NAMES: Readonly<Record<LoggedModelStatus, string>> = {
  UNSPECIFIED: 'LOGGED_MODEL_STATUS_UNSPECIFIED',
  PENDING: 'LOGGED_MODEL_PENDING',
  READY: 'LOGGED_MODEL_READY',
  UPLOAD_FAILED: 'LOGGED_MODEL_UPLOAD_FAILED',
};

/**
 * LoggedModelStatus by its proto name or number (PENDING=1, READY=2, UPLOAD_FAILED=3); anything
 * else is UNSPECIFIED, as MLflow's request parsing leaves an enum it cannot read.
 */
export function statusOf(value: string | number): LoggedModelStatus {
  const byNumber: Record<string, LoggedModelStatus> = { '1': 'PENDING', '2': 'READY', '3': 'UPLOAD_FAILED' };
  if (typeof value === 'number' || /^\d+$/.test(value)) return byNumber[String(value)] ?? 'UNSPECIFIED';
  return (Object.keys(STATUS_NAMES) as LoggedModelStatus[]).find((status) => STATUS_NAMES[status] === value) ?? 'UNSPECIFIED';
}

/** The LoggedModel message as MLflow's message_to_json writes it: fields in proto order, unset and empty ones left out. */
export function encodeLoggedModel(model: LoggedModel) {
  return {
    info: {
      model_id: model.modelId,
      experiment_id: model.experimentId,
      name: model.name,
      creation_timestamp_ms: model.creationTimestampMs,
      last_updated_timestamp_ms: model.lastUpdatedTimestampMs,
      artifact_uri: model.artifactUri,
      status: STATUS_NAMES[model.status],
      // MLflow stores the request's empty strings for these, so they are always there.
      model_type: model.modelType ?? '',
      source_run_id: model.sourceRunId ?? '',
      ...(model.statusMessage !== undefined && { status_message: model.statusMessage }),
      ...(model.tags.length > 0 && { tags: model.tags }),
    },
    data: {
      ...(model.params.length > 0 && { params: model.params }),
      ...(model.metrics.length > 0 && {
        metrics: model.metrics.map((m) => ({
          key: m.key,
          value: encodeDouble(m.value),
          timestamp: m.timestamp,
          step: m.step,
          ...(m.datasetName !== undefined && { dataset_name: m.datasetName }),
          ...(m.datasetDigest !== undefined && { dataset_digest: m.datasetDigest }),
          model_id: model.modelId,
          run_id: m.runId,
        })),
      }),
    },
  };
}

const BAD_NAME_CHARACTERS = ['/', ':', '.', '%', '"', "'"];

/** MLflow's _validate_logged_model_name. */
export function validateLoggedModelName(name: string): void {
  if (name === '' || BAD_NAME_CHARACTERS.some((c) => name.includes(c))) {
    throw invalidValue(
      `Invalid model name (${pyRepr(name)}) provided. Model name must be a non-empty string ` +
        `and cannot contain the following characters: (${BAD_NAME_CHARACTERS.map(pyRepr).join(', ')})`,
    );
  }
}

/** Python's json.dumps with its defaults (", " and ": " separators, ensure_ascii), as MLflow writes tags. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`)
    .join(', ')}}`;
}
