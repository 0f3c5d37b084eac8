import { z } from 'zod';
import { named, type Queryable } from './pool';

/** A memoized stage result: what a later stage with the same cache key takes instead of running. */
export interface MemoEntry {
  experimentId: string;
  cacheKey: string;
  /** The stage's cache key without its inputs (candidates for a launch are fetched by it); absent on older entries. */
  materialDigest?: string;
  stage: string;
  runId: string;
  launchId: string;
  outputs: Record<string, string>;
  outputDigests: Record<string, string>;
  createdAt: number;
}

const MemoRow = z.object({
  experiment_id: z.number(),
  cache_key: z.string(),
  material_digest: z.string().nullable(),
  stage: z.string(),
  run_id: z.string(),
  launch_id: z.string(),
  outputs: z.record(z.string(), z.string()),
  output_digests: z.record(z.string(), z.string()),
  created_at: z.number(),
});

const toEntry = (raw: unknown): MemoEntry => {
  const row = MemoRow.parse(raw);
  return {
    experimentId: String(row.experiment_id),
    cacheKey: row.cache_key,
    ...(row.material_digest !== null ? { materialDigest: row.material_digest } : {}),
    stage: row.stage,
    runId: row.run_id,
    launchId: row.launch_id,
    outputs: row.outputs,
    outputDigests: row.output_digests,
    createdAt: row.created_at,
  };
};

export async function findMemo(db: Queryable, experimentId: string, cacheKey: string): Promise<MemoEntry | undefined> {
  const { rows } = await db.query('SELECT * FROM memo_entries WHERE experiment_id = $1::bigint AND cache_key = $2', [experimentId, cacheKey]);
  return rows[0] === undefined ? undefined : toEntry(rows[0]);
}

/** Every entry of the experiment whose material digest is one of `materialDigests`, by cache key. */
export async function findMemoCandidates(db: Queryable, experimentId: string, materialDigests: string[]): Promise<Map<string, MemoEntry>> {
  if (materialDigests.length === 0) return new Map();
  const { rows } = await db.query(
    named('mlfleet_find_memo_candidates', 'SELECT * FROM memo_entries WHERE experiment_id = $1::bigint AND material_digest = ANY($2::text[])', [
      experimentId,
      [...new Set(materialDigests)],
    ]),
  );
  return new Map(rows.map(toEntry).map((entry) => [entry.cacheKey, entry]));
}

/**
 * Registers a result under its key. The first result of a key stays (concurrent launches that both
 * missed and both ran produce equal outputs, and either is correct) unless `replace` (a refreshed
 * stage), which swaps in the new one. One statement either way, so racing writers never mix fields.
 */
export async function registerMemo(db: Queryable, entry: MemoEntry, replace: boolean): Promise<MemoEntry> {
  const { rows } = await db.query(
    `INSERT INTO memo_entries AS m (experiment_id, cache_key, stage, run_id, launch_id, outputs, output_digests, created_at, material_digest)
     VALUES ($1::bigint, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $10)
     ON CONFLICT (experiment_id, cache_key) DO UPDATE SET
       material_digest = COALESCE(EXCLUDED.material_digest, m.material_digest),
       stage = CASE WHEN $9 THEN EXCLUDED.stage ELSE m.stage END,
       run_id = CASE WHEN $9 THEN EXCLUDED.run_id ELSE m.run_id END,
       launch_id = CASE WHEN $9 THEN EXCLUDED.launch_id ELSE m.launch_id END,
       outputs = CASE WHEN $9 THEN EXCLUDED.outputs ELSE m.outputs END,
       output_digests = CASE WHEN $9 THEN EXCLUDED.output_digests ELSE m.output_digests END,
       created_at = CASE WHEN $9 THEN EXCLUDED.created_at ELSE m.created_at END
     RETURNING *`,
    [
      entry.experimentId,
      entry.cacheKey,
      entry.stage,
      entry.runId,
      entry.launchId,
      JSON.stringify(entry.outputs),
      JSON.stringify(entry.outputDigests),
      entry.createdAt,
      replace,
      entry.materialDigest ?? null,
    ],
  );
  return toEntry(rows[0]);
}

/** Forgets a result whose outputs are gone, unless another writer replaced it meanwhile. */
export async function dropMemo(db: Queryable, experimentId: string, cacheKey: string, runId: string): Promise<void> {
  await db.query('DELETE FROM memo_entries WHERE experiment_id = $1::bigint AND cache_key = $2 AND run_id = $3', [experimentId, cacheKey, runId]);
}
