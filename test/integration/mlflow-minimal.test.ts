import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import { getOrCreateExperiment, type Experiment } from '../../store/experiments';
import { createPool } from '../../store/pool';
import { getRun } from '../../store/run-reads';
import { createRun } from '../../store/run-writes';
import { testEnv } from '../helpers/services';
import { newRunId } from '../helpers/run-ids';

const API = '/api/2.0/mlflow';
let pool: pg.Pool;
let app: FastifyInstance;
let connection: Connection;
let baseUrl: string;
let experiment: Experiment;

interface Reply {
  statusCode: number;
  headers: Headers;
  body: string;
  json<T = unknown>(): T;
}

/**
 * app.inject's stand-in: light-my-request requires the ESM-only `cookie` 2, which jest's CommonJS
 * runtime cannot load on Node 20, so requests go over a real socket instead.
 */
async function request(method: 'GET' | 'POST', url: string, init: { headers?: Record<string, string>; payload?: string } = {}): Promise<Reply> {
  const res = await fetch(`${baseUrl}${url}`, { method, headers: init.headers, body: init.payload });
  const body = await res.text();
  return { statusCode: res.status, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
}

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'mlflow-api-test', artifactRoot: 'file:///nonexistent/mlflow-api-test' });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  experiment = await getOrCreateExperiment(pool, `api-${randomUUID()}`, 'mlflow-artifacts:');
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

async function newRun(): Promise<string> {
  const runId = newRunId();
  await createRun(pool, {
    runId,
    experimentId: experiment.experiment_id,
    name: 'api-run',
    userId: 'bob',
    startTime: 1_700_000_000_000,
    artifactUri: `${experiment.artifact_location}/${runId}/artifacts`,
  });
  return runId;
}

