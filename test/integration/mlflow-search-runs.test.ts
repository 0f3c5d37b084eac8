import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import { encodeRun } from '../../api/mlflow/wire';
import { getOrCreateExperiment } from '../../store/experiments';
import { createPool } from '../../store/pool';
import { logMetrics } from '../../store/metrics';
import { getRun } from '../../store/run-reads';
import { createRun, endRun, logParams, setTags } from '../../store/run-writes';
import { searchRuns } from '../../store/run-search';
import { parseOrderBy, parseRunFilter } from '../../domain/run-filter';
import type { Queryable } from '../../store/pool';
import type { RunStatus } from '../../domain/launch';
import { testEnv } from '../helpers/services';
import { httpRequest, type Reply } from '../helpers/http';
import { newRunId } from '../helpers/run-ids';

const API = '/api/2.0/mlflow';
const BASE_TIME = 1_700_000_000_000;

let pool: pg.Pool;
let app: FastifyInstance;
let connection: Connection;
let baseUrl: string;
let experimentId: string;
let otherExperimentId: string;

/** What the test wrote, to compute each search's expected answer independently of SQL. */
interface ModelRun {
  id: string;
  name: string;
  user: string;
  status: RunStatus;
  start: number;
  end?: number;
  deleted: boolean;
  artifactUri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  datasets: Array<{ name: string; digest: string; context: string }>;
}
const model: ModelRun[] = [];

const request = (method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply> => httpRequest(baseUrl, method, url, payload);

interface SearchReply {
  runs?: Array<{ info: { run_id: string } }>;
  next_page_token?: string;
}

async function search(body: Record<string, unknown>): Promise<SearchReply> {
  const res = await request('POST', `${API}/runs/search`, { experiment_ids: [experimentId], ...body });
  if (res.statusCode !== 200) throw new Error(`search ${JSON.stringify(body)} answered ${res.statusCode}: ${res.body}`);
  return res.json<SearchReply>();
}

const ids = (reply: SearchReply): string[] => (reply.runs ?? []).map((r) => r.info.run_id);

/** Every page of a search, in order. */
async function searchAll(body: Record<string, unknown>, pageSize: number): Promise<{ ids: string[]; pages: number }> {
  const all: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const reply = await search({ ...body, max_results: pageSize, ...(token && { page_token: token }) });
    pages++;
    expect((reply.runs ?? []).length).toBeLessThanOrEqual(pageSize);
    all.push(...ids(reply));
    token = reply.next_page_token;
  } while (token);
  return { ids: all, pages };
}

async function searchError(body: Record<string, unknown>): Promise<{ statusCode: number; body: unknown }> {
  const res = await request('POST', `${API}/runs/search`, { experiment_ids: [experimentId], ...body });
  return { statusCode: res.statusCode, body: res.json() };
}

// ---- the model's answers ----------------------------------------------------------------------

type SortValue = number | string | undefined;
const byDefault = (a: ModelRun, b: ModelRun): number => b.start - a.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function compareValues(a: SortValue, b: SortValue, ascending: boolean): number {
  // NaN after every number and missing values last, in both directions (what `mlflow server`
  // does; test/compat/test_more.py checks it against one).
  const rank = (v: SortValue): number => (v === undefined ? 2 : typeof v === 'number' && Number.isNaN(v) ? 1 : 0);
  if (a === undefined || b === undefined || rank(a) !== 0 || rank(b) !== 0) return rank(a) - rank(b);
  const order = a < b ? -1 : a > b ? 1 : 0;
  return ascending ? order : -order;
}

function expected(
  predicate: (run: ModelRun) => boolean,
  orderBy: Array<[(run: ModelRun) => SortValue, boolean]> = [],
  view: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL' = 'ACTIVE_ONLY',
): string[] {
  return model
    .filter((run) => (view === 'ALL' ? true : view === 'DELETED_ONLY' ? run.deleted : !run.deleted))
    .filter(predicate)
    .sort((a, b) => {
      for (const [get, ascending] of orderBy) {
        const c = compareValues(get(a), get(b), ascending);
        if (c !== 0) return c;
      }
      return byDefault(a, b);
    })
    .map((run) => run.id);
}

const like = (pattern: string, flags = ''): RegExp =>
  new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, `s${flags}`);

