import { z } from 'zod';
import { isExperimentId } from '../domain/auth';
import { type ExperimentViewer, readableBy } from './permissions';
import { named, type Queryable } from './pool';

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
const ExperimentWithTagsRow = ExperimentRow.extend({ tags: z.array(TagRow) });

/** An experiment with its tags, in one round trip; `WHERE` is appended by the caller. */
const SELECT_EXPERIMENT_WITH_TAGS = `
  SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time,
         COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
                   FROM experiment_tags t WHERE t.experiment_id = e.experiment_id), '[]'::json) AS tags
  FROM experiments e`;

function experimentOf(rows: unknown[]): Experiment | undefined {
  if (rows.length === 0) return undefined;
  const row = ExperimentWithTagsRow.parse(rows[0]);
  return toExperiment(row, row.tags);
}

/** MLflow's experiment JSON from a row: int64 id as a string, unset fields left out. */
function toExperiment(
  row: Pick<z.infer<typeof ExperimentRow>, 'experiment_id' | 'name' | 'artifact_location' | 'lifecycle_stage' | 'creation_time' | 'last_update_time'>,
  tags: Experiment['tags'],
): Experiment {
  return {
    experiment_id: String(row.experiment_id),
    name: row.name,
    ...(row.artifact_location !== null && { artifact_location: row.artifact_location }),
    lifecycle_stage: row.lifecycle_stage,
    ...(row.creation_time !== null && { creation_time: row.creation_time }),
    ...(row.last_update_time !== null && { last_update_time: row.last_update_time }),
    tags,
  };
}

/** The experiment with its tags (every runs/create reads it). */
export async function getExperiment(db: Queryable, experimentId: string): Promise<Experiment | undefined> {
  if (!isExperimentId(experimentId)) return undefined;
  const { rows } = await db.query(named('mlfleet_get_experiment', `${SELECT_EXPERIMENT_WITH_TAGS} WHERE e.experiment_id = $1::bigint`, [experimentId]));
  return experimentOf(rows);
}

/** The experiment called `name`, with its tags (every launch reads it). */
export async function getExperimentByName(db: Queryable, name: string): Promise<Experiment | undefined> {
  const { rows } = await db.query(named('mlfleet_get_experiment_by_name', `${SELECT_EXPERIMENT_WITH_TAGS} WHERE e.name = $1`, [name]));
  return experimentOf(rows);
}

/**
 * Returns the experiment called `name`, creating it with artifact_location `${artifactRoot}/${id}`
 * if needed. Safe under concurrency: racing creators all get the one row that won.
 */
export async function getOrCreateExperiment(db: Queryable, name: string, artifactRoot: string): Promise<Experiment> {
  return (await ensureExperiment(db, name, artifactRoot)).experiment;
}

/** getOrCreateExperiment that also tells whether this call created it (its creator gets to manage it). */
export async function ensureExperiment(db: Queryable, name: string, artifactRoot: string): Promise<{ experiment: Experiment; created: boolean }> {
  const root = artifactRoot.replace(/\/$/, '');
  const existing = await getExperimentByName(db, name);
  if (existing?.artifact_location !== undefined) return { experiment: existing, created: false };
  let created = false;
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
    const inserted = await db.query(
      `INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time)
       SELECT next.id, $1, $2::text || '/' || next.id::text, $3, $3
       FROM (SELECT nextval(pg_get_serial_sequence('experiments', 'experiment_id')) AS id) AS next
       ON CONFLICT (name) DO NOTHING`,
      [name, root, Date.now()],
    );
    created = inserted.rowCount === 1;
  }
  const experiment = await getExperimentByName(db, name);
  if (!experiment) throw new Error(`experiment '${name}' vanished while it was being created`);
  return { experiment, created };
}

// ---- MLflow experiment endpoints (create, rename, delete/restore, tags, search) ----------------

/** create or rename named an experiment that already exists (names are unique, deleted ones too). */
export class ExperimentNameTakenError extends Error {
  override readonly name = 'ExperimentNameTakenError';
  constructor(readonly experimentName: string) {
    super(`Experiment(name=${experimentName}) already exists.`);
  }
}

/** Where MLflow's server (proxied artifacts) puts an experiment's artifacts: `mlflow-artifacts:/<id>`. */
export const DEFAULT_ARTIFACT_ROOT = 'mlflow-artifacts:';

const IdRow = z.object({ experiment_id: z.number().int() });

/**
 * Creates an active experiment with its tags in one statement; its artifact location defaults to
 * `${DEFAULT_ARTIFACT_ROOT}/<id>`. Throws ExperimentNameTakenError if the name is in use.
 */