const post = (path: string, payload: unknown) =>
  request('POST', `${API}/${path}`, { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
const get = (path: string, query: Record<string, string>) => request('GET', `${API}/${path}?${new URLSearchParams(query).toString()}`);

describe('MLflow REST facade (minimal)', () => {
  test('experiments/get and get-by-name, under both prefixes', async () => {
    const byId = await get('experiments/get', { experiment_id: experiment.experiment_id });
    expect(byId.statusCode).toBe(200);
    expect(byId.json()).toEqual({ experiment });
    expect(experiment.artifact_location).toBe(`mlflow-artifacts:/${experiment.experiment_id}`);

    const ajax = await request('GET', `/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(experiment.name)}`);
    expect(ajax.statusCode).toBe(200);
    expect(ajax.json()).toEqual({ experiment });
  });

  test('missing experiments answer 404 with MLflow error bodies', async () => {
    const byId = await get('experiments/get', { experiment_id: '987654321' });
    expect(byId.statusCode).toBe(404);
    expect(byId.headers.get('content-type')).toMatch(/^application\/json/);
    expect(byId.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=987654321 exists' });

    const byName = await get('experiments/get-by-name', { experiment_name: 'no such experiment' });
    expect(byName.statusCode).toBe(404);
    expect(byName.json()).toEqual({
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: "Could not find experiment with name 'no such experiment'",
    });

    const missing = await get('experiments/get', {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters.",
    });
  });

  test('runs/get by run_id or run_uuid; an unknown run is a 404 with the exact body', async () => {
    const runId = await newRun();
    const byId = await get('runs/get', { run_id: runId });
    expect(byId.statusCode).toBe(200);
    expect(byId.json()).toEqual({ run: JSON.parse(JSON.stringify(await getRun(pool, runId))) as unknown });
    const byUuid = await get('runs/get', { run_uuid: runId });
    expect(byUuid.json()).toEqual(byId.json());

    const unknown = newRunId();
    const notFound = await get('runs/get', { run_id: unknown });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.body).toBe(JSON.stringify({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${unknown} not found` }));

    const write = await post('runs/log-metric', { run_id: unknown, key: 'm', value: 1, timestamp: 1 });
    expect(write.statusCode).toBe(404);
    expect(write.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${unknown} not found` });
  });

  test('log-metric accepts numbers, numeric strings and NaN/Infinity, and get-run reports them as protobuf JSON', async () => {
    const runId = await newRun();
    for (const [key, value] of [
      ['loss', 0.25],
      ['nan', 'NaN'],
      ['inf', 'Infinity'],
      ['ninf', '-Infinity'],
      ['str', '1.5e2'],
    ] as const) {
      const res = await post('runs/log-metric', { run_id: runId, run_uuid: runId, key, value, timestamp: '1700000000001', step: 2 });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({});
    }
    const run = (await get('runs/get', { run_id: runId })).json<{ run: { data: { metrics: unknown[] } } }>();
    expect(run.run.data.metrics).toEqual([
      { key: 'inf', value: 'Infinity', timestamp: 1_700_000_000_001, step: 2 },
      { key: 'loss', value: 0.25, timestamp: 1_700_000_000_001, step: 2 },
      { key: 'nan', value: 'NaN', timestamp: 1_700_000_000_001, step: 2 },
      { key: 'ninf', value: '-Infinity', timestamp: 1_700_000_000_001, step: 2 },
      { key: 'str', value: 150, timestamp: 1_700_000_000_001, step: 2 },
    ]);
  });

  test('request validation uses MLflow messages', async () => {
    const runId = await newRun();
    const noRun = await post('runs/log-metric', { key: 'm', value: 1, timestamp: 1 });
    expect(noRun.statusCode).toBe(400);
    expect(noRun.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.",
    });

    const badStep = await post('runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1, step: 'foo' });
    expect(badStep.statusCode).toBe(400);
    expect(badStep.json<{ message: string }>().message).toContain('Invalid value "foo" for parameter \'step\' supplied');

    const noTimestamp = await post('runs/log-metric', { run_id: runId, key: 'm', value: 1 });
    expect(noTimestamp.json<{ message: string }>().message).toContain("Missing value for required parameter 'timestamp'");

    const boolValue = await post('runs/log-metric', { run_id: runId, key: 'm', value: true, timestamp: 1 });
    expect(boolValue.statusCode).toBe(400);
    expect(boolValue.json<{ message: string }>().message).toContain("Invalid value true for parameter 'value' supplied");

    const badKey = await post('runs/set-tag', { run_id: runId, key: '../escape', value: 'x' });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });

    const emptyBody = await request('POST', `${API}/runs/set-tag`, { headers: { 'content-type': 'application/json' }, payload: '' });
    expect(emptyBody.statusCode).toBe(400);
    expect(emptyBody.json<{ message: string }>().message).toContain("Missing value for required parameter 'run_id'");

    const notJson = await request('POST', `${API}/runs/set-tag`, { headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
  });

  test('log-parameter is write-once; set-tag overwrites; a double-encoded body is accepted', async () => {
    const runId = await newRun();
    expect((await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' })).statusCode).toBe(200);
    expect((await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' })).statusCode).toBe(200);
    const conflict = await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.2' });
    expect(conflict.statusCode).toBe(400);
    expect(conflict.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='${runId}'. Attempted logging new value '0.2'.`,
    });

    await post('runs/set-tag', { run_id: runId, key: 'team', value: 'a' });
    const doubleEncoded = await request('POST', `${API}/runs/set-tag`, {
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(JSON.stringify({ run_id: runId, key: 'team', value: 'b' })),
    });
    expect(doubleEncoded.statusCode).toBe(200);
    const run = await getRun(pool, runId);
    expect(run?.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
    expect(run?.data.tags).toContainEqual({ key: 'team', value: 'b' });
  });

  test('log-batch writes metrics, params and tags, and is safe to replay', async () => {
    const runId = await newRun();
    const batch = {
      run_id: runId,
      metrics: [
        { key: 'loss', value: 0.9, timestamp: 10, step: 0 },
        { key: 'loss', value: 0.4, timestamp: 20, step: 1 },
      ],
      params: [{ key: 'epochs', value: '2' }],
      tags: [
        { key: 't', value: 'old' },
        { key: 't', value: 'new' },
      ],
    };
    for (let i = 0; i < 2; i++) {
      const res = await post('runs/log-batch', batch);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({});
    }
    const run = await getRun(pool, runId);
    expect(run?.data.metrics).toEqual([{ key: 'loss', value: 0.4, timestamp: 20, step: 1 }]);
    expect(run?.data.params).toEqual([{ key: 'epochs', value: '2' }]);
    expect(run?.data.tags).toContainEqual({ key: 't', value: 'new' });
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM metrics WHERE run_uuid = $1', [runId]);
    expect(rows[0]).toEqual({ n: 2 });

    const dupes = await post('runs/log-batch', { run_id: runId, params: [{ key: 'a', value: '1' }, { key: 'a', value: '1' }] });
    expect(dupes.statusCode).toBe(400);
    expect(dupes.json<{ message: string }>().message).toContain("Duplicate parameter keys have been submitted: ['a']");
  });

  test('log-batch enforces MLflow limits and writes nothing past them', async () => {
    const runId = await newRun();
    const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: 'm', value: i, timestamp: i }));
    const kvs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const cases: [object, string][] = [
      [{ metrics: metrics(1001) }, 'A batch logging request can contain at most 1000 metrics. Got 1001 metrics.'],
      [{ params: kvs(101) }, 'A batch logging request can contain at most 100 params. Got 101 params.'],
      [{ tags: kvs(101) }, 'A batch logging request can contain at most 100 tags. Got 101 tags.'],
      [
        { metrics: metrics(900), params: kvs(50), tags: kvs(51) },
        'A batch logging request can contain at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags.',
      ],
    ];
    for (const [body, message] of cases) {
      const res = await post('runs/log-batch', { run_id: runId, ...body });
      expect(res.statusCode).toBe(400);
      expect(res.json<{ error_code: string }>().error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(res.json<{ message: string }>().message).toContain(message);
    }
    const ok = await post('runs/log-batch', { run_id: runId, metrics: metrics(900), params: kvs(50), tags: kvs(50) });
    expect(ok.statusCode).toBe(200);
    const run = await getRun(pool, runId);
    expect(run?.data.params).toHaveLength(50);
    expect(run?.data.metrics).toEqual([{ key: 'm', value: 899, timestamp: 899, step: 0 }]);
  });

  test('runs/update sets status, end time and name, and returns run_info', async () => {
    const runId = await newRun();
    const res = await post('runs/update', { run_id: runId, run_uuid: runId, status: 'FINISHED', end_time: 1_700_000_009_000, run_name: 'done' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      run_info: {
        run_id: runId,
        run_uuid: runId,
        run_name: 'done',
        experiment_id: experiment.experiment_id,
        user_id: 'bob',
        status: 'FINISHED',
        start_time: 1_700_000_000_000,
        end_time: 1_700_000_009_000,
        artifact_uri: `${experiment.artifact_location}/${runId}/artifacts`,
        lifecycle_stage: 'active',
      },
    });
    const resumed = await post('runs/update', { run_id: runId, status: 'RUNNING' });
    expect(resumed.json()).toMatchObject({ run_info: { status: 'RUNNING', end_time: 1_700_000_009_000 } });
    const bad = await post('runs/update', { run_id: runId, status: 'DONE' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toContain(`Invalid value "DONE" for parameter 'status' supplied`);
  });

  test('writes to a deleted run are refused', async () => {
    const runId = await newRun();
    await pool.query("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid = $1", [runId]);
    const res = await post('runs/set-tag', { run_id: runId, key: 'k', value: 'v' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `The run ${runId} must be in the 'active' state. Current state is deleted.`,
    });
  });

  test('unknown endpoints answer ENDPOINT_NOT_FOUND', async () => {
    const res = await get('runs/no-such-endpoint', {});
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error_code: 'ENDPOINT_NOT_FOUND' });
  });
});
