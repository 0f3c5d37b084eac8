import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { getOrCreateExperiment } from '../../store/experiments';
import {
  LaunchNotFoundError,
  getLaunch,
  getLaunchProgress,
  insertLaunch,
  listStageAttempts,
  recordStageAttempt,
  setLaunchStatus,
  stageNamesOf,
  upsertStageRun,
  type InsertLaunchInput,
} from '../../store/launches';
import { createPool } from '../../store/pool';
import { logMetrics } from '../../store/metrics';
import { createRun } from '../../store/run-writes';
import { testEnv } from '../helpers/services';
import { newRunId } from '../helpers/run-ids';

// Names whose jsonb key order (shorter keys first) differs from the spec's order.
const SPEC = {
  experiment: 'churn',
  stages: {
    prepare_features: { command: 'python prepare.py' },
    train: { command: 'python train.py' },
    ev: { command: 'python eval.py' },
  },
};

let pool: pg.Pool;
let experimentId: string;

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  experimentId = (await getOrCreateExperiment(pool, `launches-${randomUUID()}`, 'file:///tmp/artifacts')).experiment_id;
});

afterAll(async () => {
  await pool.end();
});

async function newRun(tags: Record<string, string> = {}): Promise<string> {
  const runId = newRunId();
  await createRun(pool, { runId, experimentId, name: 'r', userId: 'u', startTime: 1, artifactUri: 'file:///a', tags });
  return runId;
}

