import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { ArtifactRepository } from '../../storage/artifact-repository';
import { getExperiment, getExperimentByName } from '../../store/experiments';
import { withTransaction } from '../../store/pool';
import { getRun, logMetrics, logParams, setTags, updateRunInfo } from '../../store/runs';
import { MlflowError, experimentNameNotFound, experimentNotFound, runNotFound } from './errors';
import { registerRunRoutes } from './runs';
import { registerExperimentRoutes } from './experiments';
import { registerRunSearchRoutes } from './run-search';
import { registerLoggedModelRoutes } from './logged-models';
import {
  MAX_METRICS_PER_BATCH,
  MAX_PARAMS_TAGS_PER_BATCH,
  MAX_ENTITIES_PER_BATCH,
  GetExperimentQuery,
  GetExperimentByNameQuery,
  LogMetricBody,
  LogParamBody,
  SetTagBody,
  LogBatchBody,
  UpdateRunBody,
  parse,
  RunRefSchema,
  parseRunRequest,
  toMetricPoint,
  toParam,
  toTag,
  checkBatchLimit,
  encodeRun,
  requireActiveRun,
} from './wire';

export interface MlflowRouteDeps {
  pool: pg.Pool;
  /** Gives the Default experiment a real artifact location the first time a run needs one. */
  artifactRoot?: string;
  /** The artifact tree under a run's artifact URI (file:// or s3://), for `artifacts/list`. */
  artifactsAt: (rootUri: string) => ArtifactRepository;
}

/** Where MLflow clients (/api) and the MLflow UI (/ajax-api) reach the same handlers. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

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

  registerExperimentRoutes(scope, deps);
  scope.get('/experiments/get', async (request) => {
    const { experiment_id } = parse(GetExperimentQuery, request.query);
    const experiment = await getExperiment(pool, experiment_id);
    if (!experiment) throw experimentNotFound(experiment_id);
    return { experiment };
  });

  scope.get('/experiments/get-by-name', async (request) => {
    const { experiment_name } = parse(GetExperimentByNameQuery, request.query);
    const experiment = await getExperimentByName(pool, experiment_name);
    if (!experiment) throw experimentNameNotFound(experiment_name);
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

  registerRunRoutes(scope, deps);
  registerRunSearchRoutes(scope, deps);
  registerLoggedModelRoutes(scope);
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