// ---- fixtures ----------------------------------------------------------------------------------

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'mlflow-search-test', artifactRoot: 'file:///nonexistent/mlflow-search-test' });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const experiment = await getOrCreateExperiment(pool, `search-runs-${randomUUID()}`, 'mlflow-artifacts:');
  experimentId = experiment.experiment_id;
  otherExperimentId = (await getOrCreateExperiment(pool, `search-runs-other-${randomUUID()}`, 'mlflow-artifacts:')).experiment_id;

  for (let i = 0; i < 30; i++) {
    const id = newRunId();
    const status: RunStatus = i % 3 === 0 ? 'FINISHED' : i % 3 === 1 ? 'FAILED' : 'RUNNING';
    // Runs 20–22 share a start time: run_uuid breaks the tie.
    const start = i >= 20 && i <= 22 ? BASE_TIME + 20_000 : BASE_TIME + i * 1000;
    const run: ModelRun = {
      id,
      name: i < 10 ? `bold-${i}` : `Calm-${i}`,
      user: i % 2 === 0 ? 'Bob' : 'alice',
      status,
      start,
      ...(status !== 'RUNNING' && { end: start + 500 + (i % 4) * 100 }),
      deleted: i >= 28,
      artifactUri: `mlflow-artifacts:/${experimentId}/${id}/artifacts`,
      params: {
        model: i % 2 === 0 ? 'RandomForest' : 'LogisticRegression',
        ...(i % 7 !== 0 && { lr: String((i % 5) / 100) }),
        ...(i < 3 && { 'x.y': 'dot' }),
        ...(i === 4 && { 'a b': 'spaced' }),
      },
      tags: {
        'mlflow.runName': i < 10 ? `bold-${i}` : `Calm-${i}`,
        'mlflow.user': i % 2 === 0 ? 'Bob' : 'alice',
        ...(i % 6 !== 5 && { team: i % 3 === 0 ? 'Vision' : 'nlp' }),
        ...(i === 1 && { 'user-name': 'Tomas' }),
      },
      metrics: {
        ...(i % 4 !== 3 && { rmse: i === 5 ? Number.NaN : i === 6 ? Infinity : i === 9 ? -Infinity : (i % 10) / 10 }),
        ...(i % 2 === 0 && { acc: i / 100 }),
      },
      datasets: i === 0 || i === 1 ? [{ name: 'train-ds', digest: 'd1', context: 'train' }] : i === 2 ? [{ name: 'eval-ds', digest: 'd2', context: 'eval' }] : [],
    };
    model.push(run);
    await createRun(pool, { runId: id, experimentId, name: run.name, userId: run.user, startTime: start, artifactUri: run.artifactUri });
    if (run.end !== undefined) await endRun(pool, id, status as 'FINISHED' | 'FAILED', run.end);
    await logParams(pool, id, run.params);
    await setTags(pool, id, run.tags);
    // An older point first: search must compare the latest one only.
    await logMetrics(pool, id, [
      ...Object.entries(run.metrics).map(([key]) => ({ key, value: 1e6, timestamp: 1, step: 0 })),
      ...Object.entries(run.metrics).map(([key, value]) => ({ key, value, timestamp: 2, step: 1 })),
    ]);
    for (const ds of run.datasets) {
      const datasetUuid = newRunId();
      const inputUuid = newRunId();
      await pool.query(
        `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source)
         VALUES ($1, $2::bigint, $3, $4, 'local', 'file:///data') ON CONFLICT (experiment_id, name, digest) DO NOTHING`,
        [datasetUuid, experimentId, ds.name, ds.digest],
      );
      const { rows } = await pool.query<{ dataset_uuid: string }>('SELECT dataset_uuid FROM datasets WHERE experiment_id = $1::bigint AND name = $2', [
        experimentId,
        ds.name,
      ]);
      await pool.query(`INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES ($1, 'DATASET', $2, 'RUN', $3)`, [
        inputUuid,
        rows[0]?.dataset_uuid,
        id,
      ]);
      await pool.query(`INSERT INTO input_tags (input_uuid, name, value) VALUES ($1, 'mlflow.data.context', $2)`, [inputUuid, ds.context]);
    }
    if (run.deleted) await pool.query(`UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $2 WHERE run_uuid = $1`, [id, BASE_TIME]);
  }
  // A run elsewhere that matches everything: it must never leak into this experiment's results.
  const stray = newRunId();
  await createRun(pool, { runId: stray, experimentId: otherExperimentId, name: 'bold-stray', userId: 'Bob', startTime: BASE_TIME, artifactUri: 'x' });
  await logMetrics(pool, stray, [{ key: 'rmse', value: 0.1, timestamp: 1 }]);
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

