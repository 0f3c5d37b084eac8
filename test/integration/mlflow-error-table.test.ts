import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import { httpStatusFor } from '../../api/mlflow/errors';
import { fileUriOf } from '../../storage/file-store';
import { createPool } from '../../store/pool';
import { type Reply, httpRequest } from '../helpers/http';
import { testEnv } from '../helpers/services';

/**
 * Every error of MLflow's table (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS) the facade can
 * produce, over raw HTTP: the status, a JSON body of exactly `{error_code, message}`, and the
 * message. Then the writes a retrying client replays after a lost response.
 */

const API = '/api/2.0/mlflow';
let pool: pg.Pool;
let connection: Connection;
let app: FastifyInstance;
let baseUrl: string;

const call = (method: string, path: string, payload?: unknown): Promise<Reply> => httpRequest(baseUrl, method, path, payload);
const post = (endpoint: string, payload: unknown): Promise<Reply> => call('POST', `${API}/${endpoint}`, payload);

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  const artifactRoot = fileUriOf(await mkdtemp(join(testEnv().dataDir, 'error-table-')));
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'mlflow-error-table', artifactRoot });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

async function newExperiment(): Promise<string> {
  const res = await post('experiments/create', { name: `errors-${randomUUID()}` });
  expect(res.statusCode).toBe(200);
  return res.json<{ experiment_id: string }>().experiment_id;
}

async function newRun(experimentId: string): Promise<string> {
  const res = await post('runs/create', { experiment_id: experimentId, start_time: 1_700_000_000_000 });
  expect(res.statusCode).toBe(200);
  return res.json<{ run: { info: { run_id: string } } }>().run.info.run_id;
}

/** The exact error shape: status from the code, JSON content type, and no other fields. */
function expectMlflowError(res: Reply, errorCode: string, message: string | RegExp): void {
  expect(res.statusCode).toBe(httpStatusFor(errorCode));
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = res.json<Record<string, unknown>>();
  expect(Object.keys(body).sort()).toEqual(['error_code', 'message']);
  expect(body.error_code).toBe(errorCode);
  if (typeof message === 'string') expect(body.message).toBe(message);
  else expect(body.message).toMatch(message);
}

