import { generateToken, hashToken } from '../../api/auth/tokens';
import { hashPassword } from '../../api/auth/passwords';
import { type Permission, permits } from '../../domain/auth';
import { createStorage } from '../../storage/storage';
import { insertToken } from '../../store/api-tokens';
import { setGrant } from '../../store/permissions';
import { createUser } from '../../store/users';
import { httpRequest, type Reply } from '../helpers/http';
import { uniqueId } from '../helpers/launches';
import { startMoto, type Moto } from '../helpers/moto';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// MLflow 3 logged models over raw HTTP: the model's life (create, finalize, tags, params, delete),
// its metrics and its links to runs, search, its files on a file:// and an s3:// root, refusals of
// bad input with MLflow's codes (never a 500), and access control following the experiment's grants.

const API = '/api/2.0/mlflow';
const MISSING = `m-${'0'.repeat(32)}`;

interface WireModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    source_run_id?: string;
    model_type?: string;
    tags?: Array<{ key: string; value: string }>;
  };
  data: { params?: Array<{ key: string; value: string }>; metrics?: Array<Record<string, unknown>> };
}

let ctx: WorkflowTestContext;
let moto: Moto;
let baseUrl: string;
let s3Url: string;
let authUrl: string;

const BUCKET = 'logged-models';

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBucket(BUCKET);
  ctx = await createWorkflowTestContext();
  baseUrl = await ctx.startApi('mlflow-logged-models-test');
  s3Url = await ctx.startApi('mlflow-logged-models-s3-test', { artifactRoot: `s3://${BUCKET}/root`, storage: createStorage({ s3Client: moto.client() }) });
  authUrl = await ctx.startApi('mlflow-logged-models-auth-test', { auth: { enabled: true, defaultPermission: 'NO_PERMISSIONS' } });
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await moto?.stop();
});

const call = (method: string, path: string, payload?: unknown, url = baseUrl): Promise<Reply> => httpRequest(url, method, `${API}${path}`, payload);

function expectError(res: Reply, status: number, error_code: string, message?: string): void {
  expect({ status: res.statusCode, code: res.json<{ error_code: string }>().error_code }).toEqual({ status, code: error_code });
  if (message !== undefined) expect(res.json()).toEqual({ error_code, message });
}

async function newExperiment(url = baseUrl): Promise<string> {
  const res = await call('POST', '/experiments/create', { name: uniqueId('logged-models') }, url);
  expect(res.statusCode).toBe(200);
  return res.json<{ experiment_id: string }>().experiment_id;
}

async function newModel(experimentId: string, extra: Record<string, unknown> = {}, url = baseUrl): Promise<WireModel> {
  const res = await call('POST', '/logged-models', { experiment_id: experimentId, ...extra }, url);
  expect(res.statusCode).toBe(200);
  return res.json<{ model: WireModel }>().model;
}

async function newRun(experimentId: string, url = baseUrl): Promise<string> {
  const res = await call('POST', '/runs/create', { experiment_id: experimentId }, url);
  return res.json<{ run: { info: { run_id: string } } }>().run.info.run_id;
}