async function newLaunch(overrides: Partial<InsertLaunchInput> = {}): Promise<InsertLaunchInput> {
  const launchId = randomUUID();
  const input: InsertLaunchInput = {
    launchId,
    workflowId: `launch-${launchId}`,
    experimentId,
    runId: await newRun(),
    trigger: 'cli',
    spec: SPEC,
    params: { 'train.epochs': 3 },
    codeDigest: 'sha256:abc',
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
  await insertLaunch(pool, input);
  return input;
}

describe('launches store', () => {
  test('insertLaunch is idempotent and keeps the spec order of stages', async () => {
    const input = await newLaunch({ runId: undefined });
    const runId = await newRun();
    const replay = await insertLaunch(pool, { ...input, runId, trigger: 'api', createdAt: 5 });
    expect(replay).toEqual({
      launchId: input.launchId,
      workflowId: input.workflowId,
      experimentId,
      runId, // filled in by the replay, since the first insert did not know it
      status: 'RUNNING',
      trigger: 'cli',
      spec: SPEC,
      stageNames: ['prepare_features', 'train', 'ev'],
      params: { 'train.epochs': 3 },
      codeDigest: 'sha256:abc',
      createdAt: 1_700_000_000_000,
    });
    expect(await getLaunch(pool, input.launchId)).toEqual({ ...replay, stages: [] });
    expect(await getLaunch(pool, randomUUID())).toBeUndefined();
  });

  test('stageNamesOf reads mappings and lists', () => {
    expect(stageNamesOf(SPEC)).toEqual(['prepare_features', 'train', 'ev']);
    expect(stageNamesOf({ stages: [{ name: 'b' }, { name: 'a' }] })).toEqual(['b', 'a']);
    expect(stageNamesOf(null)).toEqual([]);
  });

  test('setLaunchStatus never overwrites an ended launch', async () => {
    const { launchId } = await newLaunch();
    expect(await setLaunchStatus(pool, launchId, 'FAILED', 2000, 'stage train failed')).toBe('FAILED');
    expect(await setLaunchStatus(pool, launchId, 'FINISHED', 3000)).toBe('FAILED');
    expect(await setLaunchStatus(pool, launchId, 'RUNNING')).toBe('FAILED');
    expect(await getLaunch(pool, launchId)).toMatchObject({ status: 'FAILED', endedAt: 2000, error: 'stage train failed' });
    await expect(setLaunchStatus(pool, randomUUID(), 'KILLED')).rejects.toBeInstanceOf(LaunchNotFoundError);
  });

  test('upsertStageRun moves forward and never back from an ended status', async () => {
    const { launchId } = await newLaunch();
    const runId = await newRun();
    const base = { launchId, stage: 'train', runId, workflowId: `${launchId}/train` };
    expect(await upsertStageRun(pool, { ...base, status: 'PENDING' })).toMatchObject({ status: 'PENDING', attempts: 0, outputs: {} });
    await upsertStageRun(pool, { ...base, status: 'RUNNING', startedAt: 100 });
    expect(await upsertStageRun(pool, { ...base, status: 'PENDING' })).toMatchObject({ status: 'RUNNING', startedAt: 100 });
    await upsertStageRun(pool, {
      ...base,
      status: 'FINISHED',
      endedAt: 400,
      exitCode: 0,
      outputs: { model: 's3://b/model/' },
    });
    // A replayed "started" after the end changes nothing.
    const replayed = await upsertStageRun(pool, { ...base, status: 'RUNNING', startedAt: 999, outputs: {} });
    expect(replayed).toEqual({
      ...base,
      status: 'FINISHED',
      startedAt: 100,
      endedAt: 400,
      exitCode: 0,
      outputs: { model: 's3://b/model/' },
      outputDigests: {},
      source: 'ran',
      inputDigests: {},
      attempts: 0,
    });
  });

  test('upsertStageRun keeps how a stage got its result: source, digests and cache key, once ended', async () => {
    const { launchId } = await newLaunch();
    const runId = await newRun();
    const base = { launchId, stage: 'train', runId };
    await upsertStageRun(pool, { ...base, status: 'RUNNING', startedAt: 1 });
    const ended = await upsertStageRun(pool, {
      ...base,
      status: 'FINISHED',
      endedAt: 2,
      source: 'cached',
      sourceRunId: 'r0',
      cacheKey: 'sha256:k',
      outputs: { model: 's3://b/m' },
      outputDigests: { model: 'sha256:m' },
      inputDigests: { data: 'sha256:d' },
    });
    expect(ended).toMatchObject({ source: 'cached', sourceRunId: 'r0', cacheKey: 'sha256:k', outputDigests: { model: 'sha256:m' }, inputDigests: { data: 'sha256:d' } });
    // A late write (a replayed finish of another kind) changes none of it.
    const replayed = await upsertStageRun(pool, { ...base, status: 'FINISHED', source: 'ran', cacheKey: 'sha256:other', outputDigests: { model: 'sha256:x' }, inputDigests: { data: 'sha256:y' } });
    expect(replayed).toMatchObject({ source: 'cached', sourceRunId: 'r0', cacheKey: 'sha256:k', outputDigests: { model: 'sha256:m' }, inputDigests: { data: 'sha256:d' } });
    const progress = await getLaunchProgress(pool, launchId);
    expect(progress?.stages.find((s) => s.name === 'train')).toMatchObject({ source: 'cached', cached_from: 'r0', cache_key: 'sha256:k', input_digests: { data: 'sha256:d' } });
  });

  test('recordStageAttempt upserts attempts and counts them on the stage', async () => {
    const { launchId } = await newLaunch();
    await upsertStageRun(pool, { launchId, stage: 'train', runId: await newRun(), status: 'RUNNING' });
    const attempt1 = { launchId, stage: 'train', attempt: 1, provider: 'aws' };
    await recordStageAttempt(pool, { ...attempt1, status: 'RUNNING', startedAt: 10 });
    await recordStageAttempt(pool, { ...attempt1, status: 'PREEMPTED', endedAt: 20, error: 'spot interruption' });
    // A late replay of attempt 1's start keeps its outcome.
    await recordStageAttempt(pool, { ...attempt1, status: 'RUNNING', startedAt: 10 });
    await recordStageAttempt(pool, { launchId, stage: 'train', attempt: 2, provider: 'gcp', status: 'RUNNING', startedAt: 30 });

    expect(await listStageAttempts(pool, launchId, 'train')).toEqual([
      { ...attempt1, status: 'PREEMPTED', startedAt: 10, endedAt: 20, error: 'spot interruption' },
      { launchId, stage: 'train', attempt: 2, provider: 'gcp', status: 'RUNNING', startedAt: 30 },
    ]);
    expect((await getLaunch(pool, launchId))?.stages[0]?.attempts).toBe(2);
  });

  test('getLaunchProgress lists every stage in spec order, with durations', async () => {
    const { launchId, runId } = await newLaunch();
    const prepareRun = await newRun();
    const trainRun = await newRun();
    await upsertStageRun(pool, {
      launchId,
      stage: 'prepare_features',
      runId: prepareRun,
      status: 'FINISHED',
      startedAt: 1000,
      endedAt: 4000,
      exitCode: 0,
    });
    await upsertStageRun(pool, { launchId, stage: 'train', runId: trainRun, status: 'RUNNING', startedAt: 5000 });

    expect(await getLaunchProgress(pool, launchId)).toEqual({
      launch_id: launchId,
      experiment_id: experimentId,
      run_id: runId,
      status: 'RUNNING',
      stages: [
        { name: 'prepare_features', run_id: prepareRun, status: 'FINISHED', started_at: 1000, ended_at: 4000, duration_s: 3, exit_code: 0, source: 'ran' },
        { name: 'train', run_id: trainRun, status: 'RUNNING', started_at: 5000 },
        { name: 'ev', run_id: '', status: 'PENDING' },
      ],
    });

    // The stage's own reported duration wins over the wall-clock difference.
    await logMetrics(pool, prepareRun, [{ key: 'mlfleet.duration_s', value: 2.5, timestamp: 1 }]);
    await upsertStageRun(pool, { launchId, stage: 'train', runId: trainRun, status: 'FAILED', endedAt: 6000, exitCode: 1, error: 'boom' });
    await setLaunchStatus(pool, launchId, 'FAILED', 6000, 'stage train failed');

    const progress = await getLaunchProgress(pool, launchId);
    expect(progress).toMatchObject({ status: 'FAILED', error: 'stage train failed' });
    expect(progress?.stages).toEqual([
      { name: 'prepare_features', run_id: prepareRun, status: 'FINISHED', started_at: 1000, ended_at: 4000, duration_s: 2.5, exit_code: 0, source: 'ran' },
      { name: 'train', run_id: trainRun, status: 'FAILED', started_at: 5000, ended_at: 6000, duration_s: 1, exit_code: 1, error: 'boom', source: 'ran' },
      { name: 'ev', run_id: '', status: 'SKIPPED' },
    ]);
    expect(await getLaunchProgress(pool, randomUUID())).toBeUndefined();
  });
});
