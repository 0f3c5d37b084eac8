import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ExperimentNotFoundError, getOrCreateExperiment } from '../../store/experiments';
import { createPool, withTransaction } from '../../store/pool';
import { getMetricHistory, logMetrics } from '../../store/metrics';
import { getRun, getRunInfo, listChildRuns } from '../../store/run-reads';
import { RunNotFoundError } from '../../store/run-record';
import {
  ParamConflictError,
  createRun,
  endRun,
  endRunWithDuration,
  logParams,
  setRunStatus,
  setTags,
  updateRunInfo,
  type CreateRunInput,
} from '../../store/run-writes';
import { testEnv } from '../helpers/services';
import { newRunId } from '../helpers/run-ids';

let pool: pg.Pool;
let experimentId: string;

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  experimentId = (await getOrCreateExperiment(pool, `runs-${randomUUID()}`, 'file:///tmp/artifacts')).experiment_id;
});

afterAll(async () => {
  await pool.end();
});

function runInput(overrides: Partial<CreateRunInput> = {}): CreateRunInput {
  const runId = overrides.runId ?? newRunId();
  return {
    runId,
    experimentId,
    name: 'bold-run',
    userId: 'alice',
    startTime: 1_700_000_000_000,
    artifactUri: `file:///tmp/artifacts/${experimentId}/${runId}/artifacts`,
    ...overrides,
  };
}

async function metricPoints(runId: string, key: string): Promise<unknown[]> {
  const { rows } = await pool.query(
    'SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = $1 AND key = $2 ORDER BY timestamp, step, value',
    [runId, key],
  );
  return rows as unknown[];
}

describe('createRun', () => {
  test('creates the run in MLflow shape with the run name and user tags', async () => {
    const input = runInput({ tags: { 'mlfleet.stage': 'train', 'mlflow.runName': 'overridden' } });
    const run = await createRun(pool, input);
    expect(run).toEqual({
      info: {
        run_id: input.runId,
        run_uuid: input.runId,
        run_name: 'bold-run',
        experiment_id: experimentId,
        user_id: 'alice',
        status: 'RUNNING',
        start_time: 1_700_000_000_000,
        artifact_uri: input.artifactUri,
        lifecycle_stage: 'active',
      },
      data: {
        metrics: [],
        params: [],
        tags: [
          { key: 'mlfleet.stage', value: 'train' },
          { key: 'mlflow.runName', value: 'bold-run' },
          { key: 'mlflow.user', value: 'alice' },
        ],
      },
      inputs: { dataset_inputs: [] },
    });
    expect(run.info).not.toHaveProperty('end_time');
  });

  test('a replay returns the existing run without duplicating or changing anything', async () => {
    const input = runInput({ tags: { a: '1' } });
    const first = await createRun(pool, input);
    const replays = await Promise.all([
      createRun(pool, input),
      createRun(pool, { ...input, name: 'other-name', tags: { a: '2', b: '3' }, startTime: 1 }),
    ]);
    for (const replay of replays) expect(replay).toEqual(first);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM tags WHERE run_uuid = $1', [input.runId]);
    expect(rows[0]).toEqual({ n: 3 });
  });

  test('an unknown experiment is a typed error', async () => {
    await expect(createRun(pool, runInput({ experimentId: '987654321098' }))).rejects.toBeInstanceOf(ExperimentNotFoundError);
    await expect(createRun(pool, runInput({ experimentId: 'nope' }))).rejects.toBeInstanceOf(ExperimentNotFoundError);
  });

  test('a run can start SCHEDULED', async () => {
    const run = await createRun(pool, runInput({ status: 'SCHEDULED' }));
    expect(run.info.status).toBe('SCHEDULED');
    expect(await setRunStatus(pool, run.info.run_id, 'RUNNING')).toBe('RUNNING');
  });
});

