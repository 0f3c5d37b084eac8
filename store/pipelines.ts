import { z } from 'zod';
import type { PipelineSpec } from '../domain/pipeline-spec';
import type pg from 'pg';
import { type Queryable, withTransaction } from './pool';

export const PipelineVersion = z.object({
  name: z.string(),
  version: z.number().int(),
  digest: z.string(),
  spec: z.unknown(),
  codeBundle: z.string().optional(),
  createdAt: z.number(),
});
export type PipelineVersion = z.infer<typeof PipelineVersion>;

const toPipelineVersion = (row: Record<string, unknown>): PipelineVersion =>
  PipelineVersion.parse({
    name: row.name,
    version: row.version,
    digest: row.digest,
    spec: JSON.parse(String(row.spec)) as unknown,
    codeBundle: row.code_bundle ?? undefined,
    createdAt: row.created_at,
  });

/**
 * Registers `spec` (with its code bundle) as the next version of pipeline `name`, unless that exact
 * content is already a version of it, which is returned instead. An advisory lock serialises
 * registrations of one name; each statement after it sees the others' commits.
 */
export async function registerPipelineVersion(
  pool: pg.Pool,
  input: { name: string; spec: PipelineSpec; digest: string; codeBundle?: string; createdAt: number },
): Promise<PipelineVersion & { created: boolean }> {
  return withTransaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('mlfleet.pipeline:' || $1))", [input.name]);
    const existing = await tx.query('SELECT * FROM pipelines WHERE name = $1 AND digest = $2', [input.name, input.digest]);
    if (existing.rows[0]) return { ...toPipelineVersion(existing.rows[0] as Record<string, unknown>), created: false };
    const { rows } = await tx.query(
      `INSERT INTO pipelines (name, version, digest, spec, code_bundle, created_at)
       SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5 FROM pipelines WHERE name = $1
       RETURNING *`,
      [input.name, input.digest, JSON.stringify(input.spec), input.codeBundle ?? null, input.createdAt],
    );
    return { ...toPipelineVersion(rows[0] as Record<string, unknown>), created: true };
  });
}

export async function getPipelineVersion(db: Queryable, name: string, version: number): Promise<PipelineVersion | undefined> {
  const { rows } = await db.query('SELECT * FROM pipelines WHERE name = $1 AND version = $2', [name, version]);
  return rows[0] ? toPipelineVersion(rows[0] as Record<string, unknown>) : undefined;
}

/** Versions of one pipeline (or of all), newest first. */
export async function listPipelineVersions(db: Queryable, name?: string): Promise<PipelineVersion[]> {
  const { rows } = await db.query('SELECT * FROM pipelines WHERE ($1::text IS NULL OR name = $1) ORDER BY name, version DESC', [name ?? null]);
  return rows.map((row) => toPipelineVersion(row as Record<string, unknown>));
}
