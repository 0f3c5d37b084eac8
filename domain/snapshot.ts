import { z } from 'zod';

/**
 * One object of a pinned input. `path` is relative to the input's URI ('' when the URI names one
 * object). An S3 object is pinned by its version id; a file, or an object pinned in copy mode, by
 * its sha256, with its bytes in the content-addressed store.
 */
export const SnapshotEntry = z
  .object({
    path: z.string(),
    size: z.number().int().nonnegative(),
    version_id: z.string().optional(),
    etag: z.string().optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict()
  .refine((entry) => entry.version_id !== undefined || entry.sha256 !== undefined, { error: 'an entry needs a version_id or a sha256' });
export type SnapshotEntry = z.infer<typeof SnapshotEntry>;

/** How the objects of a snapshot are read back: by S3 version, or from the content-addressed store. */
export const SnapshotMode = z.enum(['version', 'copy']);
export type SnapshotMode = z.infer<typeof SnapshotMode>;

/** The immutable record of what an input URI held when it was pinned; its digest is the snapshot id. */
export const SnapshotManifest = z
  .object({
    source: z.string(),
    mode: SnapshotMode,
    /** Sorted by path, so equal content always gives an equal digest. */
    entries: z.array(SnapshotEntry),
  })
  .strict();
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

/** The MLflow dataset source_type of pinned inputs (logged under the input's name, with the snapshot digest). */
export const SNAPSHOT_DATASET_SOURCE_TYPE = 'mlfleet_snapshot';
