import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getLaunchProgress, listStageAttempts } from '../../store/launches';
import { launchProgressQuery } from '../../workflows/definitions';
import { launch, makeCodeDir, uniqueId } from '../helpers/launches';
import { testEnv } from '../helpers/services';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

const repoRoot = join(__dirname, '..', '..');
let ctx: WorkflowTestContext;
const taskQueue = uniqueId('crash');
const workers: ChildProcess[] = [];

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await ctx.close();
});

/** `mlfleet worker` as its own process, so it can be killed for real. */
function startWorkerProcess(): ChildProcess {
  const env = testEnv();
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'mlfleet.cjs'), 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      TEMPORAL_ADDRESS: env.temporalAddress,
      MLFLEET_TASK_QUEUE: taskQueue,
      MLFLEET_DATA_DIR: ctx.dataDir,
      MLFLEET_ARTIFACT_ROOT: ctx.artifactRoot,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  workers.push(child);
  return child;
}

test('a worker killed with SIGKILL mid-stage is replaced and the launch completes with exactly one run per stage', async () => {
  const counter = join(ctx.dataDir, `${uniqueId('runs')}.log`);
  const spec = {
    experiment: uniqueId('crash'),
    stages: {
      first: { command: `echo first >> ${counter}; sleep 6; printf done > \${outputs.o}`, outputs: { o: 'out/o.txt' } },
      second: { command: `echo second >> ${counter}; cat \${inputs.o} > \${outputs.p}`, inputs: { o: 'stages.first.outputs.o' }, outputs: { p: 'out/p.txt' } },
    },
  };
  const first = startWorkerProcess();
  const { launchId, handle } = await launch(ctx.client, taskQueue, { spec, code: { dir: makeCodeDir(ctx.dataDir) } });
  await eventually(() => (existsSync(counter) ? true : undefined), 90_000, 'the first stage to start');
  const progress = await handle.query(launchProgressQuery);
  expect(progress.stages[0]?.status).toBe('RUNNING');

  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  startWorkerProcess();

  const result = await handle.result();
  expect(result.status).toBe('FINISHED');
  // The stage process outlived the worker and was adopted, not started again.
  expect(readFileSync(counter, 'utf8')).toBe('first\nsecond\n');
  const { rows } = await ctx.pool.query<{ stage: string | null; n: number }>(
    `SELECT s.value AS stage, count(*)::int AS n
       FROM tags l LEFT JOIN tags s ON s.run_uuid = l.run_uuid AND s.key = 'mlfleet.stage'
      WHERE l.key = 'mlfleet.launch_id' AND l.value = $1
      GROUP BY s.value ORDER BY s.value NULLS FIRST`,
    [launchId],
  );
  expect(rows).toEqual([
    { stage: null, n: 1 },
    { stage: 'first', n: 1 },
    { stage: 'second', n: 1 },
  ]);
  expect((await getLaunchProgress(ctx.pool, launchId))?.stages.map((s) => s.status)).toEqual(['FINISHED', 'FINISHED']);
  // The attempt that died with its worker is closed as such; the adopting attempt finished.
  const attempts = await listStageAttempts(ctx.pool, launchId, 'first');
  expect(attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
    [1, 'FAILED', 'abandoned: its worker stopped without recording an outcome'],
    [2, 'FINISHED', undefined],
  ]);
}, 180_000);
