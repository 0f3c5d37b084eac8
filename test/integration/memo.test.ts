import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { OpenedLaunch } from '../../activities/launch-opening';
import { LocalProvider } from '../../clouds/local/local-provider';
import type { LaunchInput, LaunchProgress } from '../../domain/launch';
import { filePathOf } from '../../storage/file-store';
import { createStorage } from '../../storage/storage';
import { getLaunch } from '../../store/launches';
import { getRun } from '../../store/run-reads';
import { launchWorkflowId, stageWorkflowId } from '../../workflows/ids';
import { recordHistories } from '../helpers/histories';
import { httpRequest } from '../helpers/http';
import { launch, uniqueId } from '../helpers/launches';
import { newRunId } from '../helpers/run-ids';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Memoized stages and re-execution through real launches: the change matrix over a
// 4-stage pipeline, concurrent launches racing on one key, and the checks of `from`/`reuse`.

let ctx: WorkflowTestContext;
let baseUrl: string;
const taskQueue = uniqueId('memo');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  baseUrl = await ctx.startApi(taskQueue);
});

afterAll(async () => {
  await ctx.close();
});

/** s1 → s2 → s3 → s4; each stage runs its own script (its declared `code:`) and appends a line. */
function pipeline(opts: { p?: number; version4?: number } = {}) {
  const stage = (n: number, extra: object = {}) => ({
    command: n === 1 ? `sh s1.sh > \${outputs.out}` : `sh s${n}.sh \${inputs.in} > \${outputs.out}`,
    code: [`s${n}.sh`],
    ...(n > 1 ? { inputs: { in: `stages.s${n - 1}.outputs.out` } } : {}),
    outputs: { out: `out/s${n}.txt` },
    ...extra,
  });
  return (experiment: string) => ({
    experiment,
    stages: {
      s1: stage(1),
      s2: stage(2, { command: 'sh s2.sh ${inputs.in} ${params.p} > ${outputs.out}', params: { p: opts.p ?? 1 } }),
      s3: stage(3),
      s4: stage(4, opts.version4 === undefined ? {} : { cache: { version: opts.version4 } }),
    },
  });
}

function codeDir(): string {
  const dir = join(ctx.dataDir, uniqueId('memo-code'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 's1.sh'), 'echo s1\n');
  writeFileSync(join(dir, 's2.sh'), 'cat "$1"; echo "s2 p=$2"\n');
  writeFileSync(join(dir, 's3.sh'), 'cat "$1"; echo s3\n');
  writeFileSync(join(dir, 's4.sh'), 'cat "$1"; echo s4\n');
  return dir;
}

async function run(input: LaunchInput): Promise<LaunchProgress> {
  const { handle } = await launch(ctx.client, taskQueue, input);
  return handle.result();
}

const sources = (progress: LaunchProgress): string[] => progress.stages.map((s) => s.source ?? '-');
const outputOf = async (progress: LaunchProgress, stage: string): Promise<string> => {
  const runId = progress.stages.find((s) => s.name === stage)!.run_id;
  const stored = (await getLaunch(ctx.pool, progress.launch_id))!.stages.find((s) => s.runId === runId)!;
  return readFileSync(filePathOf(stored.outputs.out!), 'utf8');
};

