import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { filePathOf } from '../../storage/file-store';
import { getOrCreateExperiment, type Experiment } from '../../store/experiments';
import { getRun } from '../../store/run-reads';
import type { MlflowRun } from '../../store/run-record';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';
import { httpRequest, type Reply } from '../helpers/http';

const API = '/api/2.0/mlflow';

let ctx: WorkflowTestContext;
let baseUrl: string;
let experiment: Experiment;

const request = (method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply> => httpRequest(baseUrl, method, url, payload);

const post = (path: string, payload: unknown) => request('POST', `${API}/${path}`, payload);
const get = (path: string, query: Record<string, string | string[]>) => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) for (const v of [value].flat()) params.append(key, v);
  return request('GET', `${API}/${path}?${params.toString()}`);
};

function expectError(res: Reply, status: number, error_code: string, message: string): void {
  expect({ status: res.statusCode, body: res.json() }).toEqual({ status, body: { error_code, message } });
}

const newExperiment = (prefix: string) => getOrCreateExperiment(ctx.pool, `${prefix}-${randomUUID()}`, ctx.artifactRoot);

async function createRun(payload: Record<string, unknown> = {}): Promise<MlflowRun['info']> {
  const res = await post('runs/create', { experiment_id: experiment.experiment_id, ...payload });
  expect(res.statusCode).toBe(200);
  return res.json<{ run: MlflowRun }>().run.info;
}

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  baseUrl = await ctx.startApi('mlflow-runs-test');
  experiment = await newExperiment('runs-api');
});

afterAll(async () => {
  await ctx.close();
});

