import { httpRequest, rawRequest, type Reply } from '../helpers/http';
import { uniqueId } from '../helpers/launches';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// MLflow's model registry over raw HTTP: version numbers under concurrent registrations (and the
// logged-model links they write), what a rename carries, refusals that only the raw API reaches
// (page tokens, filters, prompt and model names), and fuzzed input on every route: MLflow's error
// bodies, never a 500.

const API = '/api/2.0/mlflow';

let ctx: WorkflowTestContext;
let baseUrl: string;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  baseUrl = await ctx.startApi('model-registry-test');
}, 60_000);

afterAll(async () => {
  await ctx?.close();
});

interface WireVersion {
  name: string;
  version: string;
  current_stage: string;
  source: string;
  run_id?: string;
  model_id?: string;
  tags?: Array<{ key: string; value: string }>;
  aliases?: string[];
}

const call = (method: string, path: string, payload?: unknown): Promise<Reply> => httpRequest(baseUrl, method, `${API}${path}`, payload);
const get = (path: string, query: Record<string, string | string[]>): Promise<Reply> => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
  return call('GET', `${path}?${params.toString()}`);
};

function expectError(res: Reply, status: number, error_code: string, message?: string): void {
  expect({ status: res.statusCode, code: res.json<{ error_code: string }>().error_code }).toEqual({ status, code: error_code });
  if (message !== undefined) expect(res.json()).toEqual({ error_code, message });
}

async function newModel(tags: Array<{ key: string; value: string }> = []): Promise<string> {
  const name = uniqueId('registry');
  expect((await call('POST', '/registered-models/create', { name, tags })).statusCode).toBe(200);
  return name;
}

async function newVersion(name: string, extra: Record<string, unknown> = {}): Promise<WireVersion> {
  const res = await call('POST', '/model-versions/create', { name, source: 's3://registry-test/model', ...extra });
  expect(res.statusCode).toBe(200);
  return res.json<{ model_version: WireVersion }>().model_version;
}