const run = (i: number): ModelRun => model[i] as ModelRun;
const metric = (key: string) => (r: ModelRun) => r.metrics[key];
const param = (key: string) => (r: ModelRun) => r.params[key];
const tag = (key: string) => (r: ModelRun) => r.tags[key];

// ---- tests -------------------------------------------------------------------------------------

describe('runs/search filters', () => {
  const has = (value: number | undefined): value is number => value !== undefined && !Number.isNaN(value);
  const cases: Array<[string, (r: ModelRun) => boolean]> = [
    // metrics: every comparator; NaN matches only !=; a run without the metric never matches.
    ['metrics.rmse = 0.2', (r) => r.metrics.rmse === 0.2],
    ['metrics.rmse != 0.2', (r) => 'rmse' in r.metrics && r.metrics.rmse !== 0.2],
    ['metrics.rmse > 0.5', (r) => has(r.metrics.rmse) && r.metrics.rmse > 0.5],
    ['metrics.rmse >= 0.5', (r) => has(r.metrics.rmse) && r.metrics.rmse >= 0.5],
    ['metrics.rmse < 0.3', (r) => has(r.metrics.rmse) && r.metrics.rmse < 0.3],
    ['metrics.rmse <= 0.3', (r) => has(r.metrics.rmse) && r.metrics.rmse <= 0.3],
    ['metric.acc > 0.1 and metrics.rmse < 1', (r) => has(r.metrics.acc) && r.metrics.acc > 0.1 && has(r.metrics.rmse) && r.metrics.rmse < 1],
    ['metrics.missing >= -1e308', () => false],
    // params and tags: = != LIKE ILIKE; missing keys never match, not even !=.
    ["params.model = 'RandomForest'", (r) => r.params.model === 'RandomForest'],
    ["params.lr != '0.01'", (r) => r.params.lr !== undefined && r.params.lr !== '0.01'],
    ["params.lr LIKE '0.0%'", (r) => r.params.lr !== undefined && r.params.lr.startsWith('0.0')],
    ["params.model LIKE 'random%'", () => false],
    ["params.model ILIKE 'random%'", (r) => r.params.model === 'RandomForest'],
    ["params.model LIKE '%Reg_ession'", (r) => r.params.model === 'LogisticRegression'],
    ['params.`x.y` = "dot"', (r) => r.params['x.y'] === 'dot'],
    [`params."a b" = 'spaced'`, (r) => r.params['a b'] === 'spaced'],
    ["tags.team = 'nlp'", (r) => r.tags.team === 'nlp'],
    ["tags.team != 'nlp'", (r) => r.tags.team !== undefined && r.tags.team !== 'nlp'],
    ["tags.team LIKE 'V%'", (r) => r.tags.team === 'Vision'],
    ["tags.team ILIKE 'v%'", (r) => r.tags.team === 'Vision'],
    ["tags.`user-name` = 'Tomas'", (r) => r.tags['user-name'] === 'Tomas'],
    ["tags.mlflow.runName LIKE 'bold-%'", (r) => r.name.startsWith('bold-')],
    // string attributes
    ["attributes.status = 'FAILED'", (r) => r.status === 'FAILED'],
    ["status != 'RUNNING'", (r) => r.status !== 'RUNNING'],
    ["attributes.run_name LIKE 'bold-%'", (r) => like('bold-%').test(r.name)],
    ["run.run_name ILIKE 'calm-1%'", (r) => like('calm-1%', 'i').test(r.name)],
    ["attributes.`Run name` = 'Calm-12'", (r) => r.name === 'Calm-12'],
    ["attributes.user_id = 'Bob'", (r) => r.user === 'Bob'],
    ["attribute.user_id ILIKE 'bob'", (r) => r.user === 'Bob'],
    [`attributes.artifact_uri LIKE '%/artifacts'`, () => true],
    ["attributes.lifecycle_stage = 'active'", () => true],
    // numeric attributes: every comparator; a missing end_time never matches.
    [`attributes.start_time = ${BASE_TIME + 20_000}`, (r) => r.start === BASE_TIME + 20_000],
    [`attributes.start_time != ${BASE_TIME + 20_000}`, (r) => r.start !== BASE_TIME + 20_000],
    [`start_time > ${BASE_TIME + 25_000}`, (r) => r.start > BASE_TIME + 25_000],
    [`start_time >= ${BASE_TIME + 25_000}`, (r) => r.start >= BASE_TIME + 25_000],
    [`attributes.created < ${BASE_TIME + 3000}`, (r) => r.start < BASE_TIME + 3000],
    [`attributes.Created <= ${BASE_TIME + 3000}`, (r) => r.start <= BASE_TIME + 3000],
    [`end_time > 0`, (r) => r.end !== undefined],
    [`end_time != ${BASE_TIME + 500}`, (r) => r.end !== undefined && r.end !== BASE_TIME + 500],
    // datasets
    ["datasets.name = 'train-ds'", (r) => r.datasets.some((d) => d.name === 'train-ds')],
    ["datasets.digest IN ('d1', 'd2')", (r) => r.datasets.some((d) => ['d1', 'd2'].includes(d.digest))],
    ["datasets.digest NOT IN ('d1')", (r) => r.datasets.some((d) => d.digest !== 'd1')],
    ["datasets.context = 'eval'", (r) => r.datasets.some((d) => d.context === 'eval')],
    ["datasets.name LIKE '%-ds' and datasets.context = 'train'", (r) => r.datasets.some((d) => d.context === 'train')],
  ];

  test.each(cases)('%s', async (filter, predicate) => {
    expect(ids(await search({ filter }))).toEqual(expected(predicate));
  });

  test('run_id IN and NOT IN', async () => {
    const picked = [run(3).id, run(17).id, run(29).id];
    expect(ids(await search({ filter: `attributes.run_id IN ('${picked.join("', '")}')` }))).toEqual(expected((r) => picked.includes(r.id)));
    expect(ids(await search({ filter: `run_id NOT IN ('${picked.join("','")}')` }))).toEqual(expected((r) => !picked.includes(r.id)));
    expect(ids(await search({ filter: `run_id = '${run(4).id}'` }))).toEqual([run(4).id]);
  });

  test('an empty or absent filter matches every active run, newest first, run_id breaking ties', async () => {
    const all = expected(() => true);
    expect(all).toHaveLength(28);
    expect(ids(await search({}))).toEqual(all);
    expect(ids(await search({ filter: '  ' }))).toEqual(all);
    const tied = [run(20).id, run(21).id, run(22).id].sort();
    const at = all.indexOf(tied[0] as string);
    expect(all.slice(at, at + 3)).toEqual(tied);
  });

  test('a search with no match, or over no experiment, is {}', async () => {
    const none = await request('POST', `${API}/runs/search`, { experiment_ids: [experimentId], filter: "params.model = 'nope'" });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({});
    expect((await request('POST', `${API}/runs/search`, {})).json()).toEqual({});
    expect((await request('POST', `${API}/runs/search`, { experiment_ids: ['no-such'] })).json()).toEqual({});
  });

  test('runs come in get-run wire shape, with params, tags, latest metrics and inputs', async () => {
    const reply = await search({ filter: `run_id IN ('${run(0).id}', '${run(5).id}', '${run(6).id}')` });
    const expectedRuns = [];
    for (const id of [run(6).id, run(5).id, run(0).id]) expectedRuns.push(JSON.parse(JSON.stringify(encodeRun((await getRun(pool, id))!))) as unknown);
    expect(reply.runs).toEqual(expectedRuns);
    const zero = reply.runs?.[2] as unknown as { inputs: { dataset_inputs: unknown[] }; data: { metrics: Array<{ key: string; value: unknown }> } };
    expect(zero.inputs.dataset_inputs).toHaveLength(1);
    const rmse = (i: number) => (reply.runs?.[i] as unknown as typeof zero).data.metrics.find((m) => m.key === 'rmse')?.value;
    expect([rmse(0), rmse(1), rmse(2)]).toEqual(['Infinity', 'NaN', 0]);
  });
});

