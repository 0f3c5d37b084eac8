import type { MlflowRestClient } from './client';
import type { BenchConfig } from './config';
import { seededRandom } from '../common/random';

// The four tracking workloads, driven through the same MLflow REST client for every server, and
// the seeding they need (through each server's own API, with the same data everywhere).

export interface Throughput {
  /** Completed units (requests or runs) per second over the measured window. */
  perSecond: number;
  units: number;
  seconds: number;
  p50Ms: number;
  p95Ms: number;
  errors: number;
}

export interface Latency {
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  samples: number;
  /** What each request returned (runs, or metric points), to check every server answered alike. */
  returned: number;
}

export interface Seeding {
  items: number;
  seconds: number;
}

type Log = (line: string) => void;

const BASE_TIME = 1_767_225_600_000; // 2026-01-01T00:00:00Z: every server gets the same timestamps

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

interface CreatedRun {
  run: { info: { run_id: string } };
}

export async function createExperiment(client: MlflowRestClient, name: string): Promise<string> {
  const { experiment_id } = await client.post<{ experiment_id: string }>('/experiments/create', { name });
  return experiment_id;
}

/** What `mlflow.start_run()` sends: the run name and the client's source/user tags. */
async function createRun(client: MlflowRestClient, experimentId: string, name: string, startTime: number): Promise<string> {
  const { run } = await client.post<CreatedRun>('/runs/create', {
    experiment_id: experimentId,
    run_name: name,
    start_time: startTime,
    tags: [
      { key: 'mlflow.runName', value: name },
      { key: 'mlflow.user', value: 'bench' },
      { key: 'mlflow.source.name', value: 'bench/tracking/run.ts' },
      { key: 'mlflow.source.type', value: 'LOCAL' },
    ],
  });
  return run.info.run_id;
}

/** Runs `work(client index, iteration)` on `clients` concurrent loops until `items` are done. */
async function forEachConcurrently(clients: number, items: number, work: (item: number) => Promise<void>, onProgress?: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(clients, items) }, async () => {
      for (let item = next++; item < items; item = next++) {
        await work(item);
        done++;
        onProgress?.(done);
      }
    }),
  );
}

/**
 * `clients` loops calling `unit()` for `seconds` after a warm-up of two units each; a unit is one
 * request or one run. Units still in flight when the window closes count, and so does their time.
 */
async function timedLoops(clients: number, seconds: number, unit: (client: number, iteration: number) => Promise<void>): Promise<Throughput> {
  const iterations = new Array<number>(clients).fill(0);
  const run = async (client: number) => {
    const i = iterations[client] as number;
    iterations[client] = i + 1;
    await unit(client, i);
  };
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    await run(c);
    await run(c);
  }));
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await run(c);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= err;
          if (errors > 20) throw err;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  if (latencies.length === 0) throw firstError instanceof Error ? firstError : new Error('no unit completed');
  latencies.sort((a, b) => a - b);
  return {
    perSecond: round(latencies.length / elapsed),
    units: latencies.length,
    seconds: round(elapsed),
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    errors,
  };
}

// ---- a. log_batch of 1000 metrics ----------------------------------------------------------------

/** 10 keys × (batchMetrics / 10) consecutive steps per request; each client logs to its own run. */
export async function logBatchThroughput(client: MlflowRestClient, config: BenchConfig): Promise<Throughput> {
  const experimentId = await createExperiment(client, 'bench-log-batch');
  const runIds = await Promise.all(Array.from({ length: config.clients }, (_, c) => createRun(client, experimentId, `log-batch-${c}`, BASE_TIME + c)));
  const keys = 10;
  const stepsPerBatch = Math.ceil(config.batchMetrics / keys);
  return timedLoops(config.clients, config.seconds, async (c, i) => {
    const metrics: Array<{ key: string; value: number; timestamp: number; step: number }> = [];
    for (let n = 0; n < config.batchMetrics; n++) {
      const step = i * stepsPerBatch + Math.floor(n / keys);
      metrics.push({ key: `loss_${n % keys}`, value: 1 / (step + 1) + n * 1e-6, timestamp: BASE_TIME + step, step });
    }
    await client.post('/runs/log-batch', { run_id: runIds[c], metrics });
  });
}

// ---- b. create_run + log_params (log_batch) + set_terminated (update) ----------------------------

export async function createRunThroughput(client: MlflowRestClient, config: BenchConfig): Promise<Throughput> {
  const experimentId = await createExperiment(client, 'bench-create-run');
  return timedLoops(config.clients, config.seconds, async (c, i) => {
    const runId = await createRun(client, experimentId, `run-${c}-${i}`, BASE_TIME + i);
    // mlflow.log_params() sends one log-batch of params.
    await client.post('/runs/log-batch', { run_id: runId, params: Array.from({ length: 10 }, (_, p) => ({ key: `p${p}`, value: `value-${c}-${i}-${p}` })) });
    // MlflowClient.set_terminated(): runs/update with status and end_time.
    await client.post('/runs/update', { run_id: runId, status: 'FINISHED', end_time: BASE_TIME + i + 1000 });
  });
}

// ---- c. search_runs over an experiment of `runs` runs --------------------------------------------

export const SEARCH_FILTER = "metrics.m3 > 0.5 and params.p1 = 'x'";
export const SEARCH_ORDER_BY = ['metrics.m0 DESC'];

interface SeedRun {
  params: Array<{ key: string; value: string }>;
  metrics: Array<{ key: string; value: number; timestamp: number; step: number }>;
}

