import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { logModelMetrics, ModelMetricConflictError, ModelMetricModelNotFoundError } from '../../store/logged-models';
import { getMetricHistory, getMetricSteps, getMetricsAtSteps, logMetrics, type MetricCursor } from '../../store/metrics';
import { type ExperimentViewer, readableAmong } from '../../store/permissions';
import { type Queryable, withTransaction } from '../../store/pool';
import type { MlflowRouteDeps } from './deps';
import { MlflowError, invalidValue } from './errors';
import { registerEntityWrite } from './entity-write';
import {
  Int64,
  MetricItem,
  OptString,
  ReqString,
  RunRef,
  encodeDouble,
  modelMetricsOf,
  parse,
  parseRunRequest,
  repeated,
  type RequestMetricPoint,
  toMetricPoint,
} from './wire';

// MLflow's metric endpoints: runs/log-metric, and a metric's history, paged or sampled across runs.

/** get-history-bulk-interval: run ids per request, default and maximum sampled steps, points per run. */
export const MAX_RUNS_GET_METRIC_HISTORY_BULK = 100;
export const MAX_RESULTS_PER_RUN = 2500;
export const MAX_RESULTS_GET_METRIC_HISTORY = 25000;

const LogMetricBody = z.object({ ...RunRef, ...MetricItem.shape });
const PositiveInt = Int64.pipe(z.number().int().min(1));
const GetHistoryQuery = z.object({ ...RunRef, metric_key: ReqString, max_results: PositiveInt.optional(), page_token: OptString });
const BulkIntervalQuery = z.object({
  run_ids: repeated(z.array(z.string().min(1)).min(1)),
  metric_key: ReqString,
  start_step: Int64.optional(),
  end_step: Int64.optional(),
  max_results: Int64.optional(),
});

// Metric history page tokens: the last point's ordering key, base64 JSON (±Infinity as strings).
const PageToken = z.object({ step: z.number(), timestamp: z.number(), is_nan: z.boolean(), value: z.string() });

const encodePageToken = (c: MetricCursor): string =>
  Buffer.from(JSON.stringify({ step: c.step, timestamp: c.timestamp, is_nan: c.isNan, value: String(c.value) })).toString('base64');

function decodePageToken(token: string): MetricCursor {
  try {
    const raw = PageToken.parse(JSON.parse(Buffer.from(token, 'base64').toString('utf8')));
    const value = Number(raw.value);
    if (Number.isNaN(value)) throw new Error('bad value');
    return { step: raw.step, timestamp: raw.timestamp, isNan: raw.is_nan, value };
  } catch {
    throw invalidValue(`Invalid page token, could not base64-decode or parse: ${JSON.stringify(token)}`);
  }
}

/** MLflow's _get_sampled_steps_from_steps (mlflow/server/handlers.py); `steps` sorted, all in range. */
export function sampleSteps(steps: readonly number[], maxResults: number): Set<number> {
  if (steps.length <= maxResults) return new Set(steps);
  const interval = steps.length / maxResults;
  const sampled = new Set<number>();
  for (let i = 0; i < maxResults; i++) {
    const idx = Math.floor(i * interval);
    if (idx < steps.length) sampled.add(steps[idx] as number);
  }
  sampled.add(steps.at(-1) as number);
  return sampled;
}

/** The runs among `runIds` whose experiment the viewer may read (a hidden run reads as one with no metrics). */
async function readableRuns(db: Queryable, viewer: ExperimentViewer | undefined, runIds: string[]): Promise<string[]> {
  if (!viewer || runIds.length === 0) return runIds;
  const { rows } = await db.query('SELECT run_uuid, experiment_id FROM runs WHERE run_uuid = ANY($1::text[])', [runIds]);
  const experimentOf = new Map(rows.map((raw) => {
    const row = z.object({ run_uuid: z.string(), experiment_id: z.number().int() }).parse(raw);
    return [row.run_uuid, String(row.experiment_id)] as const;
  }));
  const readable = new Set(await readableAmong(db, viewer, [...new Set(experimentOf.values())]));
  return runIds.filter((id) => readable.has(experimentOf.get(id) ?? ''));
}

