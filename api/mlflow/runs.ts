import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getOrCreateExperiment } from '../../store/experiments';
import { withTransaction } from '../../store/pool';
import { getRun } from '../../store/run-reads';
import { RUN_NAME_TAG, USER_TAG } from '../../store/run-record';
import { createRun, logParams, setRunLifecycleStage, setTags, updateRunInfo } from '../../store/run-writes';
import type { MlflowRouteDeps } from './deps';
import { invalidValue, runNotFound } from './errors';
import { requireActiveExperiment, requireActiveRun } from './guards';
import { writeMetrics } from './metrics';
import { generateRunName } from './run-names';
import {
  Int64,
  KeyValueItem,
  MetricItem,
  OptString,
  RunRef,
  RunRefSchema,
  RunStatusField,
  encodeRun,
  parse,
  parseRunRequest,
  toMetricPoint,
  toParam,
  toTag,
} from './wire';

// MLflow's run endpoints: create, get, update, delete/restore, and log-batch, which writes a run's
// metrics, params and tags at once (each kind alone: metrics.ts, params-tags.ts).

// Limits from mlflow/utils/validation.py.
export const MAX_METRICS_PER_BATCH = 1000;
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
export const MAX_ENTITIES_PER_BATCH = 1000;

const CreateRunBody = z.object({
  experiment_id: OptString,
  user_id: OptString,
  run_name: OptString,
  start_time: Int64.nullish(),
  tags: z.array(KeyValueItem).nullish(),
});
const RunIdBody = z.object({ ...RunRef });
const UpdateRunBody = z.object({ ...RunRef, status: RunStatusField.nullish(), end_time: Int64.nullish(), run_name: OptString });
const LogBatchBody = z.object({
  ...RunRef,
  metrics: z.array(MetricItem).nullish(),
  params: z.array(KeyValueItem).nullish(),
  tags: z.array(KeyValueItem).nullish(),
});

function checkBatchLimit(entity: string, limit: number, count: number): void {
  if (count > limit) {
    throw invalidValue(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${count} ${entity}. ` +
        `Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

/** Registers MLflow's run endpoints on an MLflow-prefixed scope (see routes.ts). */
export function registerRunRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.post('/runs/create', async (request) => {
    const body = parse(CreateRunBody, request.body);
    const experimentId = body.experiment_id || '0';
    const tags = (body.tags ?? []).map((t, i) => toTag(t, `tags[${i}].`));
    let experiment = await requireActiveExperiment(pool, experimentId);
    const nameTag = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (body.run_name && nameTag && body.run_name !== nameTag) {
      throw invalidValue(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values " +
          `(run_name='${body.run_name}', mlflow.runName='${nameTag}').`,
      );
    }
    if (experiment.artifact_location === undefined && deps.artifactRoot !== undefined) {
      experiment = await getOrCreateExperiment(pool, experiment.name, deps.artifactRoot);
    }
    // MLflow's proxied-artifacts default when no location is known.
    const location = (experiment.artifact_location ?? `mlflow-artifacts:/${experiment.experiment_id}`).replace(/\/+$/, '');
    const runId = randomUUID().replace(/-/g, '');
    const name = body.run_name || nameTag || generateRunName();
    const userId = body.user_id || tags.filter((t) => t.key === USER_TAG).at(-1)?.value || 'unknown';
    const run = await createRun(pool, {
      runId,
      experimentId: experiment.experiment_id,
      name,
      userId,
      startTime: body.start_time ?? Date.now(),
      artifactUri: `${location}/${runId}/artifacts`,
      tags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
    return { run: encodeRun(run) };
  });

  scope.get('/runs/get', async (request) => {
    const { runId } = parseRunRequest(RunRefSchema, request.query);
    const run = await getRun(pool, runId);
    if (!run) throw runNotFound(runId);
    return { run: encodeRun(run) };
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

  scope.post('/runs/delete', async (request) => {
    const { runId } = parseRunRequest(RunIdBody, request.body);
    await setRunLifecycleStage(pool, runId, 'deleted', Date.now());
    return {};
  });

  scope.post('/runs/restore', async (request) => {
    const { runId } = parseRunRequest(RunIdBody, request.body);
    await setRunLifecycleStage(pool, runId, 'active', Date.now());
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
      throw invalidValue(
        `Duplicate parameter keys have been submitted: [${duplicates.map((k) => `'${k}'`).join(', ')}]. ` +
          'Please ensure the request contains only one param value per param key.',
      );
    }
    await requireActiveRun(pool, runId);
    // All or nothing, so a client retrying a failed batch never finds half of it applied.
    await withTransaction(pool, async (tx) => {
      await logParams(tx, runId, params);
      await writeMetrics(tx, runId, metrics);
      await setTags(tx, runId, tags);
    });
    return {};
  });
}