describe('runs/search order_by', () => {
  const cases: Array<[string[], Array<[(r: ModelRun) => SortValue, boolean]>]> = [
    [['metrics.rmse'], [[metric('rmse'), true]]],
    [['metrics.rmse DESC'], [[metric('rmse'), false]]],
    [['params.lr ASC'], [[param('lr'), true]]],
    [['params.lr desc'], [[param('lr'), false]]],
    [['tags.team'], [[tag('team'), true]]],
    [['attributes.end_time DESC'], [[(r) => r.end, false]]],
    [['end_time'], [[(r) => r.end, true]]],
    [['attributes.start_time ASC'], [[(r) => r.start, true]]],
    [['created'], [[(r) => r.start, true]]],
    [['run_name DESC'], [[(r) => r.name, false]]],
    [['attributes.run_id'], [[(r) => r.id, true]]],
    [['status', 'metrics.acc DESC'], [[(r) => r.status, true], [metric('acc'), false]]],
    [['params.model DESC', 'metrics.rmse', 'tags.team'], [[param('model'), false], [metric('rmse'), true], [tag('team'), true]]],
    [['metrics.`acc`', 'params.`lr` DESC'], [[metric('acc'), true], [param('lr'), false]]],
  ];

  test.each(cases)('%p, missing values last', async (orderBy, keys) => {
    const want = expected(() => true, keys);
    expect(ids(await search({ order_by: orderBy }))).toEqual(want);
    // Paging across boundaries returns each run exactly once, in the same order.
    for (const size of [1, 4, 7]) {
      const paged = await searchAll({ order_by: orderBy }, size);
      expect(paged.ids).toEqual(want);
      expect(new Set(paged.ids).size).toBe(paged.ids.length);
      expect(paged.pages).toBe(Math.ceil(want.length / size));
    }
  });

  test('a filtered, ordered search pages exactly', async () => {
    const filter = "params.model = 'RandomForest' and metrics.rmse >= 0";
    const want = expected((r) => r.params.model === 'RandomForest' && r.metrics.rmse !== undefined && r.metrics.rmse >= 0, [[metric('rmse'), false]]);
    const paged = await searchAll({ filter, order_by: ['metrics.rmse DESC'] }, 2);
    expect(paged.ids).toEqual(want);
  });

  test('a full last page has no next_page_token', async () => {
    const reply = await search({ max_results: 28 });
    expect(ids(reply)).toHaveLength(28);
    expect(reply.next_page_token).toBeUndefined();
    const first = await search({ max_results: 27 });
    expect(typeof first.next_page_token).toBe('string');
    const rest = await search({ max_results: 27, page_token: first.next_page_token });
    expect(ids(rest)).toHaveLength(1);
    expect(rest.next_page_token).toBeUndefined();
  });
});

