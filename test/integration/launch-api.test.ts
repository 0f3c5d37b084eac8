import { WorkflowNotFoundError } from '@temporalio/client';
import { LaunchProgress } from '../../domain/launch';
import { getOrCreateExperiment } from '../../store/experiments';
import { insertLaunch } from '../../store/launches';
import { launchBegunUpdate } from '../../workflows/definitions';
import { launchWorkflowId } from '../../workflows/ids';
import { MlfleetExperiment, MlfleetLaunch, MlfleetTrigger } from '../../workflows/search-attributes';
import { badSpecs } from '../fixtures/bad-specs';
import { makeCodeDir, uniqueId } from '../helpers/launches';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

let ctx: WorkflowTestContext;
let baseUrl: string;
const taskQueue = uniqueId('launch-api');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  baseUrl = await ctx.startApi(taskQueue);
});

afterAll(async () => {
  await ctx.close();
});

async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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
  expect(await rejected({ spec, extra: 1 })).toBe("body: unknown field 'extra'");
  expect(await rejected({ spec, trigger: 'cron' })).toBe("trigger: expected 'cli', 'api', 'schedule' or 'temporal', got 'cron'");
  expect(await rejected({ spec, code: { dir: 'relative/path' } })).toBe('code.dir: expected an absolute path the worker can read');
  expect(await rejected({})).toBe('body: give exactly one of spec or pipeline');
  expect(await rejected({ spec, pipeline: 'churn@1' })).toBe('body: give exactly one of spec or pipeline');
  const unknownBundle = `sha256:${'0'.repeat(64)}`;
  expect(await rejected({ spec, code: { bundle: unknownBundle } })).toBe(
    `code.bundle: unknown code bundle '${unknownBundle}'; upload it first (POST /api/v1/code-bundles)`,
  );

  // A registered pipeline: its version must exist, and overrides are checked against its spec.
  const name = uniqueId('registered');
  expect((await call('POST', '/api/v1/pipelines', { name, spec })).status).toBe(201);
  expect(await rejected({ pipeline: `${name}@2` })).toBe(`pipeline: unknown pipeline version '${name}@2'`);
  expect(await rejected({ pipeline: `${name}@1`, params: { 'train.epochs': 'many' } })).toBe("params.train.epochs: expected a number, got 'many'");
  expect(await ctx.client.workflow.count(`TaskQueue = '${taskQueue}' AND WorkflowType = 'launchExperiment' AND MlfleetExperiment = 'x'`)).toEqual({
    count: 0,
    groups: [],
  });
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

test("a launch the API starts carries its search attributes from its start: the workflow does not upsert them again", async () => {
  const experiment = uniqueId('api-attributes');
  const created = await call('POST', '/api/v1/launches', { spec: { experiment, stages: { ok: { command: 'true' } } } });
  expect(created.status).toBe(201);
  const { launch_id: launchId } = LaunchProgress.parse(created.json);
  const handle = ctx.client.workflow.getHandle(launchWorkflowId(launchId));
  await handle.result();
  const attributes = (await handle.describe()).typedSearchAttributes;
  expect([attributes.get(MlfleetExperiment), attributes.get(MlfleetLaunch), attributes.get(MlfleetTrigger)]).toEqual([experiment, launchId, 'api']);
  const upserted = (await handle.fetchHistory()).events!.flatMap((event) =>
    Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
  );
  expect(upserted.filter((key) => key.startsWith('Mlfleet'))).toEqual([]);
});