export async function createExperiment(
  db: Queryable,
  input: { name: string; artifactLocation?: string | undefined; tags: { key: string; value: string }[]; now?: number },
): Promise<string> {
  // Within one request the last value of a key wins (one INSERT cannot touch a row twice).
  const tags = new Map(input.tags.map((t) => [t.key, t.value]));
  const { rows } = await db.query(
    `WITH next AS (SELECT nextval(pg_get_serial_sequence('experiments', 'experiment_id')) AS id),
     created AS (
       INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
       SELECT next.id, $1, COALESCE($2, $3::text || '/' || next.id::text), 'active', $4, $4 FROM next
       ON CONFLICT (name) DO NOTHING
       RETURNING experiment_id),
     tagged AS (
       INSERT INTO experiment_tags (experiment_id, key, value)
       SELECT created.experiment_id, t.key, t.value FROM created, unnest($5::text[], $6::text[]) AS t(key, value))
     SELECT experiment_id FROM created`,
    [input.name, input.artifactLocation ?? null, DEFAULT_ARTIFACT_ROOT, input.now ?? Date.now(), [...tags.keys()], [...tags.values()]],
  );
  if (rows.length === 0) throw new ExperimentNameTakenError(input.name);
  return String(IdRow.parse(rows[0]).experiment_id);
}

/** Renames an experiment (the caller checked it exists and is active). */
export async function renameExperiment(db: Queryable, experimentId: string, newName: string, now = Date.now()): Promise<void> {
  if (!isExperimentId(experimentId)) throw new ExperimentNotFoundError(experimentId);
  try {
    const { rowCount } = await db.query('UPDATE experiments SET name = $2, last_update_time = $3 WHERE experiment_id = $1::bigint', [
      experimentId,
      newName,
      now,
    ]);
    if (rowCount === 0) throw new ExperimentNotFoundError(experimentId);
  } catch (err) {
    if ((err as { code?: unknown }).code === '23505') throw new ExperimentNameTakenError(newName);
    throw err;
  }
}

/**
 * Moves an experiment, and all its runs, to `stage` (MLflow's delete and restore). Only an
 * experiment currently in the other stage moves; returns false if there is none.
 */
export async function setExperimentLifecycle(
  db: Queryable,
  experimentId: string,
  stage: 'active' | 'deleted',
  now = Date.now(),
): Promise<boolean> {
  if (!isExperimentId(experimentId)) return false;
  const from = stage === 'deleted' ? 'active' : 'deleted';
  const { rows } = await db.query(
    `WITH moved AS (
       UPDATE experiments SET lifecycle_stage = $2, last_update_time = $4
       WHERE experiment_id = $1::bigint AND lifecycle_stage = $3
       RETURNING experiment_id),
     runs_moved AS (
       UPDATE runs SET lifecycle_stage = $2, deleted_time = CASE WHEN $2 = 'deleted' THEN $4::bigint END
       WHERE experiment_id IN (SELECT experiment_id FROM moved) AND lifecycle_stage = $3)
     SELECT experiment_id FROM moved`,
    [experimentId, stage, from, now],
  );
  return rows.length > 0;
}

export async function setExperimentTag(db: Queryable, experimentId: string, key: string, value: string): Promise<void> {
  await db.query(
    `INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1::bigint, $2, $3)
     ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value`,
    [experimentId, key, value],
  );
}

/** Deletes one tag; false if the experiment had no such tag. */
export async function deleteExperimentTag(db: Queryable, experimentId: string, key: string): Promise<boolean> {
  if (!isExperimentId(experimentId)) return false;
  const { rowCount } = await db.query('DELETE FROM experiment_tags WHERE experiment_id = $1::bigint AND key = $2', [experimentId, key]);
  return (rowCount ?? 0) > 0;
}

export type ExperimentViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export type ExperimentOrderKey = 'name' | 'experiment_id' | 'creation_time' | 'last_update_time';
export type ExperimentFilter =
  | { kind: 'attribute'; key: 'name'; comparator: '=' | '!=' | 'LIKE' | 'ILIKE'; value: string }
  | { kind: 'attribute'; key: 'creation_time' | 'last_update_time'; comparator: '=' | '!=' | '<' | '<=' | '>' | '>='; value: number }
  | { kind: 'tag'; key: string; comparator: '=' | '!=' | 'LIKE' | 'ILIKE'; value: string };
export interface ExperimentOrder {
  key: ExperimentOrderKey;
  ascending: boolean;
}
/**
 * A position in an ordering: the sort values of the last row of a page, one per order key, as text
 * (bigint values, including the sentinels that stand for missing times, exceed JS numbers).
 */
export type ExperimentCursor = string[];