describe('a logged model', () => {
  test('is created PENDING under its experiment, finalized, tagged, given params and soft-deleted', async () => {
    const experimentId = await newExperiment();
    const runId = await newRun(experimentId);
    const created = await newModel(experimentId, {
      name: 'clf',
      model_type: 'classifier',
      source_run_id: runId,
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'team', value: 'a' }],
    });
    const id = created.info.model_id;
    expect(id).toMatch(/^m-[0-9a-f]{32}$/);
    expect(created.info).toEqual({
      model_id: id,
      experiment_id: experimentId,
      name: 'clf',
      creation_timestamp_ms: expect.any(Number) as number,
      last_updated_timestamp_ms: created.info.creation_timestamp_ms,
      artifact_uri: `mlflow-artifacts:/${experimentId}/models/${id}/artifacts`,
      status: 'LOGGED_MODEL_PENDING',
      model_type: 'classifier',
      source_run_id: runId,
      tags: [{ key: 'team', value: 'a' }],
    });
    expect(created.data).toEqual({ params: [{ key: 'lr', value: '0.1' }] });

    const finalized = await call('PATCH', `/logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' });
    expect(finalized.json<{ model: WireModel }>().model.info.status).toBe('LOGGED_MODEL_READY');
    expect((await call('PATCH', `/logged-models/${id}/tags`, { tags: [{ key: 'team', value: 'b' }, { key: 'x', value: '1' }] })).json()).toEqual({});
    expect((await call('DELETE', `/logged-models/${id}/tags/x`)).statusCode).toBe(200);
    expect((await call('POST', `/logged-models/${id}/params`, { model_id: id, params: [{ key: 'epochs', value: '3' }] })).statusCode).toBe(200);
    const fetched = (await call('GET', `/logged-models/${id}`)).json<{ model: WireModel }>().model;
    expect(fetched.info.tags).toEqual([{ key: 'team', value: 'b' }]);
    expect(fetched.data.params).toEqual([{ key: 'epochs', value: '3' }, { key: 'lr', value: '0.1' }]);

    // An unnamed model gets a generated name, as an unnamed run does.
    expect((await newModel(experimentId)).info.name).toMatch(/^[a-z]+-[a-z]+-\d{1,4}$/);

    expect((await call('DELETE', `/logged-models/${id}`)).json()).toEqual({});
    expectError(await call('GET', `/logged-models/${id}`), 404, 'RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${id}' not found.`);
    const deleted = await call('GET', `/logged-models/${id}?allow_deleted=true`);
    expect(deleted.json<{ model: WireModel }>().model.info.model_id).toBe(id);
  });

  test('gets the metrics logged with its id, and its runs show it as an output and an input', async () => {
    const experimentId = await newExperiment();
    const runId = await newRun(experimentId);
    const model = await newModel(experimentId, { name: 'scored' });
    const id = model.info.model_id;
    expect((await call('POST', '/runs/outputs', { run_id: runId, models: [{ model_id: id, step: 2 }] })).json()).toEqual({});
    expect((await call('POST', '/runs/log-inputs', { run_id: runId, models: [{ model_id: id }] })).json()).toEqual({});
    await call('POST', '/runs/log-metric', { run_id: runId, key: 'acc', value: 0.5, timestamp: 1000, step: 2, model_id: id, dataset_name: 'eval', dataset_digest: 'd1' });
    await call('POST', '/runs/log-batch', { run_id: runId, metrics: [{ key: 'loss', value: 'NaN', timestamp: 1001, step: 2, model_id: id }, { key: 'plain', value: 1, timestamp: 1 }] });

    const run = (await call('GET', `/runs/get?run_id=${runId}`)).json<{ run: Record<string, unknown> & { data: { metrics: unknown[] } } }>().run;
    expect(run.outputs).toEqual({ model_outputs: [{ model_id: id, step: 2 }] });
    expect(run.inputs).toEqual({ dataset_inputs: [], model_inputs: [{ model_id: id }] });
    expect(run.data.metrics).toHaveLength(3);
    const searched = (await call('POST', '/runs/search', { experiment_ids: [experimentId] })).json<{ runs: Array<Record<string, unknown>> }>().runs[0];
    expect(searched?.outputs).toEqual({ model_outputs: [{ model_id: id, step: 2 }] });

    const metrics = (await call('GET', `/logged-models/${id}`)).json<{ model: WireModel }>().model.data.metrics;
    // NaN is kept as 0, as MLflow's store keeps model metrics.
    expect(metrics).toEqual([
      { key: 'acc', value: 0.5, timestamp: 1000, step: 2, dataset_name: 'eval', dataset_digest: 'd1', model_id: id, run_id: runId },
      { key: 'loss', value: 0, timestamp: 1001, step: 2, model_id: id, run_id: runId },
    ]);
  });

  test('search filters by attributes, metrics, params, tags and datasets, orders with missing values last and pages', async () => {
    const experimentId = await newExperiment();
    const runId = await newRun(experimentId);
    const ids: string[] = [];
    for (const [i, acc] of [0.3, undefined, 0.9].entries()) {
      const model = await newModel(experimentId, { name: `s${i}`, params: [{ key: 'i', value: String(i) }], tags: [{ key: 'k', value: i === 2 ? 'x' : 'y' }] });
      ids.push(model.info.model_id);
      if (acc !== undefined) {
        await call('POST', '/runs/log-metric', { run_id: runId, key: 'acc', value: acc, timestamp: 10 + i, model_id: model.info.model_id, dataset_name: 'eval', dataset_digest: `d${i}` });
      }
    }
    const names = async (body: Record<string, unknown>) => {
      const res = await call('POST', '/logged-models/search', { experiment_ids: [experimentId], ...body });
      expect(res.statusCode).toBe(200);
      return (res.json<{ models?: WireModel[] }>().models ?? []).map((m) => m.info.name);
    };
    expect(await names({})).toEqual(['s2', 's1', 's0']);
    expect(await names({ filter: 'metrics.acc >= 0.3 AND params.i != \'2\'' })).toEqual(['s0']);
    expect(await names({ filter: "tags.k = 'y' AND name LIKE 's%'" })).toEqual(['s1', 's0']);
    expect(await names({ filter: "name NOT IN ('s0', 's1')" })).toEqual(['s2']);
    expect(await names({ filter: `model_id = '${ids[1]}'` })).toEqual(['s1']);
    expect(await names({ datasets: [{ dataset_name: 'eval', dataset_digest: 'd2' }] })).toEqual(['s2']);
    expect(await names({ order_by: [{ field_name: 'metrics.acc', ascending: true }] })).toEqual(['s0', 's2', 's1']);
    expect(await names({ order_by: [{ field_name: 'metrics.acc', ascending: false }] })).toEqual(['s2', 's0', 's1']);

    const first = (await call('POST', '/logged-models/search', { experiment_ids: [experimentId], max_results: 2 })).json<{ models: WireModel[]; next_page_token: string }>();
    expect(first.models.map((m) => m.info.name)).toEqual(['s2', 's1']);
    const second = (await call('POST', '/logged-models/search', { experiment_ids: [experimentId], max_results: 2, page_token: first.next_page_token })).json<{ models: WireModel[]; next_page_token?: string }>();
    expect(second.models.map((m) => m.info.name)).toEqual(['s0']);
    expect(second.next_page_token).toBeUndefined();
  });

  test.each([
    ['a file:// root', () => baseUrl],
    ['an s3:// root', () => s3Url],
  ])('serves its files through the artifact proxy on %s', async (_label, urlOf) => {
    const url = urlOf();
    const experimentId = await newExperiment(url);
    const id = (await newModel(experimentId, {}, url)).info.model_id;
    const put = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${id}/artifacts/sub/model.pkl`, { method: 'PUT', body: 'bytes' });
    expect(put.status).toBe(200);
    await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${id}/artifacts/MLmodel`, { method: 'PUT', body: 'flavors: {}' });

    const root = await call('GET', `/logged-models/${id}/artifacts/directories`, undefined, url);
    expect(root.json()).toEqual({
      root_uri: `mlflow-artifacts:/${experimentId}/models/${id}/artifacts`,
      files: [{ path: 'MLmodel', is_dir: false, file_size: 11 }, { path: 'sub', is_dir: true }],
    });
    const sub = await call('GET', `/logged-models/${id}/artifacts/directories?artifact_directory_path=sub`, undefined, url);
    expect(sub.json<{ files: unknown[] }>().files).toEqual([{ path: 'sub/model.pkl', is_dir: false, file_size: 5 }]);
    const file = await fetch(`${url}/ajax-api/2.0/mlflow/logged-models/${id}/artifacts/files?artifact_file_path=sub/model.pkl`);
    expect({ status: file.status, body: await file.text(), disposition: file.headers.get('content-disposition') }).toEqual({
      status: 200,
      body: 'bytes',
      disposition: 'attachment; filename=model.pkl',
    });
  });
});