describe('version numbers', () => {
  test('20 concurrent registrations of one model get versions 1 to 20, each once', async () => {
    const name = await newModel();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => call('POST', '/model-versions/create', { name, source: `s3://registry-test/v${i}` })));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const numbers = replies.map((r) => Number(r.json<{ model_version: WireVersion }>().model_version.version)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Each number went with the source of the request that got it.
    const found = (await get('/model-versions/search', { filter: `name = '${name}'`, order_by: 'version_number' })).json<{ model_versions: WireVersion[] }>();
    expect(found.model_versions.map((v) => v.version)).toEqual(numbers.map(String));
    for (const reply of replies) {
      const created = reply.json<{ model_version: WireVersion }>().model_version;
      expect(found.model_versions.find((v) => v.version === created.version)?.source).toBe(created.source);
    }
  });

  test('a deleted version keeps its number, so the next registration takes the one after', async () => {
    const name = await newModel();
    await newVersion(name);
    await newVersion(name);
    expect((await call('DELETE', '/model-versions/delete', { name, version: '2' })).json()).toEqual({});
    expect((await newVersion(name)).version).toBe('3');
    expectError(await get('/model-versions/get', { name, version: '2' }), 404, 'RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=2) not found`);
  });

  test('concurrent registrations of one logged model all land in its mlflow.modelVersions tag', async () => {
    const experimentId = (await call('POST', '/experiments/create', { name: uniqueId('registry-exp') })).json<{ experiment_id: string }>().experiment_id;
    const runId = (await call('POST', '/runs/create', { experiment_id: experimentId })).json<{ run: { info: { run_id: string } } }>().run.info.run_id;
    const model = (await call('POST', '/logged-models', { experiment_id: experimentId, name: 'clf', source_run_id: runId })).json<{
      model: { info: { model_id: string; artifact_uri: string } };
    }>().model.info;
    const name = await newModel();
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => call('POST', '/model-versions/create', { name, source: `models:/${model.model_id}`, model_id: model.model_id })),
    );
    expect(replies.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    const first = replies[0]?.json<{ model_version: WireVersion }>().model_version;
    expect(first).toMatchObject({ source: `models:/${model.model_id}`, run_id: runId, model_id: model.model_id });
    expect((await get('/model-versions/get-download-uri', { name, version: '1' })).json()).toEqual({ artifact_uri: model.artifact_uri });

    const tags = (await call('GET', `/logged-models/${model.model_id}`)).json<{ model: { info: { tags: Array<{ key: string; value: string }> } } }>().model.info.tags;
    const linked = JSON.parse(tags.find((t) => t.key === 'mlflow.modelVersions')?.value ?? '[]') as Array<{ name: string; version: number }>;
    expect(linked.map((e) => e.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(new Set(linked.map((e) => e.name))).toEqual(new Set([name]));
  });
});

describe('a registered model', () => {
  test('takes its versions, their tags and its aliases and tags along when renamed', async () => {
    const name = await newModel([{ key: 'team', value: 'a' }]);
    await newVersion(name, { tags: [{ key: 'k', value: 'v' }] });
    await newVersion(name);
    await call('POST', '/registered-models/alias', { name, alias: 'champion', version: '1' });
    await call('POST', '/model-versions/transition-stage', { name, version: '2', stage: 'staging' });
    const newName = `${name}-renamed`;
    const renamed = (await call('POST', '/registered-models/rename', { name, new_name: newName })).json<{ registered_model: Record<string, unknown> }>();
    expect(renamed.registered_model).toMatchObject({ name: newName, tags: [{ key: 'team', value: 'a' }], aliases: [{ alias: 'champion', version: '1' }] });
    const version = (await get('/model-versions/get', { name: newName, version: '1' })).json<{ model_version: WireVersion }>().model_version;
    expect(version).toMatchObject({ name: newName, tags: [{ key: 'k', value: 'v' }], aliases: ['champion'] });
    const latest = (await call('POST', '/registered-models/get-latest-versions', { name: newName, stages: ['Staging'] })).json<{ model_versions: WireVersion[] }>();
    expect(latest.model_versions.map((v) => [v.version, v.current_stage])).toEqual([['2', 'Staging']]);
    expectError(await get('/registered-models/get', { name }), 404, 'RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
    // The old name is free again, and its numbering starts over.
    await call('POST', '/registered-models/create', { name });
    expect((await newVersion(name)).version).toBe('1');
    expectError(await call('POST', '/registered-models/rename', { name, new_name: newName }), 400, 'RESOURCE_ALREADY_EXISTS', `Registered Model (name=${newName}) already exists.`);
  });

  test('moves the other versions of a stage to Archived when asked, and only then', async () => {
    const name = await newModel();
    for (let i = 0; i < 3; i++) await newVersion(name);
    await call('POST', '/model-versions/transition-stage', { name, version: '1', stage: 'Production' });
    await call('POST', '/model-versions/transition-stage', { name, version: '2', stage: 'Production' });
    await call('POST', '/model-versions/transition-stage', { name, version: '3', stage: 'Production', archive_existing_versions: true });
    const stages = (await get('/model-versions/search', { filter: `name = '${name}'`, order_by: 'version_number' })).json<{ model_versions: WireVersion[] }>();
    expect(stages.model_versions.map((v) => v.current_stage)).toEqual(['Archived', 'Archived', 'Production']);
    // MLflow's server answers this with an internal error; it is the caller's mistake.
    expectError(
      await call('POST', '/model-versions/transition-stage', { name, version: '1', stage: 'archived', archive_existing_versions: true }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Model version transition cannot archive existing model versions because 'archived' is not an Active stage. Valid stages are ['Staging', 'Production']",
    );
  });

  test('and a prompt cannot share a name, and the refusal says which is which', async () => {
    const name = await newModel();
    const asPrompt = { name, tags: [{ key: 'mlflow.prompt.is_prompt', value: 'true' }] };
    expectError(
      await call('POST', '/registered-models/create', asPrompt),
      400,
      'RESOURCE_ALREADY_EXISTS',
      `Tried to create a prompt with name '${name}', but the name is already taken by a registered model. MLflow does not allow creating a model and a prompt with the same name.`,
    );
    const prompt = uniqueId('prompt');
    await call('POST', '/registered-models/create', { ...asPrompt, name: prompt });
    expectError(await call('POST', '/registered-models/create', { ...asPrompt, name: prompt }), 400, 'RESOURCE_ALREADY_EXISTS', `Prompt (name=${prompt}) already exists.`);
    expectError(
      await call('POST', '/model-versions/create', { name: prompt, source: 'somewhere', tags: asPrompt.tags }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Invalid prompt source: 'somewhere'. Prompt sources must use an MLflow placeholder.",
    );
    expectError(
      await call('POST', '/model-versions/create', { name, source: `models:/${prompt}/1` }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid model version source: 'models:/${prompt}/1'. Prompt versions cannot be used as model version sources.`,
    );
  });
});

describe('searches', () => {
  test('page with MLflow offset tokens, and refuse a token, a filter or an order_by they cannot read', async () => {
    const name = await newModel();
    for (let i = 0; i < 3; i++) await newVersion(name);
    const first = (await get('/model-versions/search', { filter: `name = '${name}'`, max_results: '2' })).json<{ model_versions: WireVersion[]; next_page_token: string }>();
    expect(first.model_versions.map((v) => v.version)).toEqual(['3', '2']);
    expect(Buffer.from(first.next_page_token, 'base64').toString()).toBe('{"offset": 2}');
    const rest = (await get('/model-versions/search', { filter: `name = '${name}'`, max_results: '2', page_token: first.next_page_token })).json();
    expect(rest).toEqual({ model_versions: [expect.objectContaining({ version: '1' })] });

    const bad = (query: Record<string, string | string[]>) => get('/registered-models/search', query);
    expectError(await bad({ page_token: 'xyz' }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid page token, could not base64-decode');
    expectError(await bad({ page_token: Buffer.from('not json').toString('base64') }), 400, 'INVALID_PARAMETER_VALUE', "Invalid page token, decoded value=b'not json'");
    expectError(await bad({ page_token: Buffer.from('{"offset": 0}').toString('base64') }), 400, 'INVALID_PARAMETER_VALUE', "Invalid page token, parsed value={'offset': 0}");
    expectError(await bad({ page_token: Buffer.from('{"offset": "x"}').toString('base64') }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid page token, not stringable x');
    expectError(await bad({ filter: "name = 'a' OR name = 'b'" }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid clause(s) in filter string: OR');
    expectError(await bad({ filter: 'name = a' }), 400, 'INVALID_PARAMETER_VALUE', 'Parameter value is either not quoted or unidentified quote types used for string value a. Use either single or double quotes.');
    expectError(await bad({ filter: "tags.t > 'a'" }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid comparator for tag: >');
    expectError(await bad({ order_by: 'creation_timestamp' }), 400, 'INVALID_PARAMETER_VALUE', "Invalid order by key 'creation_timestamp' specified. Valid keys are '{'timestamp', 'name'}'");
    // A stock server answers these two with an internal error.
    expectError(await bad({ order_by: ['name', 'name'] }), 400, 'INVALID_PARAMETER_VALUE', "`order_by` contains duplicate fields: ['name', 'name']");
    expectError(await get('/model-versions/search', { filter: "name = ('a', 'b')" }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid comparator for attribute: =');
    expectError(await get('/model-versions/search', { max_results: '0' }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid value for max_results. It must be a positive integer, but got 0');
    expectError(await get('/model-versions/search', { filter: 'version_number = 1.5' }), 400, 'INVALID_PARAMETER_VALUE', "Invalid value for numeric attribute 'version_number': 1.5");
    expectError(
      await get('/model-versions/search', { filter: "run_id IN ('a') AND source_path IN ('b')" }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Only ['name', 'run_id'] attributes support comparison with a list of quoted string values.",
    );
  });

  test('hide prompts and their versions unless the filter asks for prompts', async () => {
    const prefix = uniqueId('hide');
    const promptTag = { key: 'mlflow.prompt.is_prompt', value: 'true' };
    await call('POST', '/registered-models/create', { name: `${prefix}-model` });
    await call('POST', '/registered-models/create', { name: `${prefix}-prompt`, tags: [promptTag] });
    await newVersion(`${prefix}-model`);
    await call('POST', '/model-versions/create', { name: `${prefix}-prompt`, source: 'dummy-source', tags: [promptTag, { key: 'mlflow.prompt.text', value: 'Hi {{x}}' }] });
    const models = async (filter: string) => ((await get('/registered-models/search', { filter })).json<{ registered_models?: Array<{ name: string }> }>().registered_models ?? []).map((m) => m.name);
    const versions = async (filter: string) => ((await get('/model-versions/search', { filter })).json<{ model_versions?: WireVersion[] }>().model_versions ?? []).map((v) => v.name);
    const all = `name LIKE '${prefix}-%'`;
    expect(await models(all)).toEqual([`${prefix}-model`]);
    expect(await models(`${all} AND tags.\`mlflow.prompt.is_prompt\` = 'true'`)).toEqual([`${prefix}-prompt`]);
    expect(await models(`${all} AND tags.\`mlflow.prompt.is_prompt\` != 'false'`)).toEqual([`${prefix}-prompt`]);
    // Asking for non-prompts is the default: the prompt tag's comparison is dropped.
    expect(await models(`${all} AND tags.\`mlflow.prompt.is_prompt\` = 'false'`)).toEqual([`${prefix}-model`]);
    expect(await versions(all)).toEqual([`${prefix}-model`]);
    expect(await versions(`${all} AND tag.\`mlflow.prompt.is_prompt\` = 'true'`)).toEqual([`${prefix}-prompt`]);
  });

  test('list registered models with their latest version per stage, tags and aliases', async () => {
    const name = await newModel([{ key: 'k', value: 'v' }]);
    for (let i = 0; i < 4; i++) await newVersion(name);
    await call('POST', '/model-versions/transition-stage', { name, version: '2', stage: 'Production' });
    await call('POST', '/registered-models/alias', { name, alias: 'best', version: '2' });
    const found = (await get('/registered-models/search', { filter: `name = '${name}'` })).json<{ registered_models: Array<Record<string, unknown>> }>();
    expect(found.registered_models).toHaveLength(1);
    const model = found.registered_models[0] as { latest_versions: WireVersion[]; tags: unknown; aliases: unknown };
    expect(model.latest_versions.map((v) => [v.version, v.current_stage, v.aliases])).toEqual([
      ['2', 'Production', undefined],
      ['4', 'None', undefined],
    ]);
    expect(model.tags).toEqual([{ key: 'k', value: 'v' }]);
    expect(model.aliases).toEqual([{ alias: 'best', version: '2' }]);
  });
});

// ---- fuzzing: every route, every field, values of every wrong kind ------------------------------

type Route = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; fields: Record<string, unknown> };

const ODD_VALUES: unknown[] = [
  null,
  123,
  -1,
  1.5,
  true,
  [],
  {},
  ['a'],
  [{ key: 1 }],
  '',
  ' ',
  'a/b',
  'a:b',
  '..',
  '\u0000',
  'ü✓😀',
  'x'.repeat(300),
  '9'.repeat(40),
  '-5',
  '0',
  "'",
  '%',
  '\\',
  'models:/',
  'models://host/x/1',
  'models:/x@',
  'runs:/',
  'file:///etc/passwd',
  'http://169.254.169.254/x',
  'mlflow-artifacts:/../x',
];

const FILTERS = [
  "name = 'a",
  'name = ',
  '(((',
  "name IN ('a'",
  "name IN ('a', 1)",
  "name = 'a' OR 1=1",
  "name = 'a'; DROP TABLE registered_models",
  'tags.`x = 1',
  "tags.\"x\" = 'y'",
  "attribute.name = 'x'",
  "metric.x > 1",
  "version_number > 99999999999999999999999",
  "version_number = '1_0'",
  "version_number IS NULL",
  "name LIKE '%\\'",
  "run_id NOT IN ('a', 'b')",
  "source_path ILIKE '%'",
  "name = \"x\" AND",
  'AND',
  "`name` = 'x'",
  "name = 'x' name = 'y'",
  "tags.a = 'b' AND tags.a != 'c'",
];

const ORDERS = ['', ' ', 'name ASC DESC', 'version', 'timestamp up', '`name` DESC', 'tags.x', 'foo.bar', 'name, version_number', '"name"', 'version_number asc'];

const TOKENS = ['', '=', 'e30', 'WzFd', 'eyJvZmZzZXQiOiAtNX0=', 'eyJvZmZzZXQiOiAxZTMwMH0=', 'eyJvZmZzZXQiOiB0cnVlfQ==', 'eyJvZmZzZXQiOiBbMV19', '😀'];

function routes(name: string): Route[] {
  const version = { name, version: '1' };
  return [
    { method: 'POST', path: '/registered-models/create', fields: { name: `${name}-fuzz`, tags: [{ key: 'k', value: 'v' }], description: 'd' } },
    { method: 'GET', path: '/registered-models/get', fields: { name } },
    { method: 'PATCH', path: '/registered-models/update', fields: { name, description: 'd' } },
    { method: 'POST', path: '/registered-models/rename', fields: { name: `${name}-nope`, new_name: `${name}-other` } },
    { method: 'DELETE', path: '/registered-models/delete', fields: { name: `${name}-nope` } },
    { method: 'GET', path: '/registered-models/search', fields: { filter: `name = '${name}'`, max_results: '5', order_by: 'name', page_token: '' } },
    { method: 'POST', path: '/registered-models/get-latest-versions', fields: { name, stages: ['Production'] } },
    { method: 'GET', path: '/registered-models/get-latest-versions', fields: { name, stages: 'None' } },
    { method: 'POST', path: '/registered-models/set-tag', fields: { name, key: 'k', value: 'v' } },
    { method: 'DELETE', path: '/registered-models/delete-tag', fields: { name, key: 'k' } },
    { method: 'POST', path: '/registered-models/alias', fields: { name, alias: 'a', version: '1' } },
    { method: 'DELETE', path: '/registered-models/alias', fields: { name, alias: 'zz' } },
    { method: 'GET', path: '/registered-models/alias', fields: { name, alias: 'a' } },
    { method: 'POST', path: '/model-versions/create', fields: { name, source: 's3://b/x', run_id: 'r', tags: [{ key: 'k', value: 'v' }], run_link: 'l', description: 'd', model_id: 'm-x' } },
    { method: 'GET', path: '/model-versions/get', fields: version },
    { method: 'PATCH', path: '/model-versions/update', fields: { ...version, description: 'd' } },
    { method: 'POST', path: '/model-versions/transition-stage', fields: { ...version, stage: 'Staging', archive_existing_versions: true } },
    { method: 'DELETE', path: '/model-versions/delete', fields: { name, version: '999' } },
    { method: 'GET', path: '/model-versions/get-download-uri', fields: version },
    { method: 'GET', path: '/model-versions/search', fields: { filter: `name = '${name}'`, max_results: '5', order_by: 'name', page_token: '' } },
    { method: 'POST', path: '/model-versions/set-tag', fields: { ...version, key: 'k', value: 'v' } },
    { method: 'DELETE', path: '/model-versions/delete-tag', fields: { ...version, key: 'k' } },
  ];
}

/** A GET's fields as a query string: values as text, lists repeated. */
function queryOf(fields: Record<string, unknown>): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === null || v === undefined) continue;
    query[k] = Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return query;
}

function expectNoServerError(res: Reply, label: string): void {
  if (res.statusCode >= 500 || (res.statusCode >= 400 && Object.keys(res.json<object>()).sort().join() !== 'error_code,message')) {
    throw new Error(`${label}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
}

test('no input makes a route answer with a server error, or with anything but an MLflow error body', async () => {
  const name = await newModel();
  await newVersion(name);
  for (const route of routes(name)) {
    const send = (fields: Record<string, unknown>) => (route.method === 'GET' ? get(route.path, queryOf(fields)) : call(route.method, route.path, fields));
    const label = (what: string) => `${route.method} ${route.path} ${what}`;
    expectNoServerError(await send({}), label('{}'));
    expectNoServerError(await send(route.fields), label('valid'));
    for (const field of Object.keys(route.fields)) {
      for (const value of ODD_VALUES) expectNoServerError(await send({ ...route.fields, [field]: value }), label(`${field}=${JSON.stringify(value)}`));
    }
    if (route.path.endsWith('/search')) {
      for (const filter of FILTERS) expectNoServerError(await send({ filter }), label(`filter ${filter}`));
      for (const order of ORDERS) expectNoServerError(await send({ order_by: order }), label(`order_by ${order}`));
      for (const token of TOKENS) expectNoServerError(await send({ page_token: token }), label(`page_token ${token}`));
    }
    if (route.method !== 'GET') {
      for (const body of ['not json', '[1, 2]', '"{\\"name\\": 1}"', '5', 'null']) {
        const res = await rawRequest(baseUrl, route.method, `${API}${route.path}`, body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).catch((err: Error) => {
          throw new Error(`${label(`body ${body}`)}: ${err.message}`);
        });
        if (res.status >= 500) throw new Error(`${label(`body ${body}`)}: ${res.status} ${res.text.slice(0, 300)}`);
      }
    }
  }
}, 300_000);
