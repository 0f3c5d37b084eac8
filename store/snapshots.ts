import type pg from 'pg';
import type { SnapshotManifest } from '../domain/snapshot';
import { withTransaction } from './pool';

// Entries per INSERT: a 100,000-object manifest is 20 statements, each well under PostgreSQL's limits.
const INSERT_CHUNK = 5000;

/**
 * Records a pinned snapshot and its objects, once: a digest already stored (the same content pinned
 * again, or a concurrent pin of it) is left as it is. One transaction, so no snapshot is ever half there.
 */
export async function recordSnapshot(
  pool: pg.Pool,
  input: { digest: string; manifest: SnapshotManifest; bytes: number; manifestUri: string; createdAt: number },
): Promise<void> {
  const { digest, manifest } = input;
  await withTransaction(pool, async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO snapshots (digest, source, mode, objects, bytes, manifest_uri, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (digest) DO NOTHING`,
      [digest, manifest.source, manifest.mode, manifest.entries.length, input.bytes, input.manifestUri, input.createdAt],
    );
    if (inserted.rowCount === 0) return;
    for (let start = 0; start < manifest.entries.length; start += INSERT_CHUNK) {
      const chunk = manifest.entries.slice(start, start + INSERT_CHUNK);
      await tx.query(
        `INSERT INTO snapshot_objects (digest, path, size, version_id, etag, sha256)
         SELECT $1, t.path, t.size, t.version_id, t.etag, t.sha256
         FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS t(path, size, version_id, etag, sha256)`,
        [
          digest,
          chunk.map((e) => e.path),
          chunk.map((e) => e.size),
          chunk.map((e) => e.version_id ?? null),
          chunk.map((e) => e.etag ?? null),
          chunk.map((e) => e.sha256 ?? null),
        ],
      );
    }
  });
}

export interface SnapshotRecord {
  digest: string;
  source: string;
  mode: string;
  objects: number;
  bytes: number;
  manifestUri: string;
}

export async function getSnapshot(db: pg.Pool, digest: string): Promise<SnapshotRecord | undefined> {
  const { rows } = await db.query<{ digest: string; source: string; mode: string; objects: number; bytes: number; manifest_uri: string }>(
    'SELECT digest, source, mode, objects, bytes, manifest_uri FROM snapshots WHERE digest = $1',
    [digest],
  );
  const row = rows[0];
  return row && { digest: row.digest, source: row.source, mode: row.mode, objects: row.objects, bytes: row.bytes, manifestUri: row.manifest_uri };
}
