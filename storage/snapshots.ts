import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { canonicalJson } from '../domain/canonical-json';
import type { SnapshotEntry, SnapshotManifest, SnapshotMode } from '../domain/snapshot';
import { digestOf, sha256File } from './digest';
import { joinUri, type ObjectStore, uriUnder } from './object-store';
import { isNotFound } from './s3-errors';

/** A source that cannot be pinned as asked; permanent, so callers fail the stage without retrying. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/** Where the content-addressed store keeps the bytes whose sha256 is `sha256`. */
export const casUri = (casRoot: string, sha256: string): string => joinUri(casRoot, sha256.slice(0, 2), sha256);

export interface PinnedSnapshot {
  digest: string;
  manifest: SnapshotManifest;
  bytes: number;
}

/**
 * Pins what `uri` holds now: an S3 object by its version id, or (a local file, or an S3 object in
 * copy mode) by its sha256, with its bytes copied into the content-addressed store under `casRoot`
 * so the snapshot cannot change underneath. A bucket without versioning is refused unless `copy`.
 * `onPage` sees progress after every listed page.
 */
export async function pinSnapshot(
  objects: ObjectStore,
  uri: string,
  opts: { copy: boolean; casRoot: string; onPage?: (pinned: number) => void },
): Promise<PinnedSnapshot> {
  const byVersion = uri.startsWith('s3://') && !opts.copy;
  const versioned = byVersion && (await objects.keepsVersions(uri));
  if (byVersion && !versioned) {
    throw new SnapshotError(
      `${uri}: the bucket does not keep object versions, so it cannot be pinned by version; turn versioning on, or write the input as {uri: ${uri}, copy: true} to copy its objects into mlfleet's store when the stage is pinned`,
    );
  }
  const mode: SnapshotMode = byVersion ? 'version' : 'copy';
  const entries: SnapshotEntry[] = [];
  let bytes = 0;
  const scratch = byVersion ? undefined : await mkdtemp(join(tmpdir(), 'mlfleet-pin-'));
  try {
    for await (const page of objects.listCurrent(uri, { versions: versioned })) {
      for (const object of page) {
        bytes += object.size;
        if (byVersion) {
          if (!object.versionId) throw new SnapshotError(`${uriUnder(uri, object.path)}: no version id listed`);
          entries.push({ path: object.path, size: object.size, version_id: object.versionId, ...(object.etag ? { etag: object.etag } : {}) });
          continue;
        }
        // Hashed after the copy, so the bytes stored under a hash are the bytes that were hashed.
        const local = join(scratch as string, 'object');
        await objects.download(uriUnder(uri, object.path), local);
        const sha256 = await sha256File(local);
        const target = casUri(opts.casRoot, sha256);
        if (!(await objects.exists(target))) await objects.upload(local, target);
        await rm(local, { force: true });
        entries.push({ path: object.path, size: object.size, sha256, ...(object.etag ? { etag: object.etag } : {}) });
      }
      opts.onPage?.(entries.length);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || isNotFound(err)) throw new SnapshotError(`${uri}: nothing is stored there`);
    throw err;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  if (entries.length === 0) throw new SnapshotError(`${uri}: nothing is stored there`);
  const manifest: SnapshotManifest = { source: uri, mode, entries };
  return { digest: digestOf(canonicalJson(manifest)), manifest, bytes };
}

/** Writes exactly the pinned objects of `manifest` under `target` (the object itself for a one-object snapshot). */
export async function materializeSnapshot(objects: ObjectStore, manifest: SnapshotManifest, casRoot: string | undefined, target: string): Promise<void> {
  for (const entry of manifest.entries) {
    if (entry.path.split('/').includes('..')) throw new SnapshotError(`refusing to materialize '${entry.path}': '..' in the path`);
    const local = entry.path === '' ? target : join(target, ...entry.path.split('/'));
    if (entry.version_id !== undefined && manifest.mode === 'version') {
      await objects.downloadVersion(uriUnder(manifest.source, entry.path), entry.version_id, local);
    } else if (entry.sha256 !== undefined && casRoot !== undefined) {
      await objects.download(casUri(casRoot, entry.sha256), local);
      // The store is content-addressed: bytes that do not hash to their name are corrupt.
      if ((await sha256File(local)) !== entry.sha256) throw new SnapshotError(`${entry.path || manifest.source}: stored bytes do not match sha256 ${entry.sha256}`);
    } else {
      throw new SnapshotError(`${entry.path || manifest.source}: the manifest gives no way to read this object`);
    }
  }
}

/** Reads a (small) text document from the store: a manifest, a code bundle's file list. */
export async function readStoredText(objects: ObjectStore, uri: string): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-read-'));
  try {
    const local = join(scratch, 'document');
    await objects.download(uri, local);
    return await readFile(local, 'utf8');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Stores a manifest as `uri` (content-addressed by the caller, so an existing one is never rewritten). */
export async function writeManifest(objects: ObjectStore, manifest: SnapshotManifest, uri: string): Promise<void> {
  if (await objects.exists(uri)) return;
  const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-manifest-'));
  try {
    const local = join(scratch, 'manifest.json');
    await writeFile(local, canonicalJson(manifest));
    await objects.upload(local, uri);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The digest of a stage output as the agent wrote it (a file or a folder): sha256 of the canonical
 * JSON of every file's relative path, size and sha256. Equal bytes give an equal digest wherever
 * they were written, which is what lets downstream cache keys chain.
 */
export async function outputDigest(path: string): Promise<string> {
  const info = await stat(path);
  const files: Array<{ path: string; size: number; sha256: string }> = [];
  if (info.isFile()) {
    files.push({ path: '', size: info.size, sha256: await sha256File(path) });
  } else {
    const paths = (await readdir(path, { recursive: true })).map((p) => p.split(sep).join('/')).sort();
    for (const relative of paths) {
      const file = join(path, ...relative.split('/'));
      const fileInfo = await stat(file);
      if (fileInfo.isFile()) files.push({ path: relative, size: fileInfo.size, sha256: await sha256File(file) });
    }
  }
  return digestOf(canonicalJson(files));
}
