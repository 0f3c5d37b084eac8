import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { getLaunchProgress, listStageAttempts } from '../../store/launches';
import { getRun, listChildRuns } from '../../store/run-reads';
import { filePathOf } from '../../storage/file-store';
import { launchProgressQuery } from '../../workflows/definitions';
import { recordHistories } from '../helpers/histories';
import { isAlive, launch, makeCodeDir, uniqueId } from '../helpers/launches';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

let ctx: WorkflowTestContext;
const taskQueue = uniqueId('launch-wf');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
});

afterAll(async () => {
  await ctx.close();
});

const pidFile = (name: string): string => join(ctx.dataDir, `${uniqueId(name)}.pid`);
const readPid = (file: string): number => Number(readFileSync(file, 'utf8').trim());

test('a DAG with a parallel fan-out completes; data flows between stages; one child run per stage', async () => {
  const spec = {
    experiment: uniqueId('fanout'),
    stages: {
      source: { command: 'sh hello.sh > ${outputs.log}; printf "1 2 3" > ${outputs.numbers}', outputs: { numbers: 'out/numbers.txt', log: 'out/hello.txt' } },
      double: {
        command: 'sleep 1; for n in $(cat ${inputs.numbers}); do printf "%s " $((n * ${params.factor})); done > ${outputs.result}',
        inputs: { numbers: 'stages.source.outputs.numbers' },
        outputs: { result: 'out/double.txt' },
        params: { factor: 2 },
      },
      square: {
        command: 'sleep 1; for n in $(cat ${inputs.numbers}); do printf "%s " $((n * n)); done > ${outputs.result}',
        inputs: { numbers: 'stages.source.outputs.numbers' },
        outputs: { result: 'out/square.txt' },
      },
      combine: {
        command: 'cat ${inputs.a} ${inputs.b} > ${outputs.all}',
        inputs: { a: 'stages.double.outputs.result', b: 'stages.square.outputs.result' },
        outputs: { all: 'out/all.txt' },
      },
    },
  };
  const { launchId, handle } = await launch(ctx.client, taskQueue, {
    spec,
    params: { 'double.factor': 3 },
    code: { dir: makeCodeDir(ctx.dataDir) },
    trigger: 'cli',
  });
  const result = await handle.result();

  expect(result.status).toBe('FINISHED');
  expect(result.stages.map((s) => [s.name, s.status])).toEqual([
    ['source', 'FINISHED'],
    ['double', 'FINISHED'],
    ['square', 'FINISHED'],
    ['combine', 'FINISHED'],
  ]);
  const stage = (name: string) => result.stages.find((s) => s.name === name)!;
  // double and square ran side by side, not one after the other.
  expect(stage('double').started_at!).toBeLessThan(stage('square').ended_at!);
  expect(stage('square').started_at!).toBeLessThan(stage('double').ended_at!);

  const stored = await getLaunchProgress(ctx.pool, launchId);
  expect(stored?.status).toBe('FINISHED');
  expect(stored?.stages.map((s) => [s.name, s.run_id, s.status])).toEqual(result.stages.map((s) => [s.name, s.run_id, s.status]));

  for (const stage of ['source', 'double', 'square', 'combine']) {
    expect((await listStageAttempts(ctx.pool, launchId, stage)).map((a) => [a.attempt, a.provider, a.status, a.exitCode])).toEqual([
      [1, 'local', 'FINISHED', 0],
    ]);
  }

  const combine = await ctx.pool.query<{ outputs: Record<string, string> }>(
    'SELECT outputs FROM stage_runs WHERE launch_id = $1 AND stage = $2',
    [launchId, 'combine'],
  );
  expect(readFileSync(filePathOf(combine.rows[0]!.outputs.all!), 'utf8')).toBe('3 6 9 1 4 9 ');

  const parent = await getRun(ctx.pool, result.run_id);
  expect(parent?.info.status).toBe('FINISHED');
  const tags = Object.fromEntries(parent!.data.tags.map((t) => [t.key, t.value]));
  expect(tags['mlfleet.launch_id']).toBe(launchId);
  expect(tags['mlfleet.trigger']).toBe('cli');
  expect(tags['mlfleet.code_digest']).toMatch(/^sha256:[0-9a-f]{64}$/);

  const children = await listChildRuns(ctx.pool, result.run_id);
  expect(children.map((r) => r.info.run_name).sort()).toEqual(['combine', 'double', 'source', 'square']);
  for (const child of children) {
    expect(child.info.status).toBe('FINISHED');
    expect(child.data.metrics.find((m) => m.key === 'mlfleet.duration_s')?.value).toBeGreaterThan(0);
    expect(child.data.tags).toContainEqual({ key: 'mlflow.parentRunId', value: result.run_id });
  }
  const double = children.find((r) => r.info.run_name === 'double')!;
  expect(double.data.params).toContainEqual({ key: 'factor', value: '3' });
  // stdout of the stage command is kept as a run artifact.
  const source = children.find((r) => r.info.run_name === 'source')!;
  expect(existsSync(join(filePathOf(source.info.artifact_uri), 'logs', 'stdout.log'))).toBe(true);

  recordHistories('fanout', [handle.workflowId, `${handle.workflowId}/stage/double`]);
});