/**
 * Writes a request's metric points to the run, and those naming a model to that model too, on the
 * caller's transaction (runs/log-metric, runs/log-batch).
 */
export async function writeMetrics(db: Queryable, runId: string, points: readonly RequestMetricPoint[]): Promise<void> {
  await logMetrics(db, runId, points);
  try {
    await logModelMetrics(db, runId, modelMetricsOf(points));
  } catch (err) {
    // MLflow's store answers both with its database's integrity error, as BAD_REQUEST; a clear message here.
    if (err instanceof ModelMetricModelNotFoundError || err instanceof ModelMetricConflictError) throw new MlflowError('BAD_REQUEST', err.message);
    throw err;
  }
}

/** Registers MLflow's metric endpoints on an MLflow-prefixed scope (see routes.ts). */
export function registerMetricRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  registerEntityWrite(scope, pool, '/runs/log-metric', LogMetricBody, toMetricPoint, (db, runId, points) =>
    points.some((p) => p.modelId !== undefined) ? withTransaction(db, (tx) => writeMetrics(tx, runId, points)) : logMetrics(db, runId, points),
  );

  scope.get('/metrics/get-history', async (request) => {
    const { runId, body } = parseRunRequest(GetHistoryQuery, request.query);
    const after = body.page_token ? decodePageToken(body.page_token) : undefined;
    // An unknown run has no history: `mlflow server` answers an empty list, not 404.
    const page = await getMetricHistory(pool, runId, body.metric_key, {
      ...(body.max_results !== undefined && { limit: body.max_results }),
      ...(after && { after }),
    });
    return {
      metrics: page.metrics.map((m) => ({ ...m, value: encodeDouble(m.value) })),
      ...(page.next && { next_page_token: encodePageToken(page.next) }),
    };
  });

  scope.get('/metrics/get-history-bulk-interval', async (request) => {
    const query = { ...(request.query as Record<string, unknown>) };
    // MLflow's query parser reads `run_ids[]` as `run_ids`.
    if (query.run_ids === undefined && query['run_ids[]'] !== undefined) query.run_ids = query['run_ids[]'];
    const body = parse(BulkIntervalQuery, query);
    if (body.run_ids.length > MAX_RUNS_GET_METRIC_HISTORY_BULK) {
      throw invalidValue(
        `GetMetricHistoryBulkInterval request must specify at most ${MAX_RUNS_GET_METRIC_HISTORY_BULK} run_ids. ` +
          `Received ${body.run_ids.length} run_ids.`,
      );
    }
    const maxResults = body.max_results ?? MAX_RESULTS_PER_RUN;
    if (maxResults < 1 || maxResults > MAX_RESULTS_PER_RUN) {
      throw invalidValue(`max_results must be between 1 and ${MAX_RESULTS_PER_RUN}.`);
    }
    if ((body.start_step === undefined) !== (body.end_step === undefined)) {
      throw invalidValue('If either start step or end step are specified, both must be specified.');
    }
    if (body.start_step !== undefined && body.end_step !== undefined && body.start_step > body.end_step) {
      throw invalidValue(
        `end_step must be greater than start_step. Found start_step=${body.start_step} and end_step=${body.end_step}.`,
      );
    }
    const runIds = await readableRuns(pool, request.viewer, [...new Set(body.run_ids)]);
    const { steps: allSteps, runMinMax } = await getMetricSteps(pool, runIds, body.metric_key);
    // Without a range: from step 0 to the last step logged by any run.
    const start = body.start_step ?? 0;
    const end = body.end_step ?? allSteps.at(-1) ?? 0;
    const inRange = (step: number) => start <= step && step <= end;
    const steps = allSteps.filter(inRange);
    if (steps.length === 0) return { metrics: [] };
    // Each run's first and last step stay, so every curve keeps its ends.
    const sampled = sampleSteps(steps, maxResults);
    for (const step of runMinMax) if (inRange(step)) sampled.add(step);
    const metrics = await getMetricsAtSteps(pool, runIds, body.metric_key, [...sampled], MAX_RESULTS_GET_METRIC_HISTORY);
    return { metrics: metrics.map((m) => ({ key: m.key, value: encodeDouble(m.value), timestamp: m.timestamp, step: m.step, run_id: m.run_id })) };
  });
}