describe('MLflow error table over raw HTTP', () => {
  let experimentId: string;
  let runId: string;
  let deletedRunId: string;

  beforeAll(async () => {
    experimentId = await newExperiment();
    runId = await newRun(experimentId);
    deletedRunId = await newRun(experimentId);
    expect((await post('runs/delete', { run_id: deletedRunId })).statusCode).toBe(200);
  });

  test('BAD_REQUEST (400): a body that is not JSON', async () => {
    const res = await fetch(`${baseUrl}${API}/runs/log-metric`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"run_id": ',
    });
    const body = await res.text();
    expectMlflowError({ statusCode: res.status, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }, 'BAD_REQUEST', 'The request body is not valid JSON.');
  });

  test.each<[string, () => [string, string, unknown], string | RegExp]>([
    [
      'a required field is missing',
      () => ['POST', 'experiments/create', {}],
      "Missing value for required parameter 'name'. See the API docs for more information about request parameters.",
    ],
    [
      'a field has the wrong type',
      () => ['POST', 'experiments/create', { name: 123 }],
      /^Invalid value 123 for parameter 'name' supplied\. Hint: Value was of type 'int'\./,
    ],
    [
      'a metric step is not a number',
      () => ['POST', 'runs/log-metric', { run_id: runId, key: 'k', value: 1, timestamp: 1, step: 'foo' }],
      /^Invalid value "foo" for parameter 'step' supplied/,
    ],
    [
      'a param changes its value',
      () => ['POST', 'runs/log-parameter', { run_id: runId, key: 'fixed', value: 'second' }],
      /^Changing param values is not allowed\. Param with key='fixed' was already logged with value='first' for run ID='[0-9a-f]{32}'\. Attempted logging new value 'second'\./,
    ],
    [
      'a write to a deleted run',
      () => ['POST', 'runs/set-tag', { run_id: deletedRunId, key: 'k', value: 'v' }],
      /^The run [0-9a-f]{32} must be in the 'active' state\. Current state is deleted\.$/,
    ],
    [
      'a search filter that does not parse',
      () => ['POST', 'runs/search', { experiment_ids: [experimentId], filter: 'metrics.loss >> 1' }],
      /^Invalid clause|^Invalid comparator/,
    ],
    [
      'a search page token that is not ours',
      () => ['POST', 'runs/search', { experiment_ids: [experimentId], page_token: 'bm90LWEtdG9rZW4' }],
      /^Invalid page token/,
    ],
    [
      'a search page too large',
      () => ['POST', 'runs/search', { experiment_ids: [experimentId], max_results: 50_001 }],
      "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000",
    ],
    [
      'a batch over the metric limit',
      () => ['POST', 'runs/log-batch', { run_id: runId, metrics: Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i, timestamp: i })) }],
      /^A batch logging request can contain at most 1000 metrics\. Got 1001 metrics\./,
    ],
    [
      'an artifact path that escapes its root',
      () => ['GET', `mlflow-artifacts/artifacts/${experimentId}/..%2F..%2Fsecret`, undefined],
      'Invalid path',
    ],
  ])('INVALID_PARAMETER_VALUE (400): %s', async (_what, request, message) => {
    await post('runs/log-parameter', { run_id: runId, key: 'fixed', value: 'first' });
    const [method, endpoint, payload] = request();
    const path = endpoint.startsWith('mlflow-artifacts/') ? `/api/2.0/${endpoint}` : `${API}/${endpoint}`;
    expectMlflowError(await call(method, path, payload), 'INVALID_PARAMETER_VALUE', message);
  });

  test('RESOURCE_ALREADY_EXISTS (400): an experiment name that is taken', async () => {
    const name = `taken-${randomUUID()}`;
    expect((await post('experiments/create', { name })).statusCode).toBe(200);
    expectMlflowError(await post('experiments/create', { name }), 'RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`);
  });

  test.each<[string, () => [string, string, unknown], string]>([
    ['a run', () => ['GET', `${API}/runs/get?run_id=${'0'.repeat(32)}`, undefined], `Run with id=${'0'.repeat(32)} not found`],
    ['an experiment by id', () => ['GET', `${API}/experiments/get?experiment_id=987654321`, undefined], 'No Experiment with id=987654321 exists'],
    [
      'an experiment by name',
      () => ['GET', `${API}/experiments/get-by-name?experiment_name=no-such-experiment`, undefined],
      "Could not find experiment with name 'no-such-experiment'",
    ],
    ['a metric write to a missing run', () => ['POST', `${API}/runs/log-metric`, { run_id: 'f'.repeat(32), key: 'k', value: 1, timestamp: 1 }], `Run with id=${'f'.repeat(32)} not found`],
  ])('RESOURCE_DOES_NOT_EXIST (404): %s', async (_what, request, message) => {
    const [method, path, payload] = request();
    expectMlflowError(await call(method, path, payload), 'RESOURCE_DOES_NOT_EXIST', message);
  });

  test('ENDPOINT_NOT_FOUND (404): an unknown route, and a known route with the wrong method', async () => {
    expectMlflowError(await call('GET', `${API}/runs/teleport`), 'ENDPOINT_NOT_FOUND', /runs\/teleport/);
    expectMlflowError(await call('GET', `${API}/runs/log-metric`), 'ENDPOINT_NOT_FOUND', /runs\/log-metric/);
  });

  test('INVALID_STATE (500): renaming a deleted experiment', async () => {
    const id = await newExperiment();
    expect((await post('experiments/delete', { experiment_id: id })).statusCode).toBe(200);
    expectMlflowError(await post('experiments/update', { experiment_id: id, new_name: `renamed-${randomUUID()}` }), 'INVALID_STATE', 'Cannot rename a non-active experiment.');
  });

  test('NOT_IMPLEMENTED (501): multipart upload on a file artifact root', async () => {
    expectMlflowError(
      await call('POST', `/api/2.0/mlflow-artifacts/mpu/create/${experimentId}/big.bin`, { path: 'big.bin', num_parts: 2 }),
      'NOT_IMPLEMENTED',
      'Multipart upload is not supported for the current artifact repository',
    );
  });

  test('INTERNAL_ERROR (500): the database is unreachable, and the message says nothing about it', async () => {
    const deadPool = createPool('postgresql://mlfleet:s3cret-pass@127.0.0.1:9/unreachable');
    const broken = buildApp({ pool: deadPool, temporal: new Client({ connection }), taskQueue: 'mlflow-error-table', artifactRoot: 'file:///nonexistent' });
    const brokenUrl = await broken.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await httpRequest(brokenUrl, 'GET', `${API}/runs/get?run_id=${'a'.repeat(32)}`);
      expectMlflowError(res, 'INTERNAL_ERROR', 'Internal server error; see the server log.');
      expect(res.body).not.toMatch(/s3cret|127\.0\.0\.1|ECONNREFUSED|unreachable/);
    } finally {
      await broken.close();
      await deadPool.end();
    }
  });
});