export interface ExperimentSearch {
  filters: ExperimentFilter[];
  /** Complete ordering, ending with experiment_id (see experimentOrdering). */
  orderBy: ExperimentOrder[];
  viewType: ExperimentViewType;
  limit: number;
  after?: ExperimentCursor | undefined;
  /** Only experiments this user may read. */
  viewer?: ExperimentViewer | undefined;
}

const MAX_BIGINT = '9223372036854775807';
const MIN_BIGINT = '-9223372036854775808';

/**
 * MLflow's ordering: the requested keys (default creation_time DESC, experiment_id ASC), then
 * experiment_id DESC as the tie-break unless experiment_id is already a key.
 */
export function experimentOrdering(requested: ExperimentOrder[]): ExperimentOrder[] {
  const base: ExperimentOrder[] =
    requested.length > 0
      ? requested
      : [
          { key: 'creation_time', ascending: false },
          { key: 'experiment_id', ascending: true },
        ];
  const seen = new Set<string>();
  // A repeated key cannot change the order; dropping it keeps the cursor minimal.
  const unique = base.filter((o) => !seen.has(o.key) && (seen.add(o.key), true));
  return unique.some((o) => o.key === 'experiment_id') ? unique : [...unique, { key: 'experiment_id', ascending: false }];
}

/** The SQL sort expression of a key: names compare by code point, missing times sort last either way. */
function sortExpression(order: ExperimentOrder): string {
  switch (order.key) {
    case 'name':
      return 'e.name COLLATE "C"';
    case 'experiment_id':
      return 'e.experiment_id';
    case 'creation_time':
    case 'last_update_time':
      return `COALESCE(e.${order.key}, '${order.ascending ? MAX_BIGINT : MIN_BIGINT}'::bigint)`;
  }
}

const SearchRow = ExperimentRow.extend({
  tags: z.array(TagRow),
  sort_keys: z.array(z.string()),
});

/**
 * One page of experiments in one parameterised query (tags included). Fetches `limit + 1` rows so
 * the caller can tell whether another page follows; each row carries its cursor.
 */
export async function searchExperiments(db: Queryable, search: ExperimentSearch): Promise<{ experiment: Experiment; cursor: ExperimentCursor }[]> {
  const params: unknown[] = [];
  const p = (value: unknown, cast = ''): string => {
    params.push(value);
    return `$${params.length}${cast}`;
  };
  const where: string[] = [];
  if (search.viewer) where.push(readableBy(search.viewer, 'e.experiment_id', p));
  if (search.viewType === 'ACTIVE_ONLY') where.push("e.lifecycle_stage = 'active'");
  if (search.viewType === 'DELETED_ONLY') where.push("e.lifecycle_stage = 'deleted'");
  for (const f of search.filters) {
    if (f.kind === 'tag') {
      where.push(
        `EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ${p(f.key)} AND t.value ${f.comparator} ${p(f.value)})`,
      );
    } else if (f.key === 'name') {
      where.push(`e.name ${f.comparator} ${p(f.value)}`);
    } else {
      // A missing time matches nothing, as in MLflow (NULL comparisons are never true).
      where.push(`e.${f.key} ${f.comparator} ${p(f.value, '::bigint')}`);
    }
  }
  const exprs = search.orderBy.map(sortExpression);
  if (search.after) {
    // Keyset: rows strictly after the cursor in the (mixed-direction) ordering.
    const after = search.after;
    const alternatives = search.orderBy.map((order, i) => {
      const equal = exprs.slice(0, i).map((expr, j) => `${expr} = ${cursorParam(p, search.orderBy[j], after[j])}`);
      const beyond = `${exprs[i]} ${order.ascending ? '>' : '<'} ${cursorParam(p, order, after[i])}`;
      return `(${[...equal, beyond].join(' AND ')})`;
    });
    where.push(`(${alternatives.join(' OR ')})`);
  }
  const sql = `
    SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time,
      COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
                FROM experiment_tags t WHERE t.experiment_id = e.experiment_id), '[]'::json) AS tags,
      json_build_array(${exprs.map((expr) => `(${expr})::text`).join(', ')}) AS sort_keys
    FROM experiments e
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${search.orderBy.map((order, i) => `${exprs[i]} ${order.ascending ? 'ASC' : 'DESC'}`).join(', ')}
    LIMIT ${p(search.limit + 1, '::bigint')}`;
  const { rows } = await db.query(sql, params);
  return rows.map((raw) => {
    const row = SearchRow.parse(raw);
    return {
      experiment: toExperiment(row, row.tags),
      cursor: row.sort_keys,
    };
  });
}

function cursorParam(p: (value: unknown, cast?: string) => string, order: ExperimentOrder | undefined, value: string | undefined): string {
  return order?.key === 'name' ? `${p(value)} COLLATE "C"` : p(value, '::bigint');
}
