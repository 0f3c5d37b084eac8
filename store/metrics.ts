import { z } from 'zod';
import { named, type Queryable } from './pool';
import { type MlflowMetric, onRun, RunNotFoundError } from './run-record';

// A run's metrics: points appended with the latest one per key kept current, and their history read back.

export interface MetricPoint {
  key: string;
  /** NaN and ±Infinity are allowed. */
  value: number;
  /** Epoch milliseconds. */
  timestamp: number;
  step?: number;
}

// z.number() refuses ±Infinity, which a double precision column legitimately holds.
const Double = z.custom<number>((value) => typeof value === 'number', 'expected a double');
const MetricRow = z.object({
  run_uuid: z.string(),
  key: z.string(),
  value: Double,
  timestamp: z.number(),
  step: z.number(),
  is_nan: z.boolean(),
});
/** A metric history row (typed by the driver: int8 → number, see pool.ts). */
interface HistoryRow {
  value: number;
  timestamp: number;
  step: number;
  is_nan: boolean;
}

// An insert into latest_metrics (aliased l) keeps the greatest (step, timestamp, value) per key, so
// a point logged late at a lower step never replaces the latest one.
export const ADVANCE_LATEST_METRIC = `ON CONFLICT (run_uuid, key) DO UPDATE
  SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, step = EXCLUDED.step, is_nan = EXCLUDED.is_nan
  WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > (l.step, l.timestamp, l.value)`;

/**
 * Appends metric points and advances latest_metrics in one statement. A replayed point collides with
 * itself and is dropped; the latest point per key is the greatest (step, timestamp, value), so a point
 * logged late at a lower step never replaces it.
 */
export async function logMetrics(db: Queryable, runId: string, metrics: readonly MetricPoint[]): Promise<void> {
  if (metrics.length === 0) return;
  const keys: string[] = [];
  const values: number[] = [];
  const timestamps: number[] = [];
  const steps: number[] = [];
  const nans: boolean[] = [];
  for (const m of metrics) {
    const isNan = Number.isNaN(m.value);
    keys.push(m.key);
    // MLflow stores NaN as 0 with is_nan; ±Infinity fits a double precision column as is.
    values.push(isNan ? 0 : m.value);
    timestamps.push(m.timestamp);
    steps.push(m.step ?? 0);
    nans.push(isNan);
  }
  // metrics has no foreign key since migration 0005 (a per-row check was a third of a 1000-point
  // batch): the statement locks the run row FOR KEY SHARE once, as each row's check did, and
  // writes nothing when the run does not exist.
  const { rows } = await onRun(runId, ['latest_metrics_run_uuid_fkey'], () =>
    db.query(
      named(
        'mlfleet_log_metrics',
        `WITH run AS (
           SELECT run_uuid FROM runs WHERE run_uuid = $1 FOR KEY SHARE
         ),
         input AS (
           SELECT * FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[], $6::boolean[])
             AS t(key, value, timestamp, step, is_nan)
         ),
         appended AS (
           INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan)
           SELECT run.run_uuid, key, value, timestamp, step, is_nan FROM input, run
           ON CONFLICT DO NOTHING
         ),
         -- One row per key: ON CONFLICT DO UPDATE may touch a row only once per statement.
         newest AS (
           SELECT DISTINCT ON (key) key, value, timestamp, step, is_nan
           FROM input ORDER BY key, step DESC, timestamp DESC, value DESC
         ),
         latest AS (
           INSERT INTO latest_metrics AS l (run_uuid, key, value, timestamp, step, is_nan)
           SELECT run.run_uuid, key, value, timestamp, step, is_nan FROM newest, run
           ${ADVANCE_LATEST_METRIC}
         )
         SELECT count(*)::int AS runs FROM run`,
        [runId, keys, values, timestamps, steps, nans],
      ),
    ),
  );
  if ((rows[0] as { runs: number } | undefined)?.runs !== 1) throw new RunNotFoundError(runId);
}

/** Where a metric history page ends: the full ordering key of its last point. */
export interface MetricCursor {
  step: number;
  timestamp: number;
  isNan: boolean;
  value: number;
}

