import { z } from 'zod';
import type { Queryable } from './pool';

/** One idempotent `POST /api/v1/launches`: the launch its key names and the request it came with. */
export interface LaunchRequest {
  launchId: string;
  idempotencyKey: string;
  requestDigest: string;
  /** Set once the launch workflow was started. */
  workflowRunId?: string;
  createdAt: number;
}

const LaunchRequestRow = z.object({
  launch_id: z.string(),
  idempotency_key: z.string(),
  request_digest: z.string(),
  workflow_run_id: z.string().nullable(),
  created_at: z.number(),
});

function toLaunchRequest(raw: unknown): LaunchRequest {
  const row = LaunchRequestRow.parse(raw);
  return {
    launchId: row.launch_id,
    idempotencyKey: row.idempotency_key,
    requestDigest: row.request_digest,
    ...(row.workflow_run_id !== null && { workflowRunId: row.workflow_run_id }),
    createdAt: row.created_at,
  };
}

/**
 * Records the first request with this idempotency key, or returns the one recorded before.
 * `created` is true for exactly one of any number of concurrent calls with the same key.
 */
export async function claimLaunchRequest(
  db: Queryable,
  input: Omit<LaunchRequest, 'workflowRunId'>,
): Promise<{ request: LaunchRequest; created: boolean }> {
  // DO NOTHING waits for a concurrent insert of the key to commit; the SELECT after it, a statement
  // of its own, then sees that row (one statement's snapshot would not).
  const inserted = await db.query(
    `INSERT INTO launch_requests (launch_id, idempotency_key, request_digest, created_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING *`,
    [input.launchId, input.idempotencyKey, input.requestDigest, input.createdAt],
  );
  if (inserted.rows.length > 0) return { request: toLaunchRequest(inserted.rows[0]), created: true };
  const existing = await getLaunchRequestByKey(db, input.idempotencyKey);
  if (!existing) throw new Error(`launch request with idempotency key '${input.idempotencyKey}' vanished`);
  return { request: existing, created: false };
}

export async function getLaunchRequestByKey(db: Queryable, idempotencyKey: string): Promise<LaunchRequest | undefined> {
  const { rows } = await db.query('SELECT * FROM launch_requests WHERE idempotency_key = $1', [idempotencyKey]);
  return rows.length === 0 ? undefined : toLaunchRequest(rows[0]);
}

/** Notes that the launch's workflow was started (the first run id recorded wins). */
export async function markLaunchRequestStarted(db: Queryable, launchId: string, workflowRunId: string): Promise<void> {
  await db.query('UPDATE launch_requests SET workflow_run_id = COALESCE(workflow_run_id, $2) WHERE launch_id = $1', [
    launchId,
    workflowRunId,
  ]);
}