describe('run status', () => {
  test('endRun ends a run once; a late replay cannot overwrite the outcome', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    expect(await endRun(pool, runId, 'FINISHED', 1_700_000_100_000)).toBe('FINISHED');
    expect(await endRun(pool, runId, 'FAILED', 1_700_000_200_000)).toBe('FINISHED');
    expect(await setRunStatus(pool, runId, 'RUNNING')).toBe('FINISHED');
    const info = await getRunInfo(pool, runId);
    expect(info).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_100_000 });
  });

  test('endRunWithDuration ends a run and logs its duration once: a replay answers the first end and logs nothing new', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    expect(await endRunWithDuration(pool, runId, 'FINISHED', 1_700_000_100_500, 'd')).toEqual({ startTime: 1_700_000_000_000, endTime: 1_700_000_100_500 });
    expect(await endRunWithDuration(pool, runId, 'FAILED', 1_700_000_200_000, 'd')).toEqual({ startTime: 1_700_000_000_000, endTime: 1_700_000_100_500 });
    expect(await getRunInfo(pool, runId)).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_100_500 });
    const point = { key: 'd', value: 100.5, timestamp: 1_700_000_100_500, step: 0 };
    expect((await getMetricHistory(pool, runId, 'd')).metrics).toEqual([point]);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([point]);
    expect(await endRunWithDuration(pool, newRunId(), 'FAILED', 1, 'd')).toBeUndefined();
  });

  test('endRunWithDuration leaves a later latest point of the key in place', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await logMetrics(pool, runId, [{ key: 'd', value: 7, timestamp: 1, step: 3 }]);
    await endRunWithDuration(pool, runId, 'FINISHED', 1_700_000_001_000, 'd');
    expect((await getMetricHistory(pool, runId, 'd')).metrics).toHaveLength(2);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([{ key: 'd', value: 7, timestamp: 1, step: 3 }]);
  });

  test('updateRunInfo follows MLflow: unguarded, and renames through the tag too', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await endRun(pool, runId, 'FINISHED', 5);
    // A client resuming a run moves it back to RUNNING.
    const info = await updateRunInfo(pool, runId, { status: 'RUNNING', runName: 'renamed' });
    expect(info).toMatchObject({ status: 'RUNNING', end_time: 5, run_name: 'renamed' });
    const run = await getRun(pool, runId);
    expect(run?.data.tags).toContainEqual({ key: 'mlflow.runName', value: 'renamed' });
    await expect(updateRunInfo(pool, newRunId(), { status: 'FAILED' })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  test('status changes of an unknown run are typed errors', async () => {
    await expect(endRun(pool, newRunId(), 'FAILED', 1)).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(setRunStatus(pool, newRunId(), 'RUNNING')).rejects.toBeInstanceOf(RunNotFoundError);
  });
});

describe('tags and params', () => {
  test('setTags upserts, last value wins, and mlflow.runName renames the run', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await setTags(pool, runId, { x: '1', y: '2' });
    await setTags(pool, runId, [
      { key: 'x', value: 'first' },
      { key: 'x', value: 'second' },
      { key: 'mlflow.runName', value: 'new-name' },
    ]);
    const run = await getRun(pool, runId);
    expect(run?.info.run_name).toBe('new-name');
    expect(run?.data.tags).toEqual(
      expect.arrayContaining([
        { key: 'x', value: 'second' },
        { key: 'y', value: '2' },
        { key: 'mlflow.runName', value: 'new-name' },
      ]),
    );
    await expect(setTags(pool, newRunId(), { a: 'b' })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  test('params are write-once: the same value is a no-op, a different value a conflict', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await logParams(pool, runId, { lr: '0.1', epochs: '10' });
    await logParams(pool, runId, { lr: '0.1' });

    const attempt = logParams(pool, runId, [
      { key: 'batch', value: '32' },
      { key: 'lr', value: '0.2' },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(ParamConflictError);
    await expect(attempt).rejects.toThrow(
      `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='${runId}'. Attempted logging new value '0.2'.`,
    );
    // The conflicting batch wrote nothing.
    const run = await getRun(pool, runId);
    expect(run?.data.params).toEqual([
      { key: 'epochs', value: '10' },
      { key: 'lr', value: '0.1' },
    ]);
    await expect(logParams(pool, newRunId(), { a: 'b' })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  test('concurrent different values for a new param: one wins, the other sees a conflict', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => logParams(pool, runId, { seed: String(i) })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ParamConflictError);
  });
});

describe('metrics', () => {
  test('latest metric: greatest step, then timestamp, then value; a late lower step does not replace it', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await logMetrics(pool, runId, [{ key: 'loss', value: 0.5, timestamp: 1000, step: 5 }]);
    await logMetrics(pool, runId, [{ key: 'loss', value: 0.9, timestamp: 9000, step: 3 }]);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([{ key: 'loss', value: 0.5, timestamp: 1000, step: 5 }]);

    // Same step, later timestamp wins; same step and timestamp, greater value wins.
    await logMetrics(pool, runId, [{ key: 'loss', value: 0.1, timestamp: 2000, step: 5 }]);
    await logMetrics(pool, runId, [{ key: 'loss', value: 0.05, timestamp: 2000, step: 5 }]);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([{ key: 'loss', value: 0.1, timestamp: 2000, step: 5 }]);
    await logMetrics(pool, runId, [{ key: 'loss', value: 0.3, timestamp: 2000, step: 5 }]);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([{ key: 'loss', value: 0.3, timestamp: 2000, step: 5 }]);
    expect(await metricPoints(runId, 'loss')).toHaveLength(5);
  });

  test('one batch picks its own latest point per key', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await logMetrics(pool, runId, [
      { key: 'acc', value: 0.7, timestamp: 3, step: 2 },
      { key: 'acc', value: 0.9, timestamp: 1, step: 9 },
      { key: 'acc', value: 0.8, timestamp: 2, step: 4 },
      { key: 'f1', value: 0.2, timestamp: 5 },
    ]);
    expect((await getRun(pool, runId))?.data.metrics).toEqual([
      { key: 'acc', value: 0.9, timestamp: 1, step: 9 },
      { key: 'f1', value: 0.2, timestamp: 5, step: 0 },
    ]);
  });

  test('replayed points are not duplicated, in a later call or within one batch', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    const batch = [
      { key: 'loss', value: 1, timestamp: 10, step: 0 },
      { key: 'loss', value: 0.5, timestamp: 20, step: 1 },
      { key: 'loss', value: 0.5, timestamp: 20, step: 1 },
    ];
    await logMetrics(pool, runId, batch);
    await logMetrics(pool, runId, batch);
    await Promise.all([logMetrics(pool, runId, batch), logMetrics(pool, runId, batch)]);
    expect(await metricPoints(runId, 'loss')).toEqual([
      { value: 1, timestamp: 10, step: 0, is_nan: false },
      { value: 0.5, timestamp: 20, step: 1, is_nan: false },
    ]);
  });

  test('NaN and ±Infinity round-trip; NaN is stored as 0 with is_nan', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await logMetrics(pool, runId, [
      { key: 'nan', value: Number.NaN, timestamp: 1 },
      { key: 'nan', value: Number.NaN, timestamp: 1 },
      { key: 'pos_inf', value: Infinity, timestamp: 1 },
      { key: 'neg_inf', value: -Infinity, timestamp: 1 },
    ]);
    const metrics = (await getRun(pool, runId))?.data.metrics;
    expect(metrics).toEqual([
      { key: 'nan', value: Number.NaN, timestamp: 1, step: 0 },
      { key: 'neg_inf', value: -Infinity, timestamp: 1, step: 0 },
      { key: 'pos_inf', value: Infinity, timestamp: 1, step: 0 },
    ]);
    expect(await metricPoints(runId, 'nan')).toEqual([{ value: 0, timestamp: 1, step: 0, is_nan: true }]);
  });

  test('metrics for an unknown run are a typed error', async () => {
    await expect(logMetrics(pool, newRunId(), [{ key: 'x', value: 1, timestamp: 1 }])).rejects.toBeInstanceOf(RunNotFoundError);
  });

  test('writes compose inside one transaction', async () => {
    const { runId } = runInput();
    await createRun(pool, runInput({ runId }));
    await expect(
      withTransaction(pool, async (tx) => {
        await logMetrics(tx, runId, [{ key: 'm', value: 1, timestamp: 1 }]);
        await logParams(tx, runId, { p: '1' });
        await logParams(tx, runId, { p: '2' });
      }),
    ).rejects.toBeInstanceOf(ParamConflictError);
    const run = await getRun(pool, runId);
    expect(run?.data).toEqual({ metrics: [], params: [], tags: expect.any(Array) as unknown });
  });
});