/** Run `i` of the search experiment: p1 cycles x, y, z, w; every other value is pseudo-random. */
function searchRunData(i: number): SeedRun {
  const next = seededRandom(i + 1);
  const params = Array.from({ length: 10 }, (_, p) => ({ key: `p${p}`, value: p === 1 ? (['x', 'y', 'z', 'w'][i % 4] as string) : `v${Math.floor(next() * 1000)}` }));
  const metrics = Array.from({ length: 10 }, (_, m) => ({ key: `m${m}`, value: next(), timestamp: BASE_TIME + i, step: 0 }));
  return { params, metrics };
}

/** How many runs the search filter matches, computed from the seeded data. */
function expectedMatches(runs: number): number {
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const { params, metrics } = searchRunData(i);
    if (params[1]?.value === 'x' && (metrics[3]?.value ?? 0) > 0.5) count++;
  }
  return count;
}

export async function seedSearchExperiment(client: MlflowRestClient, config: BenchConfig, log: Log): Promise<{ experimentId: string; seeding: Seeding }> {
  const experimentId = await createExperiment(client, 'bench-search');
  const started = performance.now();
  const step = Math.max(1, Math.round(config.runs / 10));
  await forEachConcurrently(
    config.clients,
    config.runs,
    async (i) => {
      const runId = await createRun(client, experimentId, `search-${i}`, BASE_TIME + i);
      await client.post('/runs/log-batch', { run_id: runId, ...searchRunData(i) });
    },
    (done) => {
      if (done % step === 0 || done === config.runs) {
        const seconds = (performance.now() - started) / 1000;
        log(`    seeded ${done}/${config.runs} runs (${(done / seconds).toFixed(0)} runs/s)`);
      }
    },
  );
  return { experimentId, seeding: { items: config.runs, seconds: round((performance.now() - started) / 1000) } };
}

/** Sequential requests (one client): `queries` of them, fewer if `seconds` run out (at least 5). */
async function latencies(queries: number, seconds: number, request: () => Promise<number>): Promise<Latency> {
  let returned = await request(); // warm-up
  await request();
  const samples: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (samples.length < queries && (samples.length < 5 || performance.now() < deadline)) {
    const t0 = performance.now();
    returned = await request();
    samples.push(performance.now() - t0);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length),
    samples: samples.length,
    returned,
  };
}

interface SearchResponse {
  runs?: Array<{ data?: { metrics?: Array<{ key: string; value: number }> } }>;
}

export async function searchLatency(client: MlflowRestClient, config: BenchConfig, experimentId: string): Promise<Latency & { expected: number }> {
  const expected = Math.min(expectedMatches(config.runs), config.searchMaxResults);
  const result = await latencies(config.searchQueries, config.searchSeconds, async () => {
    const { runs = [] } = await client.post<SearchResponse>('/runs/search', {
      experiment_ids: [experimentId],
      filter: SEARCH_FILTER,
      order_by: SEARCH_ORDER_BY,
      max_results: config.searchMaxResults,
    });
    const m0 = runs.map((run) => run.data?.metrics?.find((m) => m.key === 'm0')?.value ?? Number.NaN);
    if (m0.some((value, i) => i > 0 && !(value <= (m0[i - 1] as number)))) throw new Error('search_runs did not order by metrics.m0 DESC');
    return runs.length;
  });
  if (result.returned !== expected) throw new Error(`search_runs returned ${result.returned} runs, expected ${expected}`);
  return { ...result, expected };
}

// ---- d. get_metric_history of one key with `historyPoints` points --------------------------------

export async function seedHistory(client: MlflowRestClient, config: BenchConfig, log: Log): Promise<{ runId: string; seeding: Seeding }> {
  const experimentId = await createExperiment(client, 'bench-history');
  const runId = await createRun(client, experimentId, 'history', BASE_TIME);
  const batches = Math.ceil(config.historyPoints / 1000);
  const batch = async (b: number) => {
    const metrics = [];
    for (let step = b * 1000; step < Math.min(config.historyPoints, (b + 1) * 1000); step++) {
      metrics.push({ key: 'loss', value: 1 / (step + 1), timestamp: BASE_TIME + step, step });
    }
    await client.post('/runs/log-batch', { run_id: runId, metrics });
  };
  const started = performance.now();
  // The first batch alone creates the key's latest-metric row; the rest go in concurrently.
  await batch(0);
  const every = Math.max(1, Math.round(batches / 5));
  await forEachConcurrently(config.clients, batches - 1, (b) => batch(b + 1), (done) => {
    if ((done + 1) % every === 0 || done + 1 === batches) log(`    seeded ${(done + 1) * 1000}/${config.historyPoints} points`);
  });
  return { runId, seeding: { items: config.historyPoints, seconds: round((performance.now() - started) / 1000) } };
}

interface HistoryResponse {
  metrics?: unknown[];
  next_page_token?: string;
}

/** Every point of the key, following next_page_token when the server pages. */
export async function historyLatency(client: MlflowRestClient, config: BenchConfig, runId: string): Promise<Latency> {
  const result = await latencies(config.historyQueries, config.historySeconds, async () => {
    let points = 0;
    let pageToken: string | undefined;
    do {
      const page = await client.get<HistoryResponse>('/metrics/get-history', { run_id: runId, metric_key: 'loss', page_token: pageToken });
      points += page.metrics?.length ?? 0;
      pageToken = page.next_page_token || undefined;
    } while (pageToken);
    return points;
  });
  if (result.returned !== config.historyPoints) throw new Error(`get_metric_history returned ${result.returned} points, expected ${config.historyPoints}`);
  return result;
}