test('a failing stage fails its launch, cancels the running sibling and skips what depends on it', async () => {
  const slowPid = pidFile('slow');
  const spec = {
    experiment: uniqueId('failing'),
    stages: {
      source: { command: 'printf x > ${outputs.x}', outputs: { x: 'out/x' } },
      bad: { command: 'sleep 2; echo boom >&2; exit 3', inputs: { x: 'stages.source.outputs.x' }, outputs: { y: 'out/y' } },
      slow: { command: `echo $$ > ${slowPid}; sleep 60; printf z > \${outputs.z}`, inputs: { x: 'stages.source.outputs.x' }, outputs: { z: 'out/z' } },
      after: { command: 'true', inputs: { y: 'stages.bad.outputs.y', z: 'stages.slow.outputs.z' } },
    },
  };
  const started = Date.now();
  const { launchId, handle } = await launch(ctx.client, taskQueue, { spec });
  const failure = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause?.message).toContain("stage 'bad' failed: command exited with code 3");
  expect(Date.now() - started).toBeLessThan(40_000);

  const stored = await getLaunchProgress(ctx.pool, launchId);
  expect(stored?.status).toBe('FAILED');
  expect(stored?.stages.map((s) => [s.name, s.status])).toEqual([
    ['source', 'FINISHED'],
    ['bad', 'FAILED'],
    ['slow', 'KILLED'],
    ['after', 'SKIPPED'],
  ]);
  expect(isAlive(readPid(slowPid))).toBe(false);
  const runs = await listChildRuns(ctx.pool, stored!.run_id);
  expect(Object.fromEntries(runs.map((r) => [r.info.run_name, r.info.status]))).toEqual({ source: 'FINISHED', bad: 'FAILED', slow: 'KILLED' });
  expect((await getRun(ctx.pool, stored!.run_id))?.info.status).toBe('FAILED');

  recordHistories('failing', [handle.workflowId, `${handle.workflowId}/stage/bad`, `${handle.workflowId}/stage/slow`]);
});

test('cancelling a running launch stops its stage processes and marks the runs KILLED', async () => {
  const pid = pidFile('long');
  const spec = {
    experiment: uniqueId('cancel'),
    stages: {
      long: { command: `echo $$ > ${pid}; sleep 120`, outputs: { o: 'o.txt' } },
      later: { command: 'true', inputs: { never: 'stages.long.outputs.o' } },
    },
  };
  const { launchId, handle } = await launch(ctx.client, taskQueue, { spec });
  await eventually(() => (existsSync(pid) && readFileSync(pid, 'utf8').trim() ? true : undefined), 30_000, 'the stage process');
  const running = await handle.query(launchProgressQuery);
  expect(running.stages.find((s) => s.name === 'long')?.status).toBe('RUNNING');

  await handle.cancel();
  const failure = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(isAlive(readPid(pid))).toBe(false);

  const stored = await getLaunchProgress(ctx.pool, launchId);
  expect(stored?.status).toBe('KILLED');
  expect(stored?.stages.map((s) => [s.name, s.status])).toEqual([
    ['long', 'KILLED'],
    ['later', 'SKIPPED'],
  ]);
  expect((await getRun(ctx.pool, stored!.run_id))?.info.status).toBe('KILLED');
  const [longRun] = await listChildRuns(ctx.pool, stored!.run_id);
  expect(longRun?.info.status).toBe('KILLED');

  recordHistories('cancelled', [handle.workflowId, `${handle.workflowId}/stage/long`]);
});

test('starting a launch id that is already running returns that launch, not a second one', async () => {
  const spec = { experiment: uniqueId('idem'), stages: { only: { command: 'sleep 2' } } };
  const launchId = uniqueId('l');
  const first = await launch(ctx.client, taskQueue, { spec }, launchId);
  const second = await launch(ctx.client, taskQueue, { spec }, launchId);
  expect(second.handle.firstExecutionRunId).toBe(first.handle.firstExecutionRunId);
  await first.handle.result();
  const { rows } = await ctx.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM tags WHERE key = 'mlfleet.launch_id' AND value = $1", [launchId]);
  expect(rows[0]?.n).toBe(2); // the launch run and its one stage run
});

test('an invalid launch input fails the workflow at once and records nothing', async () => {
  const experiment = uniqueId('invalid');
  const spec = { experiment, stages: { a: { command: 'true', inputs: { x: 'stages.nope.outputs.y' } } } };
  // Well-typed but semantically invalid, as a hand-written Temporal CLI start could be.
  const { handle } = await launch(ctx.client, taskQueue, { spec });
  const failure = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect((failure as WorkflowFailedError).cause?.message).toContain("stages.a.inputs.x: unknown stage 'nope'");
  const { rows } = await ctx.pool.query('SELECT 1 FROM experiments WHERE name = $1', [experiment]);
  expect(rows).toHaveLength(0);
});
