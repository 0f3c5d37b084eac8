import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import type { Experiment } from '../../store/experiments';
import { createPool } from '../../store/pool';
import { getRunInfo } from '../../store/run-reads';
import { createRun } from '../../store/run-writes';
import { testEnv } from '../helpers/services';
import { httpRequest, type Reply } from '../helpers/http';

const API = '/api/2.0/mlflow';
const DOCS = 'See the API docs for more information about request parameters.';

let pool: pg.Pool;
let app: FastifyInstance;
let connection: Connection;
let baseUrl: string;

const request = (method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply> => httpRequest(baseUrl, method, url, payload);

const post = (path: string, payload: unknown) => request('POST', `${API}/${path}`, payload);
const get = (path: string, query: URLSearchParams | Record<string, string>) =>
  request('GET', `${API}/${path}?${new URLSearchParams(query).toString()}`);

/** A fresh name prefix per test, free of LIKE wildcards (`_`, `%`). */
const uniquePrefix = (label: string): string => `${label}-${randomUUID().replace(/-/g, '')}-`;

async function create(payload: Record<string, unknown>): Promise<string> {
  const res = await post('experiments/create', payload);
  expect(res.statusCode).toBe(200);
  return res.json<{ experiment_id: string }>().experiment_id;
}

async function fetchExperiment(experimentId: string): Promise<Experiment> {
  const res = await get('experiments/get', { experiment_id: experimentId });
  expect(res.statusCode).toBe(200);
  return res.json<{ experiment: Experiment }>().experiment;
}

interface SearchPage {
  experiments: Experiment[];
  next_page_token?: string;
}

async function search(payload: Record<string, unknown>): Promise<SearchPage> {
  const res = await post('experiments/search', payload);
  expect(res.statusCode).toBe(200);
  return res.json<SearchPage>();
}

/** Every page of a search, and how many experiments each page held. */
async function searchAll(payload: Record<string, unknown>): Promise<{ names: string[]; pageSizes: number[] }> {
  const names: string[] = [];
  const pageSizes: number[] = [];
  let token: string | undefined;
  do {
    const page = await search({ ...payload, ...(token !== undefined && { page_token: token }) });
    names.push(...page.experiments.map((e) => e.name));
    pageSizes.push(page.experiments.length);
    token = page.next_page_token;
  } while (token !== undefined && pageSizes.length < 20);
  return { names, pageSizes };
}

function expectError(res: Reply, status: number, error_code: string, message: string): void {
  expect({ status: res.statusCode, body: res.json() }).toEqual({ status, body: { error_code, message } });
}

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'mlflow-experiments-test', artifactRoot: 'file:///nonexistent/mlflow-experiments-test' });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