describe('reading runs', () => {
  test('getRun of an unknown run is undefined', async () => {
    expect(await getRun(pool, newRunId())).toBeUndefined();
    expect(await getRunInfo(pool, newRunId())).toBeUndefined();
  });

  test('listChildRuns returns the runs tagged with the parent, each with its own data', async () => {
    const parent = await createRun(pool, runInput());
    const parentId = parent.info.run_id;
    const children = [];
    for (const [i, stage] of ['prepare', 'train', 'eval'].entries()) {
      children.push(
        await createRun(
          pool,
          runInput({ name: stage, startTime: 1_700_000_000_000 + i, tags: { 'mlflow.parentRunId': parentId, 'mlfleet.stage': stage } }),
        ),
      );
    }
    const [prepare, train] = children;
    await logParams(pool, train!.info.run_id, { epochs: '3' });
    await logMetrics(pool, prepare!.info.run_id, [{ key: 'rows', value: 100, timestamp: 1 }]);
    // Another parent's child must not show up.
    await createRun(pool, runInput({ tags: { 'mlflow.parentRunId': newRunId() } }));

    const listed = await listChildRuns(pool, parentId);
    expect(listed.map((r) => r.info.run_name)).toEqual(['eval', 'train', 'prepare']);
    expect(listed[1]?.data.params).toEqual([{ key: 'epochs', value: '3' }]);
    expect(listed[2]?.data.metrics).toEqual([{ key: 'rows', value: 100, timestamp: 1, step: 0 }]);
    expect(listed[0]?.data.params).toEqual([]);
    expect(await listChildRuns(pool, newRunId())).toEqual([]);
  });

  test('dataset inputs are read in MLflow shape', async () => {
    const run = await createRun(pool, runInput());
    const datasetId = randomUUID();
    const inputId = randomUUID();
    await pool.query(
      `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema)
       VALUES ($1, $2, 'raw', 'abc123', 's3', '{"uri":"s3://b/raw/"}', '{"cols":[]}')`,
      [datasetId, experimentId],
    );
    await pool.query(
      `INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id)
       VALUES ($1, 'DATASET', $2, 'RUN', $3)`,
      [inputId, datasetId, run.info.run_id],
    );
    await pool.query(`INSERT INTO input_tags (input_uuid, name, value) VALUES ($1, 'mlflow.data.context', 'training')`, [inputId]);
    expect((await getRun(pool, run.info.run_id))?.inputs).toEqual({
      dataset_inputs: [
        {
          tags: [{ key: 'mlflow.data.context', value: 'training' }],
          dataset: { name: 'raw', digest: 'abc123', source_type: 's3', source: '{"uri":"s3://b/raw/"}', schema: '{"cols":[]}' },
        },
      ],
    });
  });
});
