import { z } from 'zod';
import type { Queryable } from './pool';

// Recent runs say more about the next one than old ones: code and data change.
const DEFAULT_RECENT_RUNS = 20;

const MedianRow = z.object({ median_ms: z.number().nullable(), runs: z.number().int() });

/**
 * The median duration, in hours, of the last `recentRuns` runs of stage `stage` in experiment
 * `experimentId` that finished after running their command: cached and reused stages took a stored
 * result and say nothing about how long the stage runs. Undefined when it never ran to the end.
 */
export async function medianStageHours(
  db: Queryable,
  experimentId: string,
  stage: string,
  recentRuns = DEFAULT_RECENT_RUNS,
): Promise<{ hours: number; runs: number } | undefined> {
  const { rows } = await db.query(
    `SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::float8 AS median_ms, count(*)::int AS runs
     FROM (
       SELECT s.ended_at - s.started_at AS duration_ms
       FROM stage_runs s JOIN launches l ON l.launch_id = s.launch_id
       WHERE l.experiment_id = $1::bigint AND s.stage = $2 AND s.status = 'FINISHED' AND s.source = 'ran'
         AND s.started_at IS NOT NULL AND s.ended_at IS NOT NULL AND s.ended_at >= s.started_at
       ORDER BY s.ended_at DESC
       LIMIT $3
     ) recent`,
    [experimentId, stage, recentRuns],
  );
  const row = MedianRow.parse(rows[0]);
  if (row.median_ms === null || row.runs === 0) return undefined;
  return { hours: row.median_ms / 3_600_000, runs: row.runs };
}