describe('runs/search request forms', () => {
  test('run_view_type by name and by number', async () => {
    const deleted = expected(() => true, [], 'DELETED_ONLY');
    expect(deleted).toEqual([run(29).id, run(28).id]);
    expect(ids(await search({ run_view_type: 'DELETED_ONLY' }))).toEqual(deleted);
    expect(ids(await search({ run_view_type: 2 }))).toEqual(deleted);
    expect(ids(await search({ run_view_type: 'ALL' }))).toEqual(expected(() => true, [], 'ALL'));
    expect(ids(await search({ run_view_type: 'ACTIVE_ONLY' }))).toEqual(expected(() => true));
    expect(ids(await search({ run_view_type: 'ALL', filter: "attributes.lifecycle_stage = 'deleted'" }))).toEqual(deleted);
    expect((await searchAll({ run_view_type: 'ALL', order_by: ['metrics.rmse'] }, 5)).ids).toEqual(expected(() => true, [[metric('rmse'), true]], 'ALL'));
  });

  test('several experiments at once, and GET with query parameters under both prefixes', async () => {
    const both = await request('POST', `${API}/runs/search`, { experiment_ids: [experimentId, otherExperimentId], filter: "run_name LIKE 'bold-%'" });
    expect(both.json<SearchReply>().runs).toHaveLength(11);

    const query = new URLSearchParams({ experiment_ids: experimentId, filter: "params.model = 'RandomForest'", max_results: '5' });
    query.append('order_by', 'metrics.rmse DESC');
    query.append('order_by', 'params.lr');
    const viaGet = await request('GET', `${API}/runs/search?${query.toString()}`);
    expect(viaGet.statusCode).toBe(200);
    const want = expected((r) => r.params.model === 'RandomForest', [
      [metric('rmse'), false],
      [param('lr'), true],
    ]);
    expect(ids(viaGet.json<SearchReply>())).toEqual(want.slice(0, 5));
    query.set('page_token', viaGet.json<SearchReply>().next_page_token as string);
    const ajax = await request('GET', `/ajax-api/2.0/mlflow/runs/search?${query.toString()}`);
    expect(ids(ajax.json<SearchReply>())).toEqual(want.slice(5, 10));

    // querystring_parser's list forms
    const bracketed = await request('GET', `${API}/runs/search?experiment_ids%5B%5D=${experimentId}&order_by%5B0%5D=params.lr&max_results=3`);
    expect(ids(bracketed.json<SearchReply>())).toEqual(expected(() => true, [[param('lr'), true]]).slice(0, 3));
  });
});