test('the change matrix: only what changed, and what depends on it, runs again', async () => {
  const experiment = uniqueId('matrix');
  const dir = codeDir();
  const base = (spec: ReturnType<ReturnType<typeof pipeline>>, extra: Partial<LaunchInput> = {}): LaunchInput => ({ spec, code: { dir }, trigger: 'cli', ...extra });

  const first = await run(base(pipeline()(experiment)));
  expect(sources(first)).toEqual(['ran', 'ran', 'ran', 'ran']);
  expect(await outputOf(first, 's4')).toBe('s1\ns2 p=1\ns3\ns4\n');

  const unchanged = await run(base(pipeline()(experiment)));
  expect(sources(unchanged)).toEqual(['cached', 'cached', 'cached', 'cached']);
  // Settled by the launch itself: no stage workflow was started.
  await expect(ctx.client.workflow.getHandle(stageWorkflowId(unchanged.launch_id, 's1')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  recordHistories('cached', [launchWorkflowId(unchanged.launch_id)]);
  expect(unchanged.stages.map((s) => s.cached_from)).toEqual(first.stages.map((s) => s.run_id));
  // A cached stage is its own FINISHED run that names the run it took, at zero cost.
  const cachedRun = await getRun(ctx.pool, unchanged.stages[3]!.run_id);
  expect(cachedRun?.info.status).toBe('FINISHED');
  expect(cachedRun?.data.tags).toEqual(expect.arrayContaining([{ key: 'mlfleet.cached_from', value: first.stages[3]!.run_id }]));
  expect(cachedRun?.data.metrics.find((m) => m.key === 'mlfleet.cost_usd')?.value).toBe(0);
  expect(cachedRun?.data.tags.find((t) => t.key === 'mlfleet.cache_key')?.value).toBe(unchanged.stages[3]!.cache_key);

  const param = await run(base(pipeline({ p: 2 })(experiment)));
  expect(sources(param)).toEqual(['cached', 'ran', 'ran', 'ran']);
  expect(await outputOf(param, 's4')).toBe('s1\ns2 p=2\ns3\ns4\n');

  writeFileSync(join(dir, 's3.sh'), 'cat "$1"; echo "s3 v2"\n');
  const code = await run(base(pipeline({ p: 2 })(experiment)));
  expect(sources(code)).toEqual(['cached', 'cached', 'ran', 'ran']);
  expect(await outputOf(code, 's4')).toBe('s1\ns2 p=2\ns3 v2\ns4\n');

  const version = await run(base(pipeline({ p: 2, version4: 2 })(experiment)));
  expect(sources(version)).toEqual(['cached', 'cached', 'cached', 'ran']);

  const noCache = await run(base(pipeline({ p: 2, version4: 2 })(experiment), { no_cache: true }));
  expect(sources(noCache)).toEqual(['ran', 'ran', 'ran', 'ran']);

  const refreshed = await run(base(pipeline({ p: 2, version4: 2 })(experiment), { refresh: ['s2'] }));
  expect(sources(refreshed)).toEqual(['cached', 'ran', 'cached', 'cached']);

  // From s3 on the first launch's s1 and s2, although s2's param has changed since.
  const reexecuted = await run(base(pipeline({ p: 2, version4: 2 })(experiment), { from: 's3', reuse: first.launch_id }));
  expect(sources(reexecuted)).toEqual(['reused', 'reused', 'ran', 'ran']);
  recordHistories('reexecuted', [launchWorkflowId(reexecuted.launch_id), stageWorkflowId(reexecuted.launch_id, 's3')]);
  expect(reexecuted.stages.slice(0, 2).map((s) => s.reused_from)).toEqual(first.stages.slice(0, 2).map((s) => s.run_id));
  expect(await outputOf(reexecuted, 's4')).toBe('s1\ns2 p=1\ns3 v2\ns4\n');
  const parent = await getRun(ctx.pool, reexecuted.run_id);
  expect(parent?.data.tags).toEqual(expect.arrayContaining([{ key: 'mlfleet.reused_launch', value: first.launch_id }]));
  const stored = await getLaunch(ctx.pool, reexecuted.launch_id);
  expect(stored?.stages.map((s) => [s.stage, s.source])).toEqual([
    ['s1', 'reused'],
    ['s2', 'reused'],
    ['s3', 'ran'],
    ['s4', 'ran'],
  ]);
}, 240_000);

test('a memoized result whose outputs are gone is forgotten: its stage runs again, and what reads it is not settled before it', async () => {
  const experiment = uniqueId('gone');
  const input: LaunchInput = { spec: pipeline()(experiment), code: { dir: codeDir() }, trigger: 'cli' };
  const first = await run(input);
  const s2 = (await getLaunch(ctx.pool, first.launch_id))!.stages.find((s) => s.stage === 's2')!;
  rmSync(filePathOf(s2.outputs.out!), { force: true });

  const again = await run(input);
  // s2 writes the same bytes again, so s3 and s4 find their results under the same keys, but only
  // once s2 has run: their stage workflows looked them up, the launch's opening did not.
  expect(sources(again)).toEqual(['cached', 'ran', 'cached', 'cached']);
  await expect(ctx.client.workflow.getHandle(stageWorkflowId(again.launch_id, 's3')).describe()).resolves.toBeDefined();
  expect(await outputOf(again, 's4')).toBe('s1\ns2 p=1\ns3\ns4\n');
  // The entry names the run whose outputs are stored.
  const entries = await ctx.pool.query(
    'SELECT m.run_id FROM memo_entries m JOIN experiments e USING (experiment_id) WHERE e.name = $1 AND m.stage = $2',
    [experiment, 's2'],
  );
  expect(entries.rows).toEqual([{ run_id: again.stages[1]!.run_id }]);
}, 120_000);

test('a stage with cache disabled always runs, and a failed stage is never memoized', async () => {
  const experiment = uniqueId('nocache');
  const spec = { experiment, stages: { always: { command: 'date +%N > ${outputs.t}', outputs: { t: 't.txt' }, cache: { enabled: false } } } };
  expect(sources(await run({ spec, trigger: 'cli' }))).toEqual(['ran']);
  expect(sources(await run({ spec, trigger: 'cli' }))).toEqual(['ran']);

  const flag = join(ctx.dataDir, uniqueId('flag'));
  const flaky = { experiment, stages: { flaky: { command: `test -f ${flag} && echo ok > \${outputs.o}`, outputs: { o: 'o.txt' } } } };
  await expect(run({ spec: flaky, trigger: 'cli' })).rejects.toBeInstanceOf(WorkflowFailedError);
  writeFileSync(flag, '');
  expect(sources(await run({ spec: flaky, trigger: 'cli' }))).toEqual(['ran']);
  expect(sources(await run({ spec: flaky, trigger: 'cli' }))).toEqual(['cached']);
}, 120_000);

test('concurrent launches of one pipeline: both finish with correct outputs, and the memo holds one result per stage', async () => {
  const experiment = uniqueId('race');
  const dir = codeDir();
  const input = (): LaunchInput => ({ spec: pipeline()(experiment), code: { dir }, trigger: 'cli' });
  const [a, b] = await Promise.all([run(input()), run(input())]);
  for (const result of [a, b]) {
    expect(result.status).toBe('FINISHED');
    expect(await outputOf(result, 's4')).toBe('s1\ns2 p=1\ns3\ns4\n');
  }
  const { rows } = await ctx.pool.query<{ stage: string; entries: number }>(
    `SELECT m.stage, count(*)::int AS entries FROM memo_entries m JOIN experiments e USING (experiment_id)
     WHERE e.name = $1 GROUP BY m.stage ORDER BY m.stage`,
    [experiment],
  );
  expect(rows).toEqual(['s1', 's2', 's3', 's4'].map((stage) => ({ stage, entries: 1 })));
  // The memo points at runs of either launch, consistently: a third launch takes every stage from it.
  const third = await run(input());
  expect(sources(third)).toEqual(['cached', 'cached', 'cached', 'cached']);
  const runsOfRaces = new Set([...a.stages, ...b.stages].map((s) => s.run_id));
  for (const stage of third.stages) expect(runsOfRaces.has(stage.cached_from!)).toBe(true);
  expect(await outputOf(third, 's4')).toBe('s1\ns2 p=1\ns3\ns4\n');
}, 180_000);

test('entries of one stage share a material digest and each launch takes the one its upstream outputs key; entries without it are still found', async () => {
  const experiment = uniqueId('material');
  const dir = codeDir();
  const input = (p: number): LaunchInput => ({ spec: pipeline({ p })(experiment), code: { dir }, trigger: 'cli' });
  await run(input(1));
  expect(sources(await run(input(2)))).toEqual(['cached', 'ran', 'ran', 'ran']);
  const entries = async () =>
    (
      await ctx.pool.query<{ stage: string; material_digest: string | null }>(
        `SELECT m.stage, m.material_digest FROM memo_entries m JOIN experiments e USING (experiment_id) WHERE e.name = $1 ORDER BY m.stage`,
        [experiment],
      )
    ).rows;
  const registered = await entries();
  expect(registered.map((e) => e.stage)).toEqual(['s1', 's2', 's2', 's3', 's3', 's4', 's4']);
  const digestsOf = (stage: string) => new Set(registered.filter((e) => e.stage === stage).map((e) => e.material_digest));
  // s3 and s4 did not change: both entries of each share one digest. s2's param is its material.
  expect(digestsOf('s3').size).toBe(1);
  expect(digestsOf('s4').size).toBe(1);
  expect(digestsOf('s2').size).toBe(2);
  expect(registered.every((e) => /^sha256:[0-9a-f]{64}$/.test(e.material_digest ?? ''))).toBe(true);

  for (const p of [1, 2]) {
    const again = await run(input(p));
    expect(sources(again)).toEqual(['cached', 'cached', 'cached', 'cached']);
    expect(await outputOf(again, 's4')).toBe(`s1\ns2 p=${p}\ns3\ns4\n`);
  }

  // Entries written before the column existed have none: found by their key, and given one when registered again.
  await ctx.pool.query('UPDATE memo_entries SET material_digest = NULL WHERE experiment_id = (SELECT experiment_id FROM experiments WHERE name = $1)', [experiment]);
  const legacy = await run(input(1));
  expect(sources(legacy)).toEqual(['cached', 'cached', 'cached', 'cached']);
  expect(await outputOf(legacy, 's4')).toBe('s1\ns2 p=1\ns3\ns4\n');
  expect(sources(await run({ ...input(1), refresh: ['s4'] }))).toEqual(['cached', 'cached', 'cached', 'ran']);
  expect((await entries()).filter((e) => e.material_digest !== null).map((e) => e.stage)).toEqual(['s4']);
}, 240_000);

test('a retried opening of a fully cached launch writes the same runs once and records its end', async () => {
  const experiment = uniqueId('reopen');
  const input: LaunchInput = { spec: pipeline()(experiment), code: { dir: codeDir() }, trigger: 'cli' };
  await run(input);
  const activities = createActivities({
    pool: ctx.pool,
    store: createStorage().objects,
    artifactRoot: ctx.artifactRoot,
    trackingUri: 'http://127.0.0.1:9',
    provider: new LocalProvider(join(ctx.dataDir, 'reopen-work')),
  });
  const launchId = uniqueId('reopened');
  const opening = { input, launchId, workflowId: launchWorkflowId(launchId), runId: newRunId() };
  // As a worker that died after the activity's writes would leave it: the retry runs it again.
  const openLaunch = (): Promise<OpenedLaunch> => new MockActivityEnvironment().run((o: typeof opening) => activities.openLaunch(o), opening);
  const first = await openLaunch();
  const retried = await openLaunch();
  expect(first.finished).toBe(true);
  expect(retried.stages.map((s) => s.runId)).toEqual(first.stages.map((s) => s.runId));
  expect(Object.values(retried.settled ?? {}).map((s) => s.source)).toEqual(['cached', 'cached', 'cached', 'cached']);
  const { rows } = await ctx.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM tags WHERE key = 'mlfleet.launch_id' AND value = $1", [launchId]);
  expect(rows[0]?.n).toBe(5); // the launch run and its four stage runs, once each
  const stored = await getLaunch(ctx.pool, launchId);
  expect(stored?.status).toBe('FINISHED');
  expect((await getRun(ctx.pool, opening.runId))?.info.status).toBe('FINISHED');
});

describe('re-execution checks: nothing starts', () => {
  const post = (body: unknown) => httpRequest(baseUrl, 'POST', '/api/v1/launches', body);
  const launchCount = async (experiment: string): Promise<number> =>
    (await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM launches l JOIN experiments e USING (experiment_id) WHERE e.name = $1', [experiment])).rows[0]!.n;

  test('unknown stages, unknown launches, missing outputs, and from without reuse are 400s', async () => {
    const experiment = uniqueId('reuse');
    const dir = codeDir();
    const first = await run({ spec: pipeline()(experiment), code: { dir }, trigger: 'cli' });
    const spec = pipeline()(experiment);
    const cases: Array<[unknown, string]> = [
      [{ spec, from: 'nope', reuse: first.launch_id }, "from: unknown stage 'nope'"],
      [{ spec, refresh: ['s1', 'ghost'] }, "refresh[1]: unknown stage 'ghost'"],
      [{ spec, from: 's3' }, 'reuse: from and reuse go together'],
      [{ spec, from: 's3', reuse: 'no-such-launch' }, "reuse: unknown launch 'no-such-launch'"],
      [{ spec, from: 's3', reuse: 'bad id!' }, 'reuse: invalid launch id'],
    ];
    for (const [body, message] of cases) {
      const reply = await post(body);
      expect({ status: reply.statusCode, message: reply.json<{ message?: string }>().message }).toEqual({ status: 400, message });
    }
    // An output of an upstream stage that is gone.
    const s2 = (await getLaunch(ctx.pool, first.launch_id))!.stages.find((s) => s.stage === 's2')!;
    rmSync(filePathOf(s2.outputs.out!), { recursive: true, force: true });
    const reply = await post({ spec, from: 's3', reuse: first.launch_id });
    expect(reply.statusCode).toBe(400);
    expect(reply.json<{ message: string }>().message).toBe(
      `reuse: output 'out' of stage 's2' of launch ${first.launch_id} is no longer stored (${s2.outputs.out})`,
    );
    expect(await launchCount(experiment)).toBe(1);
    // The workflow checks it too (a launch started from Temporal directly): it fails before any stage starts.
    const { handle, launchId } = await launch(ctx.client, taskQueue, { spec, from: 's3', reuse: first.launch_id, trigger: 'temporal' });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await getLaunch(ctx.pool, launchId)).toBeUndefined();
  }, 120_000);
});