describe('runs/create', () => {
  test('creates a RUNNING run with a generated name, the name tag, user and artifact URI', async () => {
    const res = await post('runs/create', {
      experiment_id: experiment.experiment_id,
      start_time: '1700000000000',
      tags: [{ key: 'mlflow.user', value: 'alice' }, { key: 'team', value: 'a' }],
    });
    expect(res.statusCode).toBe(200);
    const { run } = res.json<{ run: MlflowRun }>();
    const runId = run.info.run_id;
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    expect(run.info.run_name).toMatch(/^[a-z]+-[a-z]+-\d{1,4}$/);
    expect(run.info.run_name.length).toBeLessThanOrEqual(20);
    expect(run.info).toEqual({
      run_id: runId,
      run_uuid: runId,
      run_name: run.info.run_name,
      experiment_id: experiment.experiment_id,
      user_id: 'alice',
      status: 'RUNNING',
      start_time: 1_700_000_000_000,
      artifact_uri: `${experiment.artifact_location}/${runId}/artifacts`,
      lifecycle_stage: 'active',
    });
    expect(run.data.tags).toEqual([
      { key: 'mlflow.runName', value: run.info.run_name },
      { key: 'mlflow.user', value: 'alice' },
      { key: 'team', value: 'a' },
    ]);
    expect(run.inputs).toEqual({ dataset_inputs: [] });
    expect(res.json()).toEqual({ run: JSON.parse(JSON.stringify(await getRun(ctx.pool, runId))) as unknown });
  });

  test('run_name and the mlflow.runName tag agree; user_id defaults to "unknown"', async () => {
    const named = await createRun({ run_name: 'my-run' });
    expect(named.run_name).toBe('my-run');
    expect(named.user_id).toBe('unknown');
    expect((await getRun(ctx.pool, named.run_id))?.data.tags).toContainEqual({ key: 'mlflow.runName', value: 'my-run' });

    const byTag = await createRun({ tags: [{ key: 'mlflow.runName', value: 'from-tag' }], user_id: 'bob' });
    expect(byTag).toMatchObject({ run_name: 'from-tag', user_id: 'bob' });

    const same = await createRun({ run_name: 'same', tags: [{ key: 'mlflow.runName', value: 'same' }] });
    expect(same.run_name).toBe('same');

    const conflict = await post('runs/create', {
      experiment_id: experiment.experiment_id,
      run_name: 'a',
      tags: [{ key: 'mlflow.runName', value: 'b' }],
    });
    expectError(
      conflict,
      400,
      'INVALID_PARAMETER_VALUE',
      "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').",
    );
  });

  test('experiment_id defaults to "0" (Default) and start_time to now; tag keys are validated', async () => {
    const before = Date.now();
    const res = await post('runs/create', {});
    expect(res.statusCode).toBe(200);
    const { info } = res.json<{ run: MlflowRun }>().run;
    // Soft-deleted at once so the shared Default experiment's active runs stay as other tests left them.
    await post('runs/delete', { run_id: info.run_id });
    expect(info.experiment_id).toBe('0');
    expect(info.artifact_uri.endsWith(`/0/${info.run_id}/artifacts`)).toBe(true);
    expect(info.start_time).toBeGreaterThanOrEqual(before);
    expect(info.start_time).toBeLessThanOrEqual(Date.now());

    const badKey = await post('runs/create', { experiment_id: experiment.experiment_id, tags: [{ key: 'ok', value: '' }, { key: '../x', value: 'v' }] });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json<{ message: string }>().message).toContain(`Invalid value "../x" for parameter 'tags[1].key' supplied`);
  });

  test('generated names differ between runs', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) names.add((await createRun()).run_name);
    expect(names.size).toBeGreaterThan(1);
  });

  test('unknown and deleted experiments, bad fields', async () => {
    expectError(await post('runs/create', { experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=987654321 exists');

    const gone = await newExperiment('runs-api-deleted');
    await ctx.pool.query("UPDATE experiments SET lifecycle_stage = 'deleted' WHERE experiment_id = $1", [gone.experiment_id]);
    expectError(
      await post('runs/create', { experiment_id: gone.experiment_id }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The experiment ${gone.experiment_id} must be in the 'active' state. Current state is deleted.`,
    );

    expectError(
      await post('runs/create', { experiment_id: experiment.experiment_id, start_time: 'soon' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid value "soon" for parameter 'start_time' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.`,
    );
  });
});

describe('runs/delete, runs/restore, runs/delete-tag', () => {
  test('delete and restore flip lifecycle_stage, and repeating them is harmless', async () => {
    const { run_id } = await createRun();
    for (let i = 0; i < 2; i++) {
      const res = await post('runs/delete', { run_id });
      expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 200, body: {} });
    }
    const deleted = await get('runs/get', { run_id });
    expect(deleted.json()).toMatchObject({ run: { info: { lifecycle_stage: 'deleted' } } });

    expectError(
      await post('runs/set-tag', { run_id, key: 'k', value: 'v' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The run ${run_id} must be in the 'active' state. Current state is deleted.`,
    );
    expectError(
      await post('runs/delete-tag', { run_id, key: 'mlflow.user' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The run ${run_id} must be in the 'active' state. Current state is deleted.`,
    );

    for (let i = 0; i < 2; i++) expect((await post('runs/restore', { run_id })).statusCode).toBe(200);
    expect((await get('runs/get', { run_id })).json()).toMatchObject({ run: { info: { lifecycle_stage: 'active' } } });
    const { rows } = await ctx.pool.query('SELECT deleted_time FROM runs WHERE run_uuid = $1', [run_id]);
    expect(rows[0]).toEqual({ deleted_time: null });
  });

  test('unknown runs and missing ids', async () => {
    const unknown = randomUUID().replace(/-/g, '');
    for (const path of ['runs/delete', 'runs/restore']) {
      expectError(await post(path, { run_id: unknown }), 404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${unknown} not found`);
    }
    expectError(
      await post('runs/delete', {}),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.",
    );
  });

  test('delete-tag removes a tag; an unknown tag is RESOURCE_DOES_NOT_EXIST', async () => {
    const { run_id } = await createRun();
    await post('runs/set-tag', { run_id, key: 'doomed', value: 'x' });
    const res = await post('runs/delete-tag', { run_id, key: 'doomed' });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 200, body: {} });
    expect((await getRun(ctx.pool, run_id))?.data.tags.map((t) => t.key)).not.toContain('doomed');

    expectError(await post('runs/delete-tag', { run_id, key: 'doomed' }), 404, 'RESOURCE_DOES_NOT_EXIST', `No tag with name: doomed in run with id ${run_id}`);
    expectError(
      await post('runs/delete-tag', { run_id }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'key'. See the API docs for more information about request parameters.",
    );
  });
});

describe('runs/log-inputs', () => {
  const dataset = (name: string, digest: string) => ({
    name,
    digest,
    source_type: 'local',
    source: '{"uri": "/data/train.csv"}',
    schema: '{"mlflow_colspec": []}',
    profile: '{"num_rows": 10}',
  });

  test('stores datasets once per experiment, links them once per run, and get-run shows them', async () => {
    const exp = await newExperiment('runs-api-inputs');
    const runA = await createRun({ experiment_id: exp.experiment_id });
    const runB = await createRun({ experiment_id: exp.experiment_id });
    const body = {
      run_id: runA.run_id,
      datasets: [
        { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: dataset('train', 'd1') },
        { tags: [{ key: 'mlflow.data.context', value: 'eval' }], dataset: { name: 'eval', digest: 'd2', source_type: 'code', source: 's' } },
        // Same name and digest again in one request: the first one wins.
        { tags: [{ key: 'mlflow.data.context', value: 'ignored' }], dataset: dataset('train', 'd1') },
      ],
    };
    for (let i = 0; i < 2; i++) {
      const res = await post('runs/log-inputs', body);
      expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 200, body: {} });
    }
    expect((await post('runs/log-inputs', { run_id: runB.run_id, datasets: [{ tags: [], dataset: dataset('train', 'd1') }] })).statusCode).toBe(200);

    const run = (await get('runs/get', { run_id: runA.run_id })).json<{ run: MlflowRun }>().run;
    expect(run.inputs.dataset_inputs).toEqual([
      { tags: [{ key: 'mlflow.data.context', value: 'eval' }], dataset: { name: 'eval', digest: 'd2', source_type: 'code', source: 's' } },
      { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: dataset('train', 'd1') },
    ]);
    const counts = await ctx.pool.query(
      `SELECT (SELECT count(*)::int FROM datasets WHERE experiment_id = $1) AS datasets,
              (SELECT count(*)::int FROM inputs WHERE destination_id = ANY($2::text[])) AS inputs,
              (SELECT count(*)::int FROM input_tags t JOIN inputs i USING (input_uuid) WHERE i.destination_id = ANY($2::text[])) AS tags`,
      [exp.experiment_id, [runA.run_id, runB.run_id]],
    );
    expect(counts.rows[0]).toEqual({ datasets: 2, inputs: 3, tags: 2 });
  });

  test('validation, unknown and deleted runs', async () => {
    const { run_id } = await createRun();
    expectError(
      await post('runs/log-inputs', { run_id }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'datasets'. See the API docs for more information about request parameters.",
    );
    expectError(
      await post('runs/log-inputs', { run_id, datasets: [{ tags: [], dataset: dataset('x', 'd'.repeat(37)) }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      'Dataset digest exceeds the maximum length of 36',
    );
    const unknown = randomUUID().replace(/-/g, '');
    expectError(
      await post('runs/log-inputs', { run_id: unknown, datasets: [{ tags: [], dataset: dataset('x', 'd') }] }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      `Run with id=${unknown} not found`,
    );
    await post('runs/delete', { run_id });
    expectError(
      await post('runs/log-inputs', { run_id, datasets: [{ tags: [], dataset: dataset('x', 'd') }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The run ${run_id} must be in the 'active' state. Current state is deleted.`,
    );
  });
});

describe('runs/log-model', () => {
  const model = (path: string) => ({
    artifact_path: path,
    flavors: { python_function: { loader_module: 'mlflow.sklearn' } },
    run_id: 'r',
    utc_time_created: `2024-01-01 00:00:0${path.length}.000000`,
  });

  test('appends to the mlflow.log-model.history tag as Python json.dumps writes it; a replay adds nothing', async () => {
    const { run_id } = await createRun();
    const first = await post('runs/log-model', { run_id, model_json: JSON.stringify(model('m')) });
    expect({ status: first.statusCode, body: first.json() }).toEqual({ status: 200, body: {} });
    await post('runs/log-model', { run_id, model_json: JSON.stringify(model('m')) });
    await post('runs/log-model', { run_id, model_json: JSON.stringify(model('mm')) });
    const tag = (await getRun(ctx.pool, run_id))?.data.tags.find((t) => t.key === 'mlflow.log-model.history');
    expect(tag?.value).toBe(
      '[{"artifact_path": "m", "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}, "run_id": "r", "utc_time_created": "2024-01-01 00:00:01.000000"}, ' +
        '{"artifact_path": "mm", "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}, "run_id": "r", "utc_time_created": "2024-01-01 00:00:02.000000"}]',
    );
  });

  test('malformed or incomplete model JSON', async () => {
    const { run_id } = await createRun();
    expectError(
      await post('runs/log-model', { run_id, model_json: '{' }),
      400,
      'INVALID_PARAMETER_VALUE',
      'Malformed model info. \n { \n is not a valid JSON.',
    );
    expectError(
      await post('runs/log-model', { run_id, model_json: '{"artifact_path": "m"}' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Model json is missing mandatory fields: {'flavors', 'run_id', 'utc_time_created'}",
    );
    expectError(
      await post('runs/log-model', { run_id }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'model_json'. See the API docs for more information about request parameters.",
    );
  });
});

describe('metrics/get-history', () => {
  test('returns every point ordered by (step, timestamp), with NaN and Infinity as protobuf JSON', async () => {
    const { run_id } = await createRun();
    await post('runs/log-batch', {
      run_id,
      metrics: [
        { key: 'loss', value: 3, timestamp: 30, step: 2 },
        { key: 'loss', value: 'NaN', timestamp: 10, step: 1 },
        { key: 'loss', value: 'Infinity', timestamp: 20, step: 1 },
        { key: 'loss', value: 1, timestamp: 5, step: 0 },
        { key: 'other', value: 9, timestamp: 5, step: 0 },
      ],
    });
    const res = await get('metrics/get-history', { run_id, run_uuid: run_id, metric_key: 'loss' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      metrics: [
        { key: 'loss', value: 1, timestamp: 5, step: 0 },
        { key: 'loss', value: 'NaN', timestamp: 10, step: 1 },
        { key: 'loss', value: 'Infinity', timestamp: 20, step: 1 },
        { key: 'loss', value: 3, timestamp: 30, step: 2 },
      ],
    });
    expect((await get('metrics/get-history', { run_id, metric_key: 'none' })).json()).toEqual({ metrics: [] });
  });

  test('pages with max_results and page_token without skipping or repeating points', async () => {
    const { run_id } = await createRun();
    // Ties on (step, timestamp) with different values are distinct points.
    const metrics = Array.from({ length: 7 }, (_, i) => ({ key: 'acc', value: i, timestamp: 100, step: Math.floor(i / 3) }));
    await post('runs/log-batch', { run_id, metrics });
    const seen: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await get('metrics/get-history', { run_id, metric_key: 'acc', max_results: '3', ...(token && { page_token: token }) });
      expect(res.statusCode).toBe(200);
      const page = res.json<{ metrics: { value: number }[]; next_page_token?: string }>();
      seen.push(...page.metrics.map((m) => m.value));
      token = page.next_page_token;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('errors', async () => {
    const { run_id } = await createRun();
    const unknown = randomUUID().replace(/-/g, '');
    // `mlflow server` answers an unknown run's history with an empty list (test/compat checks it).
    const unknownHistory = await get('metrics/get-history', { run_id: unknown, metric_key: 'm' });
    expect({ status: unknownHistory.statusCode, body: unknownHistory.json() }).toEqual({ status: 200, body: { metrics: [] } });
    expectError(
      await get('metrics/get-history', { run_id }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'metric_key'. See the API docs for more information about request parameters.",
    );
    const bad = await get('metrics/get-history', { run_id, metric_key: 'm', page_token: 'not-a-token' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });
});

describe('metrics/get-history-bulk-interval', () => {
  test('returns all points of every run when there are few steps, tagged with run_id', async () => {
    const a = await createRun();
    const b = await createRun();
    await post('runs/log-batch', { run_id: a.run_id, metrics: [0, 1, 2].map((s) => ({ key: 'loss', value: s, timestamp: s, step: s })) });
    await post('runs/log-batch', { run_id: b.run_id, metrics: [{ key: 'loss', value: 'NaN', timestamp: 7, step: 1 }] });
    const res = await get('metrics/get-history-bulk-interval', { run_ids: [b.run_id, a.run_id], metric_key: 'loss' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      metrics: [
        { key: 'loss', value: 'NaN', timestamp: 7, step: 1, run_id: b.run_id },
        { key: 'loss', value: 0, timestamp: 0, step: 0, run_id: a.run_id },
        { key: 'loss', value: 1, timestamp: 1, step: 1, run_id: a.run_id },
        { key: 'loss', value: 2, timestamp: 2, step: 2, run_id: a.run_id },
      ],
    });
    // A single run id (a bare scalar) and a step range.
    const ranged = await get('metrics/get-history-bulk-interval', { run_ids: a.run_id, metric_key: 'loss', start_step: '1', end_step: '1' });
    expect(ranged.json()).toEqual({ metrics: [{ key: 'loss', value: 1, timestamp: 1, step: 1, run_id: a.run_id }] });
  });

  test('samples max_results steps evenly, keeping the last step and each run’s first and last', async () => {
    const a = await createRun();
    const b = await createRun();
    await post('runs/log-batch', { run_id: a.run_id, metrics: Array.from({ length: 100 }, (_, s) => ({ key: 'm', value: s, timestamp: 1, step: s })) });
    await post('runs/log-batch', { run_id: b.run_id, metrics: [13, 57].map((s) => ({ key: 'm', value: s, timestamp: 1, step: s })) });
    const res = await get('metrics/get-history-bulk-interval', { run_ids: [a.run_id, b.run_id], metric_key: 'm', max_results: '10' });
    const points = res.json<{ metrics: { step: number; run_id: string }[] }>().metrics;
    const stepsOf = (runId: string) => points.filter((p) => p.run_id === runId).map((p) => p.step);
    expect(stepsOf(a.run_id)).toEqual([0, 10, 13, 20, 30, 40, 50, 57, 60, 70, 80, 90, 99]);
    expect(stepsOf(b.run_id)).toEqual([13, 57]);
  });

  test('errors', async () => {
    const { run_id } = await createRun();
    const tooMany = Array.from({ length: 101 }, () => run_id);
    expectError(
      await get('metrics/get-history-bulk-interval', { run_ids: tooMany, metric_key: 'm' }),
      400,
      'INVALID_PARAMETER_VALUE',
      'GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids.',
    );
    expectError(
      await get('metrics/get-history-bulk-interval', { metric_key: 'm' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'run_ids'. See the API docs for more information about request parameters.",
    );
    expectError(
      await get('metrics/get-history-bulk-interval', { run_ids: run_id, metric_key: 'm', max_results: '2501' }),
      400,
      'INVALID_PARAMETER_VALUE',
      'max_results must be between 1 and 2500.',
    );
    expectError(
      await get('metrics/get-history-bulk-interval', { run_ids: run_id, metric_key: 'm', start_step: '1' }),
      400,
      'INVALID_PARAMETER_VALUE',
      'If either start step or end step are specified, both must be specified.',
    );
    expectError(
      await get('metrics/get-history-bulk-interval', { run_ids: run_id, metric_key: 'm', start_step: '5', end_step: '1' }),
      400,
      'INVALID_PARAMETER_VALUE',
      'end_step must be greater than start_step. Found start_step=5 and end_step=1.',
    );
  });
});

describe('artifacts/list', () => {
  test('lists a file:// run root and a subfolder with run-relative paths; a missing folder is empty', async () => {
    const { run_id, artifact_uri } = await createRun();
    expect(artifact_uri.startsWith('file://')).toBe(true);
    const root = filePathOf(artifact_uri);
    mkdirSync(join(root, 'model', 'data'), { recursive: true });
    writeFileSync(join(root, 'b.txt'), 'hello');
    writeFileSync(join(root, 'model', 'MLmodel'), 'x');

    const top = await get('artifacts/list', { run_id });
    expect(top.statusCode).toBe(200);
    expect(top.body).toBe(
      JSON.stringify({
        root_uri: artifact_uri,
        files: [
          { path: 'b.txt', is_dir: false, file_size: 5 },
          { path: 'model', is_dir: true },
        ],
      }),
    );
    const sub = await get('artifacts/list', { run_id, path: 'model' });
    expect(sub.json()).toEqual({
      root_uri: artifact_uri,
      files: [
        { path: 'model/MLmodel', is_dir: false, file_size: 1 },
        { path: 'model/data', is_dir: true },
      ],
    });
    expect((await get('artifacts/list', { run_id, path: 'nope' })).json()).toEqual({ root_uri: artifact_uri, files: [] });
    // A file, not a folder: nothing to list (LocalArtifactRepository).
    expect((await get('artifacts/list', { run_id, path: 'b.txt' })).json()).toEqual({ root_uri: artifact_uri, files: [] });
    expect((await get('artifacts/list', { run_id, path: 'model/' })).json()).toEqual(sub.json());
    const fresh = await createRun();
    expect((await get('artifacts/list', { run_id: fresh.run_id })).json()).toEqual({ root_uri: fresh.artifact_uri, files: [] });
  });

  test('path traversal and unknown runs', async () => {
    const { run_id } = await createRun();
    for (const path of ['../other', 'a/../../b', '/etc', '%2E%2E/x']) {
      expectError(await get('artifacts/list', { run_id, path }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    }
    const proxied = await getOrCreateExperiment(ctx.pool, `runs-api-proxied-${randomUUID()}`, 'mlflow-artifacts:');
    const remote = await createRun({ experiment_id: proxied.experiment_id });
    expect(remote.artifact_uri).toBe(`mlflow-artifacts:/${proxied.experiment_id}/${remote.run_id}/artifacts`);
    // mlflow-artifacts:/ runs are listed from the proxy's tree under the artifact root (mlflow-artifacts.test.ts).
    expect((await get('artifacts/list', { run_id: remote.run_id })).json()).toEqual({ root_uri: remote.artifact_uri, files: [] });
    expectError(await get('artifacts/list', { run_id: remote.run_id, path: '../x' }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    const gcs = await getOrCreateExperiment(ctx.pool, `runs-api-gcs-${randomUUID()}`, 'gs://bucket/mlflow');
    const elsewhere = await createRun({ experiment_id: gcs.experiment_id });
    expectError(
      await get('artifacts/list', { run_id: elsewhere.run_id }),
      501,
      'NOT_IMPLEMENTED',
      `Listing artifacts is only supported for file:// and s3:// artifact URIs; run ${elsewhere.run_id} stores them at ${elsewhere.artifact_uri}`,
    );
    const unknown = randomUUID().replace(/-/g, '');
    expectError(await get('artifacts/list', { run_id: unknown }), 404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${unknown} not found`);
  });
});