describe('MLflow experiments API', () => {
  test('create answers the id; get returns the experiment with its tags and the proxied artifact location', async () => {
    const name = `${uniquePrefix('create')}a`;
    const before = Date.now();
    const id = await create({ name, tags: [{ key: 'team', value: 'vision' }, { key: 'b.key', value: '' }, { key: 'team', value: 'nlp' }] });
    expect(id).toMatch(/^\d+$/);
    const experiment = await fetchExperiment(id);
    expect(experiment).toEqual({
      experiment_id: id,
      name,
      artifact_location: `mlflow-artifacts:/${id}`,
      lifecycle_stage: 'active',
      creation_time: expect.any(Number) as number,
      last_update_time: experiment.creation_time,
      tags: [
        { key: 'b.key', value: '' },
        { key: 'team', value: 'nlp' },
      ],
    });
    expect(experiment.creation_time).toBeGreaterThanOrEqual(before);

    const custom = await create({ name: `${name}-custom`, artifact_location: 's3://bucket/somewhere' });
    expect((await fetchExperiment(custom)).artifact_location).toBe('s3://bucket/somewhere');

    // The UI's prefix reaches the same handlers.
    const ajax = await request('POST', '/ajax-api/2.0/mlflow/experiments/create', { name: `${name}-ajax` });
    expect(ajax.statusCode).toBe(200);
    const byName = await get('experiments/get-by-name', { experiment_name: `${name}-ajax` });
    expect(byName.json<{ experiment: Experiment }>().experiment.experiment_id).toBe(ajax.json<{ experiment_id: string }>().experiment_id);
  });

  test('create errors carry MLflow codes and messages', async () => {
    const name = `${uniquePrefix('dup')}x`;
    await create({ name });
    expectError(await post('experiments/create', { name }), 400, 'RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`);
    expectError(
      await post('experiments/create', { name: '' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Missing value for required parameter 'name'. ${DOCS}`,
    );
    expectError(await post('experiments/create', {}), 400, 'INVALID_PARAMETER_VALUE', `Missing value for required parameter 'name'. ${DOCS}`);
    expectError(
      await post('experiments/create', { name: 123 }),
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid value 123 for parameter 'name' supplied. Hint: Value was of type 'int'. ${DOCS}`,
    );
    expectError(
      await post('experiments/create', { name: 'x'.repeat(501) }),
      400,
      'INVALID_PARAMETER_VALUE',
      "'Experiment name' exceeds the maximum length of 500 characters",
    );
    expectError(
      await post('experiments/create', { name: `${name}-runs`, artifact_location: 'runs:/abc/model' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Artifact location cannot be a runs:/ URI. Given: 'runs:/abc/model'",
    );
    expectError(
      await post('experiments/create', { name: `${name}-tag`, tags: [{ key: 't', value: 'v'.repeat(5001) }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      "'Tag value' exceeds the maximum length of 5000 characters",
    );
    const badKey = await post('experiments/create', { name: `${name}-tag`, tags: [{ key: '../up', value: 'v' }] });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json<{ message: string }>().message).toContain("Invalid value \"../up\" for parameter 'tags[0].key' supplied");
    // Nothing of the refused requests was written.
    expect((await get('experiments/get-by-name', { experiment_name: `${name}-tag` })).statusCode).toBe(404);
  });

  test('get and get-by-name: unknown ids and names are 404s with MLflow messages', async () => {
    expectError(await get('experiments/get', { experiment_id: '98765432100' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=98765432100 exists');
    expectError(await get('experiments/get', { experiment_id: 'abc' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=abc exists');
    expectError(
      await get('experiments/get-by-name', { experiment_name: 'no such experiment, ever' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      "Could not find experiment with name 'no such experiment, ever'",
    );
  });

  test('rename, delete and restore round trip; runs follow their experiment; deleted ones stay readable', async () => {
    const prefix = uniquePrefix('life');
    const id = await create({ name: `${prefix}old` });
    const runId = randomUUID().replace(/-/g, '');
    await createRun(pool, { runId, experimentId: id, name: 'r', userId: 'u', startTime: 1, artifactUri: `mlflow-artifacts:/${id}/${runId}/artifacts` });

    expect((await post('experiments/update', { experiment_id: id, new_name: `${prefix}new` })).json()).toEqual({});
    expect((await fetchExperiment(id)).name).toBe(`${prefix}new`);
    expect((await get('experiments/get-by-name', { experiment_name: `${prefix}old` })).statusCode).toBe(404);
    // Renaming to the current name is a no-op.
    expect((await post('experiments/update', { experiment_id: id, new_name: `${prefix}new` })).statusCode).toBe(200);

    expect((await post('experiments/delete', { experiment_id: id })).json()).toEqual({});
    const deleted = await fetchExperiment(id);
    expect(deleted.lifecycle_stage).toBe('deleted');
    expect((await getRunInfo(pool, runId))?.lifecycle_stage).toBe('deleted');
    // get-by-name still finds a deleted experiment (the client's set_experiment then refuses it).
    const byName = await get('experiments/get-by-name', { experiment_name: `${prefix}new` });
    expect(byName.json<{ experiment: Experiment }>().experiment).toMatchObject({ experiment_id: id, lifecycle_stage: 'deleted' });
    // Its name stays taken.
    expectError(await post('experiments/create', { name: `${prefix}new` }), 400, 'RESOURCE_ALREADY_EXISTS', `Experiment(name=${prefix}new) already exists.`);

    expectError(await post('experiments/delete', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
    expectError(await post('experiments/update', { experiment_id: id, new_name: `${prefix}other` }), 500, 'INVALID_STATE', 'Cannot rename a non-active experiment.');

    expect((await post('experiments/restore', { experiment_id: id })).json()).toEqual({});
    expect((await fetchExperiment(id)).lifecycle_stage).toBe('active');
    expect((await getRunInfo(pool, runId))?.lifecycle_stage).toBe('active');
    expectError(await post('experiments/restore', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
  });

  test('update, delete and restore errors', async () => {
    const prefix = uniquePrefix('upd');
    const a = await create({ name: `${prefix}a` });
    await create({ name: `${prefix}b` });
    expectError(await post('experiments/update', { experiment_id: a, new_name: `${prefix}b` }), 400, 'RESOURCE_ALREADY_EXISTS', `Experiment(name=${prefix}b) already exists.`);
    expectError(await post('experiments/update', { experiment_id: a }), 400, 'INVALID_PARAMETER_VALUE', `Missing value for required parameter 'new_name'. ${DOCS}`);
    expectError(await post('experiments/update', { new_name: 'x' }), 400, 'INVALID_PARAMETER_VALUE', `Missing value for required parameter 'experiment_id'. ${DOCS}`);
    expectError(await post('experiments/update', { experiment_id: '98765432100', new_name: 'x' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=98765432100 exists');
    expectError(
      await post('experiments/delete', { experiment_id: '0' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
    );
    expect((await fetchExperiment('0')).lifecycle_stage).toBe('active');
    expectError(await post('experiments/delete', { experiment_id: '98765432100' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=98765432100 exists');
    expectError(await post('experiments/restore', { experiment_id: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=nope exists');
    expectError(await post('experiments/delete', {}), 400, 'INVALID_PARAMETER_VALUE', `Missing value for required parameter 'experiment_id'. ${DOCS}`);
  });

  test('set-experiment-tag and delete-experiment-tag', async () => {
    const id = await create({ name: `${uniquePrefix('tags')}x` });
    expect((await post('experiments/set-experiment-tag', { experiment_id: id, key: 'owner', value: 'ann' })).json()).toEqual({});
    expect((await post('experiments/set-experiment-tag', { experiment_id: id, key: 'owner', value: 'bob' })).statusCode).toBe(200);
    expect((await post('experiments/set-experiment-tag', { experiment_id: id, key: 'note' })).statusCode).toBe(200);
    expect((await fetchExperiment(id)).tags).toEqual([
      { key: 'note', value: '' },
      { key: 'owner', value: 'bob' },
    ]);

    expect((await post('experiments/delete-experiment-tag', { experiment_id: id, key: 'note' })).json()).toEqual({});
    expect((await fetchExperiment(id)).tags).toEqual([{ key: 'owner', value: 'bob' }]);
    expectError(
      await post('experiments/delete-experiment-tag', { experiment_id: id, key: 'note' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      `No tag with name: note in experiment with id ${id}`,
    );

    expectError(await post('experiments/set-experiment-tag', { experiment_id: id, value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', `Missing value for required parameter 'key'. ${DOCS}`);
    expectError(
      await post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v'.repeat(5001) }),
      400,
      'INVALID_PARAMETER_VALUE',
      "'Tag value' exceeds the maximum length of 5000 characters",
    );
    expectError(
      await post('experiments/set-experiment-tag', { experiment_id: '98765432100', key: 'k', value: 'v' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      'No Experiment with id=98765432100 exists',
    );
    await post('experiments/delete', { experiment_id: id });
    expectError(
      await post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The experiment ${id} must be in the 'active' state. Current state is deleted.`,
    );
    expectError(
      await post('experiments/delete-experiment-tag', { experiment_id: id, key: 'owner' }),
      400,
      'INVALID_PARAMETER_VALUE',
      `The experiment ${id} must be in the 'active' state. Current state is deleted.`,
    );
  });

  describe('search', () => {
    let prefix: string;
    let experiments: Experiment[];

    beforeAll(async () => {
      prefix = uniquePrefix('search');
      const ids: string[] = [];
      for (const [i, letter] of ['c', 'a', 'g', 'e', 'b', 'f', 'd'].entries()) {
        ids.push(await create({ name: `${prefix}${letter}`, tags: [{ key: 'group', value: i % 2 === 0 ? 'even' : 'odd' }, { key: 'idx', value: String(i) }] }));
      }
      experiments = await Promise.all(ids.map(fetchExperiment));
    });

    const names = (letters: string): string[] => [...letters].map((l) => `${prefix}${l}`);

    test('pages through a filter in name order across page boundaries', async () => {
      const filter = `name LIKE '${prefix}%'`;
      expect(await searchAll({ filter, order_by: ['name ASC'], max_results: 3 })).toEqual({ names: names('abcdefg'), pageSizes: [3, 3, 1] });
      expect(await searchAll({ filter, order_by: ['name DESC'], max_results: 3 })).toEqual({ names: names('gfedcba'), pageSizes: [3, 3, 1] });
      // An exact fit leaves no token behind.
      const exact = await search({ filter: `attribute.name LIKE '${prefix}%'`, max_results: 7 });
      expect(exact.experiments).toHaveLength(7);
      expect(exact.next_page_token).toBeUndefined();
      // A page size of 1 walks one experiment per page.
      expect(await searchAll({ filter, order_by: ['experiment_id DESC'], max_results: 1 })).toEqual({
        names: [...experiments].reverse().map((e) => e.name),
        pageSizes: [1, 1, 1, 1, 1, 1, 1],
      });
    });

    test('default order is creation_time DESC, then experiment_id ASC', async () => {
      const expected = [...experiments]
        .sort((x, y) => (y.creation_time ?? 0) - (x.creation_time ?? 0) || Number(x.experiment_id) - Number(y.experiment_id))
        .map((e) => e.name);
      expect((await searchAll({ filter: `name LIKE '${prefix}%'`, max_results: 3 })).names).toEqual(expected);
      const ordered = await searchAll({ filter: `name LIKE '${prefix}%'`, order_by: ['creation_time ASC', 'experiment_id DESC'], max_results: 2 });
      expect(ordered.names).toEqual(
        [...experiments]
          .sort((x, y) => (x.creation_time ?? 0) - (y.creation_time ?? 0) || Number(y.experiment_id) - Number(x.experiment_id))
          .map((e) => e.name),
      );
    });

    test('filters on names, tags and times', async () => {
      const run = async (filter: string) => (await searchAll({ filter, order_by: ['name'], max_results: 3 })).names;
      expect(await run(`name = '${prefix}c'`)).toEqual(names('c'));
      expect(await run(`name ILIKE '${prefix.toUpperCase()}%' and tags.group = 'odd'`)).toEqual(names('aef'));
      expect(await run(`name LIKE '${prefix}%' AND tags."group" != 'odd'`)).toEqual(names('bcdg'));
      expect(await run(`name LIKE '${prefix}%' AND tags.\`idx\` LIKE '1%'`)).toEqual(names('a'));
      expect(await run(`name LIKE '${prefix}%' AND name != '${prefix}a' AND tags.group ILIKE 'ODD'`)).toEqual(names('ef'));
      expect(await run(`name LIKE '${prefix}%' AND tags.missing = 'x'`)).toEqual([]);
      const times = experiments.map((e) => e.creation_time ?? 0);
      const [min, max] = [Math.min(...times), Math.max(...times)];
      expect(await run(`name LIKE '${prefix}%' AND creation_time >= ${min} AND last_update_time <= ${max}`)).toEqual(names('abcdefg'));
      expect(await run(`name LIKE '${prefix}%' AND attribute.creation_time > ${max}`)).toEqual([]);
    });

    test('view_type selects active, deleted or all experiments (by name, number, GET or POST)', async () => {
      const viewPrefix = uniquePrefix('view');
      const keep = await create({ name: `${viewPrefix}keep` });
      const gone = await create({ name: `${viewPrefix}gone` });
      await post('experiments/delete', { experiment_id: gone });
      const ids = async (view_type?: string | number) =>
        (await search({ filter: `name LIKE '${viewPrefix}%'`, order_by: ['name'], ...(view_type !== undefined && { view_type }) })).experiments.map((e) => e.experiment_id);
      expect(await ids()).toEqual([keep]);
      expect(await ids('ACTIVE_ONLY')).toEqual([keep]);
      expect(await ids('DELETED_ONLY')).toEqual([gone]);
      expect(await ids('ALL')).toEqual([gone, keep]);
      expect(await ids(2)).toEqual([gone]);

      const query = new URLSearchParams({ filter: `name LIKE '${viewPrefix}%'`, view_type: 'ALL', max_results: '1', order_by: 'name DESC' });
      const first = await get('experiments/search', query);
      expect(first.statusCode).toBe(200);
      const page = first.json<SearchPage>();
      expect(page.experiments.map((e) => e.experiment_id)).toEqual([keep]);
      query.set('page_token', page.next_page_token ?? '');
      const second = (await get('experiments/search', query)).json<SearchPage>();
      expect(second).toEqual({ experiments: [await fetchExperiment(gone)] });
      // order_by repeated in a query string.
      const repeated = new URLSearchParams([
        ['filter', `name LIKE '${prefix}%'`],
        ['order_by', 'last_update_time DESC'],
        ['order_by', 'name ASC'],
      ]);
      const byTimeThenName = await get('experiments/search', repeated);
      expect(byTimeThenName.statusCode).toBe(200);
      expect(byTimeThenName.json<SearchPage>().experiments.map((e) => e.name)).toEqual(
        [...experiments].sort((x, y) => (y.last_update_time ?? 0) - (x.last_update_time ?? 0) || (x.name < y.name ? -1 : 1)).map((e) => e.name),
      );
    });

    test('experiments without times sort last in both directions, and paging passes them', async () => {
      const nullPrefix = uniquePrefix('nulls');
      // Only the Default experiment can lack times in practice; write such rows directly.
      const { rows } = await pool.query<{ experiment_id: string }>(
        `INSERT INTO experiments (name, creation_time, last_update_time)
         VALUES ($1 || 'x', NULL, NULL), ($1 || 'y', 5, 5), ($1 || 'z', 7, 7) RETURNING experiment_id::text`,
        [nullPrefix],
      );
      expect(rows).toHaveLength(3);
      const filter = `name LIKE '${nullPrefix}%'`;
      expect(await searchAll({ filter, order_by: ['creation_time ASC'], max_results: 1 })).toEqual({ names: [`${nullPrefix}y`, `${nullPrefix}z`, `${nullPrefix}x`], pageSizes: [1, 1, 1] });
      expect(await searchAll({ filter, order_by: ['creation_time DESC'], max_results: 1 })).toEqual({ names: [`${nullPrefix}z`, `${nullPrefix}y`, `${nullPrefix}x`], pageSizes: [1, 1, 1] });
      expect(await searchAll({ filter: `${filter} AND creation_time < 100`, max_results: 1 })).toEqual({ names: [`${nullPrefix}z`, `${nullPrefix}y`], pageSizes: [1, 1] });
    });

    test('search results include tags and match experiments/get', async () => {
      const page = await search({ filter: `name = '${prefix}a'` });
      expect(page).toEqual({ experiments: [experiments[1]] });
    });

    test('bad filters, order_by, tokens and page sizes answer 400 INVALID_PARAMETER_VALUE with a precise message', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ filter: "foo = 'x'" }, "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'creation_time', 'last_update_time'}'"],
        [{ filter: 'metrics.loss = 1' }, "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"],
        [{ filter: "name > 'x'" }, "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE'}'"],
        [{ filter: 'creation_time LIKE 5' }, "Invalid comparator 'LIKE' not one of '{'=', '!=', '>', '>=', '<', '<='}'"],
        [{ filter: "creation_time > 'yesterday'" }, "Expected numeric value type for numeric attribute: creation_time. Found 'yesterday'"],
        [{ filter: 'name = x' }, 'Expected a quoted string value for attributes. Got value x'],
        [{ filter: 'tags.t = 5' }, "Expected a quoted string value for tag 't'. Got value 5"],
        [{ filter: "name = 'a' OR name = 'b'" }, "Invalid clause(s) in filter string: OR name = 'b'"],
        [{ filter: "name = 'a' AND" }, "Invalid clause(s) in filter string: name = 'a' AND"],
        [{ filter: "name IN ('a', 'b')" }, "Invalid comparator 'IN' not one of '{'=', '!=', 'LIKE', 'ILIKE'}'"],
        [{ filter: "tags.t NOT IN ('a')" }, "Invalid comparator 'NOT IN' not one of '{'=', '!=', 'LIKE', 'ILIKE'}'"],
        [{ filter: "name = 'a' ; drop" }, "Invalid clause(s) in filter string: ; drop"],
        [{ filter: "name = 'unterminated" }, "Invalid filter string: unterminated quoted value starting at position 7: 'unterminated"],
        [{ order_by: ['tags.x'] }, 'Invalid order_by entity: tag'],
        [{ order_by: ['artifact_location'] }, "Invalid attribute key 'artifact_location' specified. Valid keys are '{'name', 'experiment_id', 'creation_time', 'last_update_time'}'"],
        [{ order_by: ['name sideways'] }, "Invalid order_by clause 'name sideways'. Could not be parsed."],
        [{ page_token: 'garbage' }, 'Invalid page token, could not base64-decode or parse it for this request (order_by must match the first request): garbage'],
        [{ max_results: 0 }, 'Invalid value for max_results. It must be a positive integer, but got 0'],
        [{ max_results: 50001 }, 'Invalid value for max_results. It must be at most 50000, but got 50001'],
        [{ view_type: 'SOME' }, `Invalid value "SOME" for parameter 'view_type' supplied. Hint: Value was of type 'str'. ${DOCS}`],
        [{ max_results: 'ten' }, `Invalid value "ten" for parameter 'max_results' supplied. Hint: Value was of type 'str'. ${DOCS}`],
      ];
      for (const [payload, message] of cases) {
        expectError(await post('experiments/search', payload), 400, 'INVALID_PARAMETER_VALUE', message);
      }
      // A token from one ordering is refused under another.
      const first = await search({ filter: `name LIKE '${prefix}%'`, order_by: ['name'], max_results: 1 });
      const res = await post('experiments/search', { filter: `name LIKE '${prefix}%'`, order_by: ['name DESC'], page_token: first.next_page_token });
      expect(res.statusCode).toBe(400);
      expect(res.json<{ message: string }>().message).toContain('Invalid page token');
    });
  });

  test('GET /version answers an MLflow version string; /health still answers OK', async () => {
    const version = await request('GET', '/version');
    expect(version.statusCode).toBe(200);
    expect(version.body).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await request('GET', '/health')).body).toBe('OK');
  });
});
