import { z } from 'zod';
import { RunStatus } from '../domain/launch';

// A run as MLflow shapes it and as the runs table records it: the types, tag names, errors, row and
// columns that run reads (run-reads.ts), run writes (run-writes.ts) and metrics (metrics.ts) share.

export type TerminalRunStatus = 'FINISHED' | 'FAILED' | 'KILLED';
export const TERMINAL_RUN_STATUSES: readonly TerminalRunStatus[] = ['FINISHED', 'FAILED', 'KILLED'];

export const RUN_NAME_TAG = 'mlflow.runName';
export const USER_TAG = 'mlflow.user';
export const PARENT_RUN_TAG = 'mlflow.parentRunId';
export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';

export interface KeyValue {
  key: string;
  value: string;
}

/** Tags or params as a record, or MLflow's list of {key, value} (where the last value of a key wins). */
export type KeyValues = Readonly<Record<string, string>> | readonly KeyValue[];

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

/** A logged model a run produced (runs/outputs), at a step. */
export interface MlflowModelOutput {
  model_id: string;
  step: number;
}

/**
 * A run in MLflow's JSON shape; `data.metrics` holds the latest point per key. The logged models a
 * run read (`model_inputs`) and produced (`outputs`) appear only when there are some.
 */
export interface MlflowRun {
  info: MlflowRunInfo;
  data: { metrics: MlflowMetric[]; params: KeyValue[]; tags: KeyValue[] };
  inputs: { dataset_inputs: MlflowDatasetInput[]; model_inputs?: Array<{ model_id: string }> };
  outputs?: { model_outputs: MlflowModelOutput[] };
}

export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
  constructor(readonly runId: string) {
    super(`Run with id=${runId} not found`);
  }
}

export const isTerminalRunStatus = (status: RunStatus): status is TerminalRunStatus =>
  (TERMINAL_RUN_STATUSES as readonly RunStatus[]).includes(status);

export const RunRow = z.object({
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
export type RunRow = z.infer<typeof RunRow>;

export const RUN_COLUMNS = 'r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage';

export function toRunInfo(row: RunRow): MlflowRunInfo {
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

export function isForeignKeyViolation(err: unknown, ...constraints: string[]): boolean {
  return (
    err instanceof Error &&
    'code' in err &&
    err.code === '23503' &&
    'constraint' in err &&
    constraints.includes(err.constraint as string)
  );
}

/** Runs a write whose only foreign keys point at the run, turning their violation into RunNotFoundError. */
export async function onRun<T>(runId: string, constraints: string[], write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isForeignKeyViolation(err, ...constraints)) throw new RunNotFoundError(runId);
    throw err;
  }
}