test('GET with wait_seconds answers at the end; a fully cached relaunch answers its POST with its end', async () => {
  const spec = {
    experiment: uniqueId('api-wait'),
    stages: {
      make: { command: 'sleep 2; printf 7 > ${outputs.n}', outputs: { n: 'n.txt' } },
      use: { command: 'test "$(cat ${inputs.n})" = 7', inputs: { n: 'stages.make.outputs.n' } },
    },
  };
  const body = { spec, code: { dir: makeCodeDir(ctx.dataDir) } };
  const created = LaunchProgress.parse((await call('POST', '/api/v1/launches', body)).json);
  expect(created.status).toBe('RUNNING');
  // One request, held until the launch has ended.
  const waited = await call('GET', `/api/v1/launches/${created.launch_id}?wait_seconds=60`);
  expect(waited.status).toBe(200);
  const ended = LaunchProgress.parse(waited.json);
  expect(ended.status).toBe('FINISHED');
  expect(ended.stages.map((s) => [s.name, s.status, s.source])).toEqual([
    ['make', 'FINISHED', 'ran'],
    ['use', 'FINISHED', 'ran'],
  ]);

  // Nothing changed: the POST itself reports the launch ended, every stage taken from the first.
  const again = await call('POST', '/api/v1/launches', body);
  expect(again.status).toBe(201);
  const cached = LaunchProgress.parse(again.json);
  expect(cached.status).toBe('FINISHED');
  expect(cached.stages.map((s) => [s.name, s.status, s.source, s.cached_from])).toEqual(ended.stages.map((s) => [s.name, 'FINISHED', 'cached', s.run_id]));
  // And what it answered is what the database holds.
  expect(LaunchProgress.parse((await call('GET', `/api/v1/launches/${cached.launch_id}`)).json)).toMatchObject({ status: 'FINISHED', run_id: cached.run_id });
  // All of it, the update's answer included, in one workflow task.
  const { events } = await ctx.client.workflow.getHandle(launchWorkflowId(cached.launch_id)).fetchHistory();
  expect((events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length).toBe(1);
  expect((events ?? []).filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length).toBe(1);

  // A launch that closed before an update reached it cannot answer one: the error the POST's
  // fallback to progressOf relies on.
  await expect(ctx.client.workflow.getHandle(launchWorkflowId(cached.launch_id)).executeUpdate(launchBegunUpdate)).rejects.toBeInstanceOf(WorkflowNotFoundError);
});

test('with no worker to answer, the POST replies a bare RUNNING after its bounded wait; the launch is started', async () => {
  const idleQueue = uniqueId('no-worker');
  const idleApi = await ctx.startApi(idleQueue);
  const spec = { experiment: uniqueId('api-idle'), stages: { one: { command: 'true' } } };
  const response = await fetch(`${idleApi}/api/v1/launches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spec }) });
  expect(response.status).toBe(201);
  const progress = LaunchProgress.parse(await response.json());
  expect(progress).toEqual({ launch_id: progress.launch_id, run_id: '', status: 'RUNNING', stages: [] });
  const handle = ctx.client.workflow.getHandle(launchWorkflowId(progress.launch_id));
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('test over: no worker polls its task queue');
});

test('wait_seconds is bounded: a launch still running at the deadline answers RUNNING; bad values are a 400', async () => {
  const spec = { experiment: uniqueId('api-wait-long'), stages: { wait: { command: 'sleep 60' } } };
  const launchId = String((await call('POST', '/api/v1/launches', { spec })).json.launch_id);
  const waited = await call('GET', `/api/v1/launches/${launchId}?wait_seconds=1`);
  expect(waited.status).toBe(200);
  expect(LaunchProgress.parse(waited.json).status).toBe('RUNNING');
  expect((await call('POST', `/api/v1/launches/${launchId}/cancel`)).status).toBe(200);
  for (const bad of ['0', '61', 'soon', '1.5']) {
    expect(await call('GET', `/api/v1/launches/${launchId}?wait_seconds=${bad}`)).toEqual({
      status: 400,
      json: { error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining('wait_seconds') as unknown },
    });
  }
  expect(LaunchProgress.parse((await call('GET', `/api/v1/launches/${launchId}?wait_seconds=30`)).json).status).toBe('KILLED');
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

describe('Idempotency-Key', () => {
  const post = (body: unknown, key: string) => call('POST', '/api/v1/launches', body, { 'Idempotency-Key': key });
  const firstRunIdOf = async (launchId: string): Promise<string | null | undefined> =>
    (await ctx.pool.query<{ workflow_run_id: string | null }>('SELECT workflow_run_id FROM launch_requests WHERE launch_id = $1', [launchId])).rows[0]
      ?.workflow_run_id;

  test('a retried POST returns the first launch, also after it finished, and never starts a second workflow', async () => {
    const key = uniqueId('retry');
    const spec = { experiment: uniqueId('idem'), stages: { one: { command: 'true' }, two: { command: 'true' } } };
    const first = await post({ spec, trigger: 'cli' }, key);
    expect(first.status).toBe(201);
    const launchId = String(first.json.launch_id);
    const runId = await firstRunIdOf(launchId);
    expect(runId).toEqual(expect.any(String));

    // The same request, its keys in another order: a retry. 200 with the same launch.
    const retried = await post({ trigger: 'cli', spec: { stages: spec.stages, experiment: spec.experiment } }, key);
    expect(retried.status).toBe(200);
    expect(retried.json.launch_id).toBe(launchId);

    const final = await eventually(async () => {
      const progress = LaunchProgress.parse((await call('GET', `/api/v1/launches/${launchId}`)).json);
      return progress.status === 'RUNNING' ? undefined : progress;
    }, 60_000);
    expect(final.status).toBe('FINISHED');

    // After the launch ended: still the same launch, now with its final state, and still one workflow run.
    // (The progress says FINISHED while the workflow still records it: wait for it to close.)
    await ctx.client.workflow.getHandle(launchWorkflowId(launchId)).result();
    const late = await post({ spec, trigger: 'cli' }, key);
    expect(late).toEqual({ status: 200, json: final });
    const description = await ctx.client.workflow.getHandle(launchWorkflowId(launchId)).describe();
    expect(description.runId).toBe(runId);
    expect(description.status.name).toBe('COMPLETED');
    await expect(firstRunIdOf(launchId)).resolves.toBe(runId);
  });

  test('the same key with a different body is a 400, and nothing else starts', async () => {
    const key = uniqueId('other-body');
    const spec = { experiment: uniqueId('idem-diff'), stages: { one: { command: 'true' } } };
    const first = await post({ spec }, key);
    expect(first.status).toBe(201);
    for (const body of [{ spec, trigger: 'cli' }, { spec: { ...spec, description: 'changed' } }]) {
      expect(await post(body, key)).toEqual({
        status: 400,
        json: { error_code: 'INVALID_PARAMETER_VALUE', message: `Idempotency-Key '${key}' was already used for a different request` },
      });
    }
    const launchId = String(first.json.launch_id);
    expect((await ctx.client.workflow.getHandle(launchWorkflowId(launchId)).describe()).runId).toBe(await firstRunIdOf(launchId));
  });

  test('concurrent POSTs with one key: one launch, one workflow on the task queue', async () => {
    const key = uniqueId('race');
    const body = { spec: { experiment: uniqueId('idem-race'), stages: { one: { command: 'true' } } } };
    const answers = await Promise.all([post(body, key), post(body, key), post(body, key), post(body, key)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    const launchIds = new Set(answers.map((a) => a.json.launch_id));
    expect(launchIds.size).toBe(1);
    const [launchId] = [...launchIds];
    const query = `TaskQueue = '${taskQueue}' AND WorkflowId = '${launchWorkflowId(String(launchId))}'`;
    const visible = await eventually(async () => ((await ctx.client.workflow.count(query)).count > 0 ? true : undefined));
    expect(visible).toBe(true);
    expect((await ctx.client.workflow.count(query)).count).toBe(1);
    const rows = await ctx.pool.query('SELECT launch_id FROM launch_requests WHERE idempotency_key = $1', [key]);
    expect(rows.rows).toEqual([{ launch_id: launchId }]);
  });

  test('a malformed key is a 400; a rejected body does not use up the key', async () => {
    const spec = { experiment: uniqueId('idem-bad'), stages: { one: { command: 'true' } } };
    const badKey = { error_code: 'INVALID_PARAMETER_VALUE', message: 'Idempotency-Key: expected 1 to 200 printable ASCII characters' };
    expect(await post({ spec }, 'k'.repeat(201))).toEqual({ status: 400, json: badKey });
    expect(await post({ spec }, '')).toEqual({ status: 400, json: badKey });
    expect(await post({ spec }, 'caf\u00e9')).toEqual({ status: 400, json: badKey });

    const key = `${uniqueId('k')} with spaces & symbols ~!`;
    expect((await post({ spec, extra: true }, key)).status).toBe(400);
    const accepted = await post({ spec }, key);
    expect(accepted.status).toBe(201);
    expect((await post({ spec }, key)).json.launch_id).toBe(accepted.json.launch_id);
  });
});

describe('GET /api/v1/launches', () => {
  let experiment: { id: string; name: string };
  // Inserted newest first in the order the API must list them: created_at desc, then launch_id desc.
  const expected: { launchId: string; createdAt: number; status: 'RUNNING' | 'FINISHED' | 'FAILED' }[] = [];

  beforeAll(async () => {
    const name = uniqueId('list');
    experiment = { id: (await getOrCreateExperiment(ctx.pool, name, ctx.artifactRoot)).experiment_id, name };
    const base = Date.now() - 3_600_000;
    const prefix = uniqueId('ls');
    // Ties on created_at (c, b, a) so that pages break inside a tie.
    const rows = [
      { launchId: `${prefix}-e`, createdAt: base + 3000, status: 'RUNNING' as const },
      { launchId: `${prefix}-c`, createdAt: base + 2000, status: 'FINISHED' as const },
      { launchId: `${prefix}-b`, createdAt: base + 2000, status: 'FINISHED' as const },
      { launchId: `${prefix}-a`, createdAt: base + 2000, status: 'FAILED' as const },
      { launchId: `${prefix}-d`, createdAt: base + 1000, status: 'FINISHED' as const },
      { launchId: `${prefix}-f`, createdAt: base, status: 'FINISHED' as const },
    ];
    for (const row of [...rows].reverse()) {
      await insertLaunch(ctx.pool, {
        launchId: row.launchId,
        workflowId: launchWorkflowId(row.launchId),
        experimentId: experiment.id,
        status: row.status,
        trigger: 'api',
        spec: { experiment: name, stages: { one: { command: 'true' } } },
        createdAt: row.createdAt,
      });
      if (row.status !== 'RUNNING') await ctx.pool.query('UPDATE launches SET ended_at = $2 WHERE launch_id = $1', [row.launchId, row.createdAt + 5]);
    }
    expected.push(...rows);
  });

  const list = async (query: string) => call('GET', `/api/v1/launches?${query}`);

  /** Every page of a listing with `query`, following next_page_token. */
  async function allPages(query: string): Promise<Record<string, unknown>[][]> {
    const pages: Record<string, unknown>[][] = [];
    let token: string | undefined;
    do {
      const { status, json } = await list(`${query}${token === undefined ? '' : `&page_token=${token}`}`);
      expect(status).toBe(200);
      pages.push(json.launches as Record<string, unknown>[]);
      token = json.next_page_token as string | undefined;
      expect(pages.length).toBeLessThan(20);
    } while (token !== undefined);
    return pages;
  }

  test('newest first, a page of two at a time, across ties on created_at', async () => {
    const pages = await allPages(`experiment=${encodeURIComponent(experiment.name)}&limit=2`);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2]);
    expect(pages.flat().map((l) => l.launch_id)).toEqual(expected.map((l) => l.launchId));
    const first = expected[0];
    const finished = expected[1];
    expect(pages[0]?.[0]).toEqual({
      launch_id: first?.launchId,
      experiment_id: experiment.id,
      run_id: '',
      status: 'RUNNING',
      trigger: 'api',
      created_at: first?.createdAt,
    });
    expect(pages[0]?.[1]).toMatchObject({ launch_id: finished?.launchId, status: 'FINISHED', ended_at: (finished?.createdAt ?? 0) + 5 });
  });

  test('filters: experiment by name or id, status; the last full page has no token', async () => {
    const byId = await allPages(`experiment=${experiment.id}&limit=5`);
    expect(byId.map((page) => page.length)).toEqual([5, 1]);
    expect(byId.flat().map((l) => l.launch_id)).toEqual(expected.map((l) => l.launchId));

    const finished = expected.filter((l) => l.status === 'FINISHED').map((l) => l.launchId);
    expect(finished).toHaveLength(4);
    const pages = await allPages(`experiment=${encodeURIComponent(experiment.name)}&status=FINISHED&limit=2`);
    expect(pages.map((page) => page.length)).toEqual([2, 2]);
    expect(pages.flat().map((l) => l.launch_id)).toEqual(finished);

    expect((await list(`experiment=${encodeURIComponent(experiment.name)}&status=KILLED`)).json).toEqual({ launches: [] });
    expect((await list(`experiment=${uniqueId('no-such-experiment')}`)).json).toEqual({ launches: [] });

    // Unfiltered: everything, newest first.
    const everything = (await list('limit=1000')).json.launches as { launch_id: string; created_at: number }[];
    expect(everything.map((l) => l.launch_id)).toEqual(expect.arrayContaining(expected.map((l) => l.launchId)));
    const order = everything.map((l) => l.created_at);
    expect(order).toEqual([...order].sort((a, b) => b - a));
  });

  test('bad query parameters are a 400 naming each problem', async () => {
    const token = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const invalidToken = 'page_token: invalid page token (pass back the next_page_token of the previous page)';
    const cases: [string, string][] = [
      ['limit=0', 'limit: must be >= 1, got 0'],
      ['limit=1001', 'limit: must be <= 1000, got 1001'],
      ['limit=ten', 'limit: expected an integer from 1 to 1000'],
      ['limit=-1', 'limit: expected an integer from 1 to 1000'],
      ['limit=2.5', 'limit: expected an integer from 1 to 1000'],
      ['status=PENDING', "status: expected 'RUNNING', 'FINISHED', 'FAILED' or 'KILLED', got 'PENDING'"],
      ['status=RUNNING&status=FAILED', "status: expected 'RUNNING', 'FINISHED', 'FAILED' or 'KILLED', got array"],
      ['experiment=', 'experiment: must not be empty'],
      ['page_token=not%20base64!', invalidToken],
      [`page_token=${token({ t: 1, id: 'x', extra: 1 })}`, invalidToken],
      [`page_token=${token({ t: -1, id: 'x' })}`, invalidToken],
      [`page_token=${token('just a string')}`, invalidToken],
      [`page_token=${Buffer.from('{"t":').toString('base64url')}`, invalidToken],
      ['limit=5&sort=asc', "query: unknown field 'sort'"],
      ['limit=0&Status=RUNNING', "query: unknown field 'Status'\nlimit: must be >= 1, got 0"],
    ];
    for (const [query, message] of cases) {
      expect({ query, ...(await list(query)) }).toEqual({ query, status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
  });
});
