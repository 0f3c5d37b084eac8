import { z } from 'zod';
import { Offer, OfferSnapshotStatus, type OfferSnapshot, type OfferSnapshotInfo, type SourceFreshness } from '../domain/offer';
import { Cloud } from '../domain/pipeline-spec';
import type { Queryable } from './pool';

const SnapshotRow = z.object({
  snapshot_id: z.number().int(),
  source: z.string(),
  cloud: Cloud,
  status: OfferSnapshotStatus,
  fetched_at: z.number(),
  row_count: z.number().int(),
  error: z.string().nullable(),
});

const toInfo = (raw: unknown): OfferSnapshotInfo => {
  const row = SnapshotRow.parse(raw);
  return {
    snapshotId: row.snapshot_id,
    source: row.source,
    cloud: row.cloud,
    status: row.status,
    fetchedAt: row.fetched_at,
    rowCount: row.row_count,
    ...(row.error !== null && { error: row.error }),
  };
};

const INFO_COLUMNS = 'snapshot_id, source, cloud, status, fetched_at, row_count, error';

export type RecordOfferSnapshotInput =
  | { source: string; cloud: Cloud; fetchedAt: number; status: 'ok'; rows: readonly Offer[] }
  | { source: string; cloud: Cloud; fetchedAt: number; status: 'failed'; error: string };

/** Records one refresh: a good one with its (already checked) rows, a failed one with its error. */
export async function recordOfferSnapshot(db: Queryable, input: RecordOfferSnapshotInput): Promise<OfferSnapshotInfo> {
  const rows = input.status === 'ok' ? input.rows : [];
  const { rows: inserted } = await db.query(
    `INSERT INTO offer_snapshots (source, cloud, status, fetched_at, row_count, rows, error)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
     RETURNING ${INFO_COLUMNS}`,
    [input.source, input.cloud, input.status, input.fetchedAt, rows.length, JSON.stringify(rows), input.status === 'failed' ? input.error : null],
  );
  return toInfo(inserted[0]);
}

/** The newest good snapshot of every source, with its rows (or of `sources` only, when given). */
export async function latestGoodSnapshots(db: Queryable, sources?: readonly string[]): Promise<OfferSnapshot[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (source) ${INFO_COLUMNS}, rows
     FROM offer_snapshots
     WHERE status = 'ok' AND ($1::text[] IS NULL OR source = ANY($1))
     ORDER BY source, fetched_at DESC, snapshot_id DESC`,
    [sources ?? null],
  );
  return rows.map((row: { rows: unknown }) => ({ ...toInfo(row), rows: z.array(Offer).parse(row.rows) }));
}

/** Every source's newest attempt and newest good snapshot, by source name. */
export async function listSourceFreshness(db: Queryable, sources?: readonly string[]): Promise<SourceFreshness[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (source, status) ${INFO_COLUMNS}
     FROM offer_snapshots
     WHERE ($1::text[] IS NULL OR source = ANY($1))
     ORDER BY source, status, fetched_at DESC, snapshot_id DESC`,
    [sources ?? null],
  );
  const bySource = new Map<string, { good?: OfferSnapshotInfo; failed?: OfferSnapshotInfo }>();
  for (const info of rows.map(toInfo)) {
    const entry = bySource.get(info.source) ?? {};
    if (info.status === 'ok') entry.good = info;
    else entry.failed = info;
    bySource.set(info.source, entry);
  }
  return [...bySource.entries()].flatMap(([source, { good, failed }]) => {
    const lastAttempt = [good, failed]
      .filter((info) => info !== undefined)
      .sort((a, b) => b.fetchedAt - a.fetchedAt || b.snapshotId - a.snapshotId)[0];
    return lastAttempt ? [{ source, cloud: lastAttempt.cloud, lastAttempt, ...(good && { lastGood: good }) }] : [];
  });
}
