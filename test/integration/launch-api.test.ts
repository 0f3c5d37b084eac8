import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { LaunchProgress } from '../../domain/launch';
import { badSpecs } from '../fixtures/bad-specs';
import { makeCodeDir, uniqueId } from '../helpers/launches';
import { testEnv } from '../helpers/services';
import { createWorkflowTestContext, eventually, type WorkflowTestContext } from '../helpers/temporal';

let ctx: WorkflowTestContext;
let worker: Worker;
let workerRun: Promise<void>;
let app: FastifyInstance;
let connection: Connection;
let baseUrl: string;
const taskQueue = uniqueId('launch-api');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  worker = await ctx.createWorker(taskQueue);
  workerRun = worker.run();
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool: ctx.pool, temporal: new Client({ connection }), taskQueue });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  worker.shutdown();
  await workerRun;
  await connection.close();
  await ctx.close();
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test(`every one of the ${badSpecs.length} invalid specs is a 400 with its precise issues, and nothing starts`, async () => {
  expect(badSpecs.length).toBeGreaterThanOrEqual(15);
  for (const [name, spec, issues] of badSpecs) {
    const { status, json } = await call('POST', '/api/v1/launches', { spec });
    // The same issues as the parser reports, under the request body's `spec` field.
    const expected = issues.map((issue) => (issue.startsWith('spec: ') ? issue : `spec.${issue}`)).join('\n');
    expect({ name, status, json }).toEqual({ name, status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: expected } });
  }
  // Then one valid launch: once visibility shows it, it would show any launch started before it too.
  const sentinel = await call('POST', '/api/v1/launches', { spec: { experiment: uniqueId('sentinel'), stages: { ok: { command: 'true' } } } });
  expect(sentinel.status).toBe(201);
  const query = `TaskQueue = '${taskQueue}' AND WorkflowType = 'launchExperiment'`;
  const started = await eventually(async () => ((await ctx.client.workflow.count(query)).count > 0 ? ctx.client.workflow.count(query) : undefined));
  expect(started.count).toBe(1);
});

test('bad params and bad fields around the spec are rejected the same way', async () => {
  const spec = { experiment: 'x', stages: { train: { command: 'true', params: { epochs: 3 } } } };
  const rejected = async (body: unknown): Promise<unknown> => {
    const { status, json } = await call('POST', '/api/v1/launches', body);
    expect(status).toBe(400);
    return json.message;
  };
  expect(await rejected({ spec, params: { 'train.epochs': 'many' } })).toBe("params.train.epochs: expected a number, got 'many'");
  expect(await rejected({ spec, params: { 'train.epoch': 1 } })).toBe("params.train.epoch: stage 'train' has no param 'epoch'");
  expect(await rejected({ spec, extra: 1 })).toBe("input: unknown field 'extra'");
  expect(await rejected({ spec, trigger: 'cron' })).toBe("trigger: expected 'cli', 'api', 'schedule' or 'temporal', got 'cron'");
  expect(await rejected({ spec, code: { dir: 'relative/path' } })).toBe('code.dir: expected an absolute path the worker can read');
  expect(await rejected({})).toBe('spec: required (expected an object)');
});

test('a launch through the API: 201 with its run ids, live progress, then the stored result', async () => {
  const spec = {
    experiment: uniqueId('api'),
    stages: {
      make: { command: 'sleep 1; printf 42 > ${outputs.n}', outputs: { n: 'n.txt' } },
      use: { command: 'test "$(cat ${inputs.n})" = 42', inputs: { n: 'stages.make.outputs.n' } },
    },
  };
  const created = await call('POST', '/api/v1/launches', { spec, code: { dir: makeCodeDir(ctx.dataDir) } });
  expect(created.status).toBe(201);
  const launch = LaunchProgress.parse(created.json);
  expect(launch.run_id).toMatch(/^[0-9a-f]{32}$/);
  expect(launch.stages.map((s) => s.name)).toEqual(['make', 'use']);

  const final = await eventually(async () => {
    const { json } = await call('GET', `/api/v1/launches/${launch.launch_id}`);
    const progress = LaunchProgress.parse(json);
    return progress.status === 'RUNNING' ? undefined : progress;
  }, 60_000);
  expect(final.status).toBe('FINISHED');
  expect(final.stages.map((s) => [s.name, s.status, s.run_id])).toEqual(launch.stages.map((s) => [s.name, 'FINISHED', s.run_id]));
  const tags = await ctx.pool.query<{ value: string }>("SELECT value FROM tags WHERE run_uuid = $1 AND key = 'mlfleet.trigger'", [launch.run_id]);
  expect(tags.rows[0]?.value).toBe('api');
});

test('cancel through the API: the launch ends KILLED', async () => {
  const spec = { experiment: uniqueId('api-cancel'), stages: { wait: { command: 'sleep 60' } } };
  const { json } = await call('POST', '/api/v1/launches', { spec });
  const launchId = String(json.launch_id);
  await eventually(async () => {
    const progress = LaunchProgress.parse((await call('GET', `/api/v1/launches/${launchId}`)).json);
    return progress.stages[0]?.status === 'RUNNING' ? true : undefined;
  });
  expect((await call('POST', `/api/v1/launches/${launchId}/cancel`)).status).toBe(200);
  const final = await eventually(async () => {
    const progress = LaunchProgress.parse((await call('GET', `/api/v1/launches/${launchId}`)).json);
    return progress.status === 'RUNNING' ? undefined : progress;
  });
  expect(final.status).toBe('KILLED');
  expect(final.stages[0]?.status).toBe('KILLED');
});

test('a launch that fails before it is recorded still reports why', async () => {
  const spec = { experiment: uniqueId('api-nocode'), stages: { one: { command: 'true' } } };
  const missing = `${ctx.dataDir}/no-such-folder`;
  const { json } = await call('POST', '/api/v1/launches', { spec, code: { dir: missing } });
  const final = await eventually(async () => {
    const progress = LaunchProgress.parse((await call('GET', `/api/v1/launches/${String(json.launch_id)}`)).json);
    return progress.status === 'RUNNING' ? undefined : progress;
  });
  expect(final.status).toBe('FAILED');
  expect(final.error).toContain(`cannot pack code from ${missing}`);
  expect(final.stages).toEqual([{ name: 'one', run_id: '', status: 'SKIPPED' }]);
});

test('unknown and malformed launch ids', async () => {
  expect(await call('GET', '/api/v1/launches/doesnotexist')).toEqual({
    status: 404,
    json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Launch 'doesnotexist' not found" },
  });
  expect((await call('POST', '/api/v1/launches/doesnotexist/cancel')).status).toBe(404);
  expect((await call('GET', `/api/v1/launches/${'x'.repeat(200)}`)).json.error_code).toBe('INVALID_PARAMETER_VALUE');
  expect(await call('GET', '/api/v1/nothing')).toEqual({
    status: 404,
    json: { error_code: 'ENDPOINT_NOT_FOUND', message: 'No API endpoint found for GET /api/v1/nothing' },
  });
});