describe('bad input is refused with MLflow codes, never a 500', () => {
  let experimentId: string;
  let modelId: string;
  let runId: string;

  beforeAll(async () => {
    experimentId = await newExperiment();
    modelId = (await newModel(experimentId, { params: [{ key: 'p', value: '1' }] })).info.model_id;
    runId = await newRun(experimentId);
  });

  test('with the messages MLflow gives', async () => {
    expectError(await call('POST', '/logged-models', {}), 400, 'INVALID_PARAMETER_VALUE', "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters.");
    expectError(
      await call('POST', '/logged-models', { experiment_id: experimentId, name: 'a/b' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid model name ('a/b') provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%', '"', "'")`,
    );
    expectError(await call('POST', '/logged-models', { experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=987654321 exists');
    expectError(await call('GET', `/logged-models/${MISSING}`), 404, 'RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${MISSING}' not found.`);
    expectError(await call('DELETE', `/logged-models/${modelId}/tags/nope`), 404, 'RESOURCE_DOES_NOT_EXIST', `No tag with key 'nope' found for model with ID '${modelId}'.`);
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], order_by: [{ field_name: 'params.x' }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      'Invalid order by field name: params.x. Only metrics are supported.',
    );
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], filter: 'metrics.acc LIKE 1' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Invalid comparison operator for metrics.acc: 'LIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=').",
    );
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], datasets: [{ dataset_digest: 'x' }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      '`dataset_name` in the `datasets` clause must be specified.',
    );
    expectError(
      await call('POST', '/logged-models', { experiment_id: 'abc' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.",
    );
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], filter: "name = 'a' OR name = 'b'" }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid filter string: "name = 'a' OR name = 'b'". Expected a list of comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01').`,
    );
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], filter: "Metrics.acc > 1" }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Invalid comparison operator for attributes.Metrics.acc: '>'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN').",
    );
    const first = await call('POST', '/logged-models/search', { experiment_ids: [experimentId], max_results: 1, order_by: [{ field_name: 'name' }] });
    expect(first.json<{ next_page_token?: string }>().next_page_token).toBeUndefined();
    await newModel(experimentId);
    const token = (await call('POST', '/logged-models/search', { experiment_ids: [experimentId], max_results: 1, order_by: [{ field_name: 'name' }] })).json<{ next_page_token: string }>().next_page_token;
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId], max_results: 1, page_token: token }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Order by in the page token does not match the requested order by. Expected: None. Found: [{'field_name': 'name', 'ascending': True, 'dataset_name': None, 'dataset_digest': None}]",
    );
    expectError(
      await call('POST', '/logged-models/search', { experiment_ids: [experimentId, '0'], max_results: 1, order_by: [{ field_name: 'name' }], page_token: token }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Experiment IDs in the page token do not match the requested experiment IDs. Expected: ['${experimentId}', '0']. Found: ['${experimentId}']`,
    );
    expectError(
      await call('GET', `/logged-models/${modelId}/artifacts/directories?artifact_directory_path=..%2Fx`),
      400,
      'INVALID_PARAMETER_VALUE',
      'Invalid path',
    );
    const missingFile = await fetch(`${baseUrl}/ajax-api/2.0/mlflow/logged-models/${modelId}/artifacts/files`);
    expect({ status: missingFile.status, body: await missingFile.json() }).toEqual({
      status: 400,
      body: { error_code: 'BAD_REQUEST', message: 'Request must include the "artifact_file_path" query parameter.' },
    });
  });

  test('as MLflow does: an unknown status finalizes to UNSPECIFIED, a second link or a changed model metric point is BAD_REQUEST', async () => {
    const id = (await newModel(experimentId)).info.model_id;
    for (const status of ['BOGUS', 0, 7]) {
      const res = await call('PATCH', `/logged-models/${id}`, { model_id: id, status });
      expect([status, res.json<{ model: WireModel }>().model.info.status]).toEqual([status, 'LOGGED_MODEL_STATUS_UNSPECIFIED']);
    }
    const unspecified = await call('POST', '/logged-models/search', { experiment_ids: [experimentId], filter: "status = '0'" });
    expect(unspecified.json<{ models: WireModel[] }>().models.map((m) => m.info.model_id)).toEqual([id]);

    const run = await newRun(experimentId);
    expect((await call('POST', '/runs/outputs', { run_id: run, models: [{ model_id: id, step: 1 }] })).statusCode).toBe(200);
    expectError(await call('POST', '/runs/outputs', { run_id: run, models: [{ model_id: id, step: 2 }] }), 400, 'BAD_REQUEST');
    // A link to a model that does not exist is kept, as MLflow keeps it.
    expect((await call('POST', '/runs/outputs', { run_id: run, models: [{ model_id: 'ghost', step: 0 }] })).statusCode).toBe(200);

    const point = { run_id: run, key: 'acc', value: 0.5, timestamp: 7, step: 1, model_id: id };
    expect((await call('POST', '/runs/log-metric', point)).statusCode).toBe(200);
    expect((await call('POST', '/runs/log-metric', point)).statusCode).toBe(200);
    expectError(await call('POST', '/runs/log-metric', { ...point, value: 0.6 }), 400, 'BAD_REQUEST');
    expectError(await call('POST', '/runs/log-batch', { run_id: run, metrics: [{ ...point, timestamp: 8 }, { ...point, timestamp: 8, value: 1 }] }), 400, 'BAD_REQUEST');
    expectError(await call('POST', '/runs/log-metric', { ...point, timestamp: 9, model_id: MISSING }), 400, 'BAD_REQUEST');
    // Nothing of a refused request was written, to the model or to the run.
    expect((await call('GET', `/logged-models/${id}`)).json<{ model: WireModel }>().model.data.metrics).toHaveLength(1);
    const history = await call('GET', `/metrics/get-history?run_id=${run}&metric_key=acc`);
    expect(history.json<{ metrics: unknown[] }>().metrics).toHaveLength(1);
  });

  test.each<[string, string, string, unknown]>([
    ['create without a body', 'POST', '/logged-models', undefined],
    ['create with a numeric experiment id', 'POST', '/logged-models', { experiment_id: 5 }],
    ['create with a non-numeric experiment id', 'POST', '/logged-models', { experiment_id: 'abc' }],
    ['create with params not a list', 'POST', '/logged-models', { experiment_id: 'E', params: 'x' }],
    ['create with a param key twice', 'POST', '/logged-models', { experiment_id: 'E', params: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }],
    ['create with tags of the wrong shape', 'POST', '/logged-models', { experiment_id: 'E', tags: [{ key: 1 }] }],
    ['finalize without a status', 'PATCH', '/logged-models/M', { model_id: 'M' }],
    ['finalize a missing model', 'PATCH', `/logged-models/${MISSING}`, { model_id: MISSING, status: 2 }],
    ['tags not a list', 'PATCH', '/logged-models/M/tags', { tags: 'x' }],
    ['tags on a missing model', 'PATCH', `/logged-models/${MISSING}/tags`, { tags: [{ key: 'a', value: '1' }] }],
    ['params without a model id', 'POST', '/logged-models/M/params', { params: [{ key: 'q', value: '1' }] }],
    ['a param logged again', 'POST', '/logged-models/M/params', { model_id: 'M', params: [{ key: 'p', value: '2' }] }],
    ['params on a missing model', 'POST', `/logged-models/${MISSING}/params`, { model_id: MISSING, params: [] }],
    ['delete a missing model', 'DELETE', `/logged-models/${MISSING}`, undefined],
    ['search without experiment ids', 'POST', '/logged-models/search', {}],
    ['search a non-numeric experiment id', 'POST', '/logged-models/search', { experiment_ids: ['abc'] }],
    ['search with a garbage page token', 'POST', '/logged-models/search', { experiment_ids: ['E'], page_token: '!!!' }],
    ['search with a JSON list page token', 'POST', '/logged-models/search', { experiment_ids: ['E'], page_token: Buffer.from('[1]').toString('base64') }],
    ['search with OR', 'POST', '/logged-models/search', { experiment_ids: ['E'], filter: "name = 'a' OR name = 'b'" }],
    ['search with an unknown entity', 'POST', '/logged-models/search', { experiment_ids: ['E'], filter: "foo.bar = 'x'" }],
    ['search with an unknown attribute', 'POST', '/logged-models/search', { experiment_ids: ['E'], filter: "nope = 'x'" }],
    ['search with a non-numeric metric value', 'POST', '/logged-models/search', { experiment_ids: ['E'], filter: 'metrics.acc > abc' }],
    ['search with IN and no list', 'POST', '/logged-models/search', { experiment_ids: ['E'], filter: "params.p IN '1'" }],
    ['search with an unknown order_by field', 'POST', '/logged-models/search', { experiment_ids: ['E'], order_by: [{ field_name: 'nope' }] }],
    ['list artifacts outside the model', 'GET', '/logged-models/M/artifacts/directories?artifact_directory_path=../x', undefined],
    ['a file outside the model', 'GET', '/logged-models/M/artifacts/files?artifact_file_path=../x', undefined],
    ['a missing file', 'GET', '/logged-models/M/artifacts/files?artifact_file_path=nope.txt', undefined],
    ['outputs without models', 'POST', '/runs/outputs', { run_id: 'R' }],
    ['outputs of a missing run', 'POST', '/runs/outputs', { run_id: 'f'.repeat(32), models: [{ model_id: 'M' }] }],
    ['a metric for a missing model', 'POST', '/runs/log-metric', { run_id: 'R', key: 'k', value: 1, timestamp: 1, model_id: MISSING }],
    ['a batch metric for a missing model', 'POST', '/runs/log-batch', { run_id: 'R', metrics: [{ key: 'k', value: 1, timestamp: 1, model_id: 'ghost' }] }],
    ['model inputs of the wrong shape', 'POST', '/runs/log-inputs', { run_id: 'R', models: 'x' }],
    ['a finalize naming a missing model in its body', 'PATCH', '/logged-models/M', { model_id: MISSING, status: 2 }],
  ])('%s', async (_label, method, path, body) => {
    const fill = (text: string) => text.replaceAll('/M/', `/${modelId}/`).replace(/\/M$/, `/${modelId}`);
    const payload = body === undefined ? undefined : (JSON.parse(JSON.stringify(body).replaceAll('"E"', JSON.stringify(experimentId)).replaceAll('"M"', JSON.stringify(modelId)).replaceAll('"R"', JSON.stringify(runId))) as unknown);
    const url = path.includes('/artifacts/files') ? `/ajax-api/2.0/mlflow${fill(path)}` : `${API}${fill(path)}`;
    const res = await httpRequest(baseUrl, method, url, payload);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(Object.keys(res.json<object>()).sort()).toEqual(['error_code', 'message']);
  });
});

describe('access control', () => {
  const ROLES = ['anonymous', 'none', 'READ', 'EDIT', 'MANAGE', 'admin'] as const;
  type Role = (typeof ROLES)[number];
  const tokens = new Map<Role, string>();
  const held: Record<Exclude<Role, 'anonymous' | 'admin'>, Permission> = { none: 'NO_PERMISSIONS', READ: 'READ', EDIT: 'EDIT', MANAGE: 'MANAGE' };

  beforeAll(async () => {
    const passwordHash = await hashPassword('a password nobody uses');
    for (const role of ROLES) {
      if (role === 'anonymous') continue;
      const user = await createUser(ctx.pool, { username: uniqueId(`lm-${role.toLowerCase()}`), passwordHash, isAdmin: role === 'admin' });
      const token = generateToken();
      await insertToken(ctx.pool, { userId: user.userId, name: 'lm', tokenHash: hashToken(token), createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
      tokens.set(role, token);
      (tokens as Map<string, string>).set(`${role}:user`, user.userId);
    }
  });

  const as = async (role: Role, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const token = tokens.get(role);
    const url = path.includes('/artifacts/files') ? `${authUrl}/ajax-api/2.0/mlflow${path}` : `${authUrl}${API}${path}`;
    const response = await fetch(url, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  /** A fresh experiment with a model in it (and a run), each role holding its permission on it. */
  async function fixture(): Promise<{ experimentId: string; modelId: string; runId: string }> {
    const created = await as('admin', 'POST', '/experiments/create', { name: uniqueId('lm-auth') });
    const experimentId = created.json.experiment_id as string;
    for (const [role, permission] of Object.entries(held)) {
      await setGrant(ctx.pool, experimentId, { userId: (tokens as Map<string, string>).get(`${role}:user`) as string }, permission);
    }
    const model = await as('admin', 'POST', '/logged-models', { experiment_id: experimentId, name: 'guarded', tags: [{ key: 't', value: '1' }] });
    const run = await as('admin', 'POST', '/runs/create', { experiment_id: experimentId });
    const modelId = (model.json.model as WireModel).info.model_id;
    const put = await fetch(`${authUrl}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${modelId}/artifacts/MLmodel`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.get('admin') as string}` },
      body: 'flavors: {}',
    });
    expect(put.status).toBe(200);
    return { experimentId, modelId, runId: (run.json.run as { info: { run_id: string } }).info.run_id };
  }

  const ROUTES: Array<{ name: string; need: Permission; request: (f: Awaited<ReturnType<typeof fixture>>) => [string, string, unknown?] }> = [
    { name: 'create', need: 'EDIT', request: (f) => ['POST', '/logged-models', { experiment_id: f.experimentId }] },
    { name: 'get', need: 'READ', request: (f) => ['GET', `/logged-models/${f.modelId}`] },
    { name: 'finalize', need: 'EDIT', request: (f) => ['PATCH', `/logged-models/${f.modelId}`, { model_id: f.modelId, status: 2 }] },
    { name: 'set tags', need: 'EDIT', request: (f) => ['PATCH', `/logged-models/${f.modelId}/tags`, { tags: [{ key: 'a', value: 'b' }] }] },
    { name: 'delete a tag', need: 'EDIT', request: (f) => ['DELETE', `/logged-models/${f.modelId}/tags/t`] },
    { name: 'log params', need: 'EDIT', request: (f) => ['POST', `/logged-models/${f.modelId}/params`, { model_id: f.modelId, params: [{ key: 'p', value: '1' }] }] },
    { name: 'list artifacts', need: 'READ', request: (f) => ['GET', `/logged-models/${f.modelId}/artifacts/directories`] },
    { name: 'download a file', need: 'READ', request: (f) => ['GET', `/logged-models/${f.modelId}/artifacts/files?artifact_file_path=MLmodel`] },
    { name: 'log outputs', need: 'EDIT', request: (f) => ['POST', '/runs/outputs', { run_id: f.runId, models: [{ model_id: f.modelId, step: 0 }] }] },
    { name: 'delete', need: 'MANAGE', request: (f) => ['DELETE', `/logged-models/${f.modelId}`] },
  ];

  test.each(ROUTES.map((r) => [r.name, r] as const))('%s follows the experiment grants', async (_name, route) => {
    for (const role of ROLES) {
      const f = await fixture();
      const [method, path, body] = route.request(f);
      const res = await as(role, method, path, body);
      const label = `${route.name} as ${role}`;
      if (role === 'anonymous') expect([label, res.status, res.json.error_code]).toEqual([label, 401, 'UNAUTHENTICATED']);
      else if (role === 'admin' || permits(held[role], route.need)) expect([label, res.status]).toEqual([label, 200]);
      else if (!permits(held[role], 'READ')) {
        // Without READ the model is as missing as one that does not exist, and nothing about it leaks.
        expect([label, res.status, res.json.error_code]).toEqual([label, 404, 'RESOURCE_DOES_NOT_EXIST']);
        expect(JSON.stringify(res.json)).not.toContain('guarded');
      } else expect([label, res.status, res.json.error_code]).toEqual([label, 403, 'PERMISSION_DENIED']);
    }
  }, 60_000);

  test('search shows only models of experiments the caller may read, and a hidden model reads as a missing one', async () => {
    const f = await fixture();
    const search = (role: Role) => as(role, 'POST', '/logged-models/search', { experiment_ids: [f.experimentId] });
    expect(((await search('READ')).json.models as WireModel[]).map((m) => m.info.model_id)).toEqual([f.modelId]);
    expect((await search('none')).json).toEqual({});
    expect((await search('anonymous')).status).toBe(401);
    const hidden = await as('none', 'GET', `/logged-models/${f.modelId}`);
    const missing = await as('none', 'GET', `/logged-models/${MISSING}`);
    expect(hidden.json).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Logged model with ID '${f.modelId}' not found.` });
    expect(missing.json).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Logged model with ID '${MISSING}' not found.` });
  });
});
