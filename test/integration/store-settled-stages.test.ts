import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeDatasetInputs } from '../../store/datasets';
import { getOrCreateExperiment } from '../../store/experiments';
import { getLaunch, insertLaunch } from '../../store/launches';
import { createPool, withTransaction } from '../../store/pool';
import { getRun } from '../../store/run-reads';
import { createRun } from '../../store/run-writes';
import { recordSettledStages, type SettledStageRecord } from '../../store/settled-stages';
import { launchWorkflowId } from '../../workflows/ids';
import { testEnv } from '../helpers/services';
import { newRunId } from '../helpers/run-ids';

let pool: pg.Pool;
let experimentId: string;

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  experimentId = (await getOrCreateExperiment(pool, `settled-${randomUUID()}`, 'file:///tmp/artifacts')).experiment_id;
});

afterAll(async () => {
  await pool.end();
});

async function newLaunch(): Promise<{ launchId: string; runId: string }> {
  const launchId = randomUUID();
  const runId = newRunId();
  await createRun(pool, { runId, experimentId, name: 'launch', userId: 'u', startTime: 1, artifactUri: 'file:///a', tags: {} });
  await insertLaunch(pool, {
    launchId,
    workflowId: launchWorkflowId(launchId),
    experimentId,
    runId,
    trigger: 'api',
    spec: { experiment: 'e', stages: { a: { command: 'true' }, b: { command: 'true' } } },
    params: {},
    createdAt: 1,
  });
  return { launchId, runId };
}

function settled(launchId: string, stage: string, overrides: Partial<SettledStageRecord> = {}): SettledStageRecord {
  return {
    launchId,
    stage,
    runId: newRunId(),
    experimentId,
    workflowId: launchWorkflowId(launchId),
    userId: 'worker',
    artifactUri: `file:///a/${stage}`,
    time: 1_700_000_000_000,
    tags: { 'mlfleet.stage': stage, 'mlfleet.cached_from': 'earlier' },
    params: { lr: '0.1' },
    source: 'cached',
    sourceRunId: 'earlier',
    cacheKey: `sha256:${stage}`,
    outputs: { out: `file:///o/${stage}` },
    outputDigests: { out: `sha256:o-${stage}` },
    inputDigests: {},
    ...overrides,
  };
}

test('settled stages are born FINISHED with their tags, params, zero duration and cost, and stage rows', async () => {
  const { launchId } = await newLaunch();
  const a = settled(launchId, 'a');
  const b = settled(launchId, 'b', { source: 'reused', sourceRunId: 'older', cacheKey: undefined, params: {}, inputDigests: { in: 'sha256:o-a' } });
  await recordSettledStages(pool, [a, b]);

  const run = await getRun(pool, a.runId);
  expect(run?.info).toMatchObject({ status: 'FINISHED', start_time: a.time, end_time: a.time, run_name: 'a', user_id: 'worker', artifact_uri: 'file:///a/a' });
  expect(run?.data.tags).toEqual(
    expect.arrayContaining([
      { key: 'mlflow.runName', value: 'a' },
      { key: 'mlflow.user', value: 'worker' },
      { key: 'mlfleet.cached_from', value: 'earlier' },
    ]),
  );
  expect(run?.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
  expect(Object.fromEntries(run!.data.metrics.map((m) => [m.key, m.value]))).toEqual({ 'mlfleet.duration_s': 0, 'mlfleet.cost_usd': 0 });

  const stages = new Map((await getLaunch(pool, launchId))!.stages.map((s) => [s.stage, s]));
  expect(stages.get('a')).toMatchObject({ runId: a.runId, status: 'FINISHED', source: 'cached', sourceRunId: 'earlier', cacheKey: 'sha256:a', outputs: a.outputs });
  expect(stages.get('b')).toMatchObject({ runId: b.runId, status: 'FINISHED', source: 'reused', sourceRunId: 'older', inputDigests: { in: 'sha256:o-a' } });
});

test('a replayed write adds nothing and changes nothing', async () => {
  const { launchId } = await newLaunch();
  const a = settled(launchId, 'a');
  await recordSettledStages(pool, [a]);
  await recordSettledStages(pool, [{ ...a, time: a.time + 5_000, tags: { 'mlfleet.stage': 'other' }, params: { lr: '9' } }]);
  const run = await getRun(pool, a.runId);
  expect(run?.info.end_time).toBe(a.time);
  expect(run?.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
  expect(run?.data.tags).toEqual(expect.arrayContaining([{ key: 'mlfleet.stage', value: 'a' }]));
  expect(run?.data.metrics).toHaveLength(2);
});

test('dataset inputs of several runs go in at once: one dataset shared, each run linked once', async () => {
  const { launchId } = await newLaunch();
  const a = settled(launchId, 'a');
  const b = settled(launchId, 'b');
  await recordSettledStages(pool, [a, b]);
  const dataset = { name: 'in', digest: `sha256:${randomUUID()}`, source_type: 'mlfleet_snapshot', source: '{}' };
  const input = { dataset, tags: [{ key: 'mlflow.data.context', value: 'input' }] };
  await withTransaction(pool, (tx) =>
    writeDatasetInputs(tx, experimentId, [
      { runId: a.runId, datasetInputs: [input, input] },
      { runId: b.runId, datasetInputs: [input] },
    ]),
  );
  for (const runId of [a.runId, b.runId]) {
    const run = await getRun(pool, runId);
    expect(run?.inputs.dataset_inputs.map((i) => [i.dataset.name, i.dataset.digest, i.tags])).toEqual([['in', dataset.digest, input.tags]]);
  }
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM datasets WHERE experiment_id = $1 AND digest = $2', [experimentId, dataset.digest]);
  expect(rows[0]).toEqual({ n: 1 });
});
