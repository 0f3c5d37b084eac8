import { z } from 'zod';
import type { Queryable } from './pool';

export const CodeBundleRecord = z.object({
  digest: z.string(),
  uri: z.string(),
  bytes: z.number(),
  files: z.number(),
  gitCommit: z.string().optional(),
  gitBranch: z.string().optional(),
  gitDirty: z.boolean().optional(),
  createdAt: z.number(),
});
export type CodeBundleRecord = z.infer<typeof CodeBundleRecord>;

const toRecord = (row: Record<string, unknown>): CodeBundleRecord =>
  CodeBundleRecord.parse({
    digest: row.digest,
    uri: row.uri,
    bytes: row.bytes,
    files: row.files,
    gitCommit: row.git_commit ?? undefined,
    gitBranch: row.git_branch ?? undefined,
    gitDirty: row.git_dirty ?? undefined,
    createdAt: row.created_at,
  });

/** Records an uploaded bundle; the first upload of a digest keeps its git facts. */
export async function recordCodeBundle(db: Queryable, input: CodeBundleRecord): Promise<CodeBundleRecord> {
  const { rows } = await db.query(
    `INSERT INTO code_bundles (digest, uri, bytes, files, git_commit, git_branch, git_dirty, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (digest) DO UPDATE SET digest = code_bundles.digest
     RETURNING *`,
    [input.digest, input.uri, input.bytes, input.files, input.gitCommit ?? null, input.gitBranch ?? null, input.gitDirty ?? null, input.createdAt],
  );
  return toRecord(rows[0] as Record<string, unknown>);
}

export async function getCodeBundle(db: Queryable, digest: string): Promise<CodeBundleRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM code_bundles WHERE digest = $1', [digest]);
  return rows[0] ? toRecord(rows[0] as Record<string, unknown>) : undefined;
}