export interface MetricHistoryPage {
  metrics: MlflowMetric[];
  /** Set when more points follow. */
  next?: MetricCursor;
}

/**
 * One metric's points ordered by (step, timestamp); ties (same step and timestamp) by NaN-ness and
 * value, which with the run and key form the primary key (in that order since migration 0005), so a
 * page is an index range scan and keyset paging never skips or repeats. Without a limit, every point.
 * Rows are read without per-row validation: a history can hold millions of points.
 */
export async function getMetricHistory(
  db: Queryable,
  runId: string,
  key: string,
  page: { limit?: number; after?: MetricCursor } = {},
): Promise<MetricHistoryPage> {
  const { after, limit } = page;
  const { rows } = await db.query<HistoryRow>(
    `SELECT step, timestamp, is_nan, value FROM metrics
     WHERE run_uuid = $1 AND key = $2
       AND ($3::bigint IS NULL OR (step, timestamp, is_nan, value) > ($3::bigint, $4::bigint, $5::boolean, $6::float8))
     ORDER BY step, timestamp, is_nan, value
     LIMIT $7`,
    [runId, key, after?.step ?? null, after?.timestamp ?? null, after?.isNan ?? null, after?.value ?? null, limit === undefined ? null : limit + 1],
  );
  const hasMore = limit !== undefined && rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const metrics = new Array<MlflowMetric>(pageRows.length);
  for (let i = 0; i < pageRows.length; i++) {
    const { step, timestamp, is_nan, value } = pageRows[i] as (typeof pageRows)[number];
    metrics[i] = { key, value: is_nan ? Number.NaN : value, timestamp, step };
  }
  const last = pageRows.at(-1);
  return {
    metrics,
    ...(hasMore && last && { next: { step: last.step, timestamp: last.timestamp, isNan: last.is_nan, value: last.value } }),
  };
}

/** The distinct steps logged for `key` across `runIds`, ascending, and each run's own min and max step. */
export async function getMetricSteps(
  db: Queryable,
  runIds: readonly string[],
  key: string,
): Promise<{ steps: number[]; runMinMax: number[] }> {
  const { rows } = await db.query(
    `SELECT run_uuid, array_agg(DISTINCT step ORDER BY step)::float8[] AS steps
     FROM metrics WHERE run_uuid = ANY($1::text[]) AND key = $2
     GROUP BY run_uuid`,
    [runIds, key],
  );
  const all = new Set<number>();
  const runMinMax: number[] = [];
  for (const row of rows) {
    const { steps } = z.object({ steps: z.array(z.number()) }).parse(row);
    for (const step of steps) all.add(step);
    if (steps.length > 0) runMinMax.push(steps[0] as number, steps.at(-1) as number);
  }
  return { steps: [...all].sort((a, b) => a - b), runMinMax };
}

export interface MetricWithRunId extends MlflowMetric {
  run_id: string;
}

/**
 * MLflow's get_metric_history_bulk_interval_from_steps: each run's points of `key` at `steps`,
 * ordered by step then timestamp, at most `perRunLimit` per run, runs in the order given.
 */
export async function getMetricsAtSteps(
  db: Queryable,
  runIds: readonly string[],
  key: string,
  steps: readonly number[],
  perRunLimit: number,
): Promise<MetricWithRunId[]> {
  if (runIds.length === 0 || steps.length === 0) return [];
  const { rows } = await db.query(
    `SELECT run_uuid, key, value, timestamp, step, is_nan FROM (
       SELECT m.*, row_number() OVER (PARTITION BY run_uuid ORDER BY step, timestamp, is_nan, value) AS n
       FROM metrics m
       WHERE run_uuid = ANY($1::text[]) AND key = $2 AND step = ANY($3::bigint[])
     ) ranked
     WHERE n <= $4
     ORDER BY array_position($1::text[], run_uuid), step, timestamp, is_nan, value`,
    [runIds, key, steps, perRunLimit],
  );
  return rows.map((row) => {
    const m = MetricRow.parse(row);
    return { key: m.key, value: m.is_nan ? Number.NaN : m.value, timestamp: m.timestamp, step: m.step, run_id: m.run_uuid };
  });
}