describe('writes replayed by a retrying client', () => {
  let experimentId: string;
  beforeAll(async () => {
    experimentId = await newExperiment();
  });

  const history = async (runId: string, key: string) =>
    (await call('GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=${key}`)).json<{ metrics?: unknown[] }>().metrics ?? [];

  test('log-metric and log-batch sent twice store each point once', async () => {
    const runId = await newRun(experimentId);
    const point = { run_id: runId, key: 'loss', value: 0.5, timestamp: 1_700_000_000_100, step: 3 };
    for (let i = 0; i < 2; i++) expect((await post('runs/log-metric', point)).statusCode).toBe(200);
    const batch = { run_id: runId, metrics: [{ key: 'acc', value: 0.9, timestamp: 1_700_000_000_200, step: 1 }, { key: 'acc', value: 'NaN', timestamp: 1_700_000_000_300, step: 2 }], params: [{ key: 'lr', value: '0.1' }], tags: [{ key: 't', value: 'v' }] };
    for (let i = 0; i < 3; i++) expect((await post('runs/log-batch', batch)).statusCode).toBe(200);
    expect(await history(runId, 'loss')).toEqual([{ key: 'loss', value: 0.5, timestamp: 1_700_000_000_100, step: 3 }]);
    expect(await history(runId, 'acc')).toEqual([
      { key: 'acc', value: 0.9, timestamp: 1_700_000_000_200, step: 1 },
      { key: 'acc', value: 'NaN', timestamp: 1_700_000_000_300, step: 2 },
    ]);
    const run = (await call('GET', `${API}/runs/get?run_id=${runId}`)).json<{ run: { data: { params: unknown[]; tags: { key: string }[] } } }>().run;
    expect(run.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
    expect(run.data.tags.filter((t) => t.key === 't')).toHaveLength(1);
  });

  test('two concurrent replays of one batch neither fail nor duplicate', async () => {
    const runId = await newRun(experimentId);
    const batch = { run_id: runId, metrics: Array.from({ length: 500 }, (_, i) => ({ key: 'x', value: i, timestamp: 1_700_000_000_000 + i, step: i })), params: [{ key: 'p', value: '1' }] };
    const replies = await Promise.all([post('runs/log-batch', batch), post('runs/log-batch', batch), post('runs/log-batch', batch)]);
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(await history(runId, 'x')).toHaveLength(500);
  });

  test('set-terminated sent twice succeeds twice and the run stays ended as first recorded', async () => {
    const runId = await newRun(experimentId);
    const end = { run_id: runId, status: 'FINISHED', end_time: 1_700_000_009_000 };
    const first = await post('runs/update', end);
    const second = await post('runs/update', end);
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.json()).toEqual(first.json());
    expect(first.json<{ run_info: { status: string; end_time: number } }>().run_info).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_009_000 });
  });

  test('create-run sent twice answers twice with a run each, as MLflow does', async () => {
    const request = { experiment_id: experimentId, start_time: 1_700_000_000_000, run_name: 'retried' };
    const [a, b] = [await post('runs/create', request), await post('runs/create', request)];
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const ids = [a, b].map((r) => r.json<{ run: { info: { run_id: string } } }>().run.info.run_id);
    expect(new Set(ids).size).toBe(2);
  });

  test('log-parameter, set-tag, delete-run and restore-run replayed are no-ops', async () => {
    const runId = await newRun(experimentId);
    for (let i = 0; i < 2; i++) {
      expect((await post('runs/log-parameter', { run_id: runId, key: 'k', value: 'v' })).statusCode).toBe(200);
      expect((await post('runs/set-tag', { run_id: runId, key: 'k', value: 'v' })).statusCode).toBe(200);
    }
    for (const endpoint of ['runs/delete', 'runs/delete', 'runs/restore', 'runs/restore']) {
      expect((await post(endpoint, { run_id: runId })).statusCode).toBe(200);
    }
    const run = (await call('GET', `${API}/runs/get?run_id=${runId}`)).json<{ run: { info: { lifecycle_stage: string }; data: { params: unknown[] } } }>().run;
    expect(run.info.lifecycle_stage).toBe('active');
    expect(run.data.params).toEqual([{ key: 'k', value: 'v' }]);
  });

  test('log-inputs replayed records each dataset input once', async () => {
    const runId = await newRun(experimentId);
    const inputs = {
      run_id: runId,
      datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset: { name: 'd', digest: 'abc', source_type: 'local', source: '{}' } }],
    };
    for (let i = 0; i < 2; i++) expect((await post('runs/log-inputs', inputs)).statusCode).toBe(200);
    const run = (await call('GET', `${API}/runs/get?run_id=${runId}`)).json<{ run: { inputs: { dataset_inputs: unknown[] } } }>().run;
    expect(run.inputs.dataset_inputs).toHaveLength(1);
  });
});