describe('runs/search errors', () => {
  const bad = (message: string) => ({ statusCode: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message } });

  test.each([
    ['metrics.a = 1 OR metrics.b = 2', "Invalid clause(s) in filter string: 'OR'"],
    ['metrics.a', "Invalid clause(s) in filter string: 'metrics.a'"],
    ["foo.a = 'x'", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"],
    ["attributes.nope = 'x'", expect.stringContaining("Invalid attribute key 'nope' specified. Valid keys are '{")],
    ['metrics.rmse LIKE 1', "Invalid comparator 'LIKE' not one of '{'>', '>=', '!=', '=', '<', '<='}'"],
    ["params.lr > '1'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ['params.lr = 1', "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"],
    ["metrics.rmse = 'x'", "Expected numeric value type for metric. Found 'x'"],
    ["status IN ('FAILED')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."],
  ])('filter %s', async (filter, message) => {
    expect(await searchError({ filter })).toEqual(bad(message as string));
  });

  test('bad order_by, max_results, run_view_type and page tokens', async () => {
    expect(await searchError({ order_by: ['metrics.rmse SIDEWAYS'] })).toEqual(bad("Invalid order_by clause 'metrics.rmse SIDEWAYS'. Could not be parsed."));
    expect(await searchError({ order_by: 'metrics.rmse' })).toEqual(
      bad(`Invalid value "metrics.rmse" for parameter 'order_by' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.`),
    );
    expect(await searchError({ max_results: 50_001 })).toEqual(bad("Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"));
    expect(await searchError({ max_results: 0 })).toEqual(bad("Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"));
    expect((await searchError({ run_view_type: 'SOME' })).statusCode).toBe(400);
    expect(await searchError({ page_token: 'not a token!' })).toEqual(bad('Invalid page token, could not base64-decode'));
    expect(await searchError({ page_token: Buffer.from('{"offset": 5}').toString('base64url') })).toEqual(
      bad('Invalid page token, could not decode it as a search_runs page token'),
    );
    // A token belongs to its search: another order_by or filter refuses it.
    const first = await search({ max_results: 3, order_by: ['metrics.rmse'] });
    expect(await searchError({ max_results: 3, order_by: ['metrics.acc'], page_token: first.next_page_token })).toEqual(
      bad('Invalid page token, it belongs to a different search (experiment_ids, filter, run_view_type or order_by)'),
    );
    // A well-formed token whose sort values have the wrong types.
    const forged = JSON.parse(Buffer.from(first.next_page_token as string, 'base64url').toString()) as { k: unknown[] };
    forged.k[1] = 'not-a-time';
    const forgedToken = Buffer.from(JSON.stringify(forged)).toString('base64url');
    expect(await searchError({ max_results: 3, order_by: ['metrics.rmse'], page_token: forgedToken })).toEqual(
      bad('Invalid page token, sort value 1 is malformed'),
    );
  });
});

describe('searchRuns (store)', () => {
  test('one query for the page of ids and a fixed number to load it; values only ever travel as parameters', async () => {
    const statements: Array<{ text: string; values: unknown[] }> = [];
    const db: Queryable = {
      query: ((text: string, values: unknown[]) => {
        statements.push({ text, values });
        return pool.query(text, values);
      }) as Queryable['query'],
    };
    const hostile = "x'; DROP TABLE runs; --";
    const result = await searchRuns(db, {
      experimentIds: [experimentId],
      filter: parseRunFilter(`params.model != '${hostile.replace(/'/g, "''")}' and tags.\`we'ird\` != 'z'`),
      orderBy: parseOrderBy(['metrics.rmse DESC', 'params.lr']),
      maxResults: 20,
    });
    expect(result.runs).toEqual([]);
    const withTag = await searchRuns(db, {
      experimentIds: [experimentId],
      filter: parseRunFilter(`params.model != '${hostile.replace(/'/g, "''")}'`),
      orderBy: parseOrderBy(['metrics.rmse DESC', 'params.lr']),
      maxResults: 20,
    });
    expect(withTag.runs.map((r) => r.info.run_id)).toEqual(expected(() => true, [[metric('rmse'), false], [param('lr'), true]]).slice(0, 20));
    expect(typeof withTag.nextPageToken).toBe('string');
    // First search: no ids, so no loading; second: 1 + 5.
    expect(statements).toHaveLength(1 + 6);
    for (const { text } of statements) {
      expect(text).not.toContain('DROP');
      expect(text).not.toContain('we');
    }
    expect(statements[1]?.values).toContain(hostile);
  });
});
