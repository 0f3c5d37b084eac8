import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { getExperiment, getExperimentByName, getOrCreateExperiment } from '../../store/experiments';
import { createPool } from '../../store/pool';
import { testEnv } from '../helpers/services';

const ROOT = 'file:///tmp/mlfleet-artifacts';
const uniqueName = (label: string): string => `${label}-${randomUUID()}`;

let pool: pg.Pool;

beforeAll(() => {
  pool = createPool(testEnv().databaseUrl);
});

afterAll(async () => {
  await pool.end();
});

describe('experiments store', () => {
  test('the migration created the Default experiment with id 0', async () => {
    const experiment = await getExperiment(pool, '0');
    expect(experiment).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active', tags: [] });
    expect(await getExperimentByName(pool, 'Default')).toMatchObject({ experiment_id: '0' });
  });

  test('getOrCreateExperiment creates once, with the artifact location under the root', async () => {
    const name = uniqueName('exp');
    const created = await getOrCreateExperiment(pool, name, `${ROOT}/`);
    expect(Number(created.experiment_id)).toBeGreaterThan(0);
    expect(created).toMatchObject({
      name,
      artifact_location: `${ROOT}/${created.experiment_id}`,
      lifecycle_stage: 'active',
      tags: [],
    });
    expect(created.creation_time).toEqual(expect.any(Number));

    const again = await getOrCreateExperiment(pool, name, 's3://elsewhere');
    expect(again).toEqual(created);
    expect(await getExperiment(pool, created.experiment_id)).toEqual(created);
    expect(await getExperimentByName(pool, name)).toEqual(created);
  });

  test('concurrent getOrCreateExperiment calls agree on one experiment', async () => {
    const name = uniqueName('race');
    const results = await Promise.all(Array.from({ length: 10 }, () => getOrCreateExperiment(pool, name, ROOT)));
    const ids = new Set(results.map((e) => e.experiment_id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(results.every((e) => e.artifact_location === `${ROOT}/${id}`)).toBe(true);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM experiments WHERE name = $1', [name]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  test('lookups of missing experiments return undefined', async () => {
    expect(await getExperimentByName(pool, uniqueName('missing'))).toBeUndefined();
    expect(await getExperiment(pool, '999999999999')).toBeUndefined();
    expect(await getExperiment(pool, 'not-a-number')).toBeUndefined();
    expect(await getExperiment(pool, '')).toBeUndefined();
  });

  test('experiment tags are returned', async () => {
    const experiment = await getOrCreateExperiment(pool, uniqueName('tagged'), ROOT);
    await pool.query('INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3), ($1, $4, $5)', [
      experiment.experiment_id,
      'team',
      'ml',
      'cost_center',
      '42',
    ]);
    expect((await getExperiment(pool, experiment.experiment_id))?.tags).toEqual([
      { key: 'cost_center', value: '42' },
      { key: 'team', value: 'ml' },
    ]);
  });
});
