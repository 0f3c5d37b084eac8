import { z } from 'zod';
import type { Queryable } from './pool';

/** An MLflow experiment in MLflow's JSON shape (ids are strings holding integers; unset fields omitted). */
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time?: number;
  last_update_time?: number;
  tags: { key: string; value: string }[];
}

/** A run or launch named an experiment id that does not exist. */
export class ExperimentNotFoundError extends Error {
  override readonly name = 'ExperimentNotFoundError';
  constructor(readonly experimentId: string) {
    super(`No Experiment with id=${experimentId} exists`);
  }
}

const ExperimentRow = z.object({
  experiment_id: z.number().int(),
  name: z.string(),
  artifact_location: z.string().nullable(),
  lifecycle_stage: z.enum(['active', 'deleted']),
  creation_time: z.number().nullable(),
  last_update_time: z.number().nullable(),
});

const TagRow = z.object({ key: z.string(), value: z.string() });

// Experiment ids are bigint; anything else cannot name one (and must not reach a ::bigint cast).
const EXPERIMENT_ID = /^\d{1,18}$/;

const SELECT_EXPERIMENT = `
  SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
  FROM experiments`;

async function loadExperiment(db: Queryable, rows: unknown[]): Promise<Experiment | undefined> {
  if (rows.length === 0) return undefined;
  const row = ExperimentRow.parse(rows[0]);
  const tags = await db.query('SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key', [row.experiment_id]);
  return {
    experiment_id: String(row.experiment_id),
    name: row.name,
    ...(row.artifact_location !== null && { artifact_location: row.artifact_location }),
    lifecycle_stage: row.lifecycle_stage,
    ...(row.creation_time !== null && { creation_time: row.creation_time }),
    ...(row.last_update_time !== null && { last_update_time: row.last_update_time }),
    tags: tags.rows.map((tag) => TagRow.parse(tag)),
  };
}

export async function getExperiment(db: Queryable, experimentId: string): Promise<Experiment | undefined> {
  if (!EXPERIMENT_ID.test(experimentId)) return undefined;
  const { rows } = await db.query(`${SELECT_EXPERIMENT} WHERE experiment_id = $1::bigint`, [experimentId]);
  return loadExperiment(db, rows);
}

export async function getExperimentByName(db: Queryable, name: string): Promise<Experiment | undefined> {
  const { rows } = await db.query(`${SELECT_EXPERIMENT} WHERE name = $1`, [name]);
  return loadExperiment(db, rows);
}

/**
 * Returns the experiment called `name`, creating it with artifact_location `${artifactRoot}/${id}`
 * if needed. Safe under concurrency: racing creators all get the one row that won.
 */
export async function getOrCreateExperiment(db: Queryable, name: string, artifactRoot: string): Promise<Experiment> {
  const root = artifactRoot.replace(/\/$/, '');
  const existing = await getExperimentByName(db, name);
  if (existing?.artifact_location !== undefined) return existing;
  if (existing) {
    // Only the Default experiment (made by the migration, which knows no artifact root) gets here.
    await db.query(
      `UPDATE experiments SET artifact_location = $2::text || '/' || experiment_id::text
       WHERE name = $1 AND artifact_location IS NULL`,
      [name, root],
    );
  } else {
    // The id is drawn first so artifact_location can embed it in the same row; a lost race only
    // burns a sequence value.
    await db.query(
      `INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time)
       SELECT next.id, $1, $2::text || '/' || next.id::text, $3, $3
       FROM (SELECT nextval(pg_get_serial_sequence('experiments', 'experiment_id')) AS id) AS next
       ON CONFLICT (name) DO NOTHING`,
      [name, root, Date.now()],
    );
  }
  const experiment = await getExperimentByName(db, name);
  if (!experiment) throw new Error(`experiment '${name}' vanished while it was being created`);
  return experiment;
}
