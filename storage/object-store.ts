/**
 * Where artifacts, stage outputs and code bundles live: `file://` on this machine or `s3://` (see
 * storage/storage.ts for the store that picks by scheme). URIs name either one object or a prefix
 * ("folder").
 */
export interface ObjectStore {
  /** Copies a local file or folder (recursively) to `uri`. */
  upload(localPath: string, uri: string): Promise<void>;
  /** Copies the object or prefix at `uri` to `localPath`. */
  download(uri: string, localPath: string): Promise<void>;
  exists(uri: string): Promise<boolean>;
  /**
   * What `uri` holds now, page by page: the one object it names (path '') or every object under it
   * (paths relative to it); with `versions` (the caller checked keepsVersions), each with its
   * current version id.
   */
  listCurrent(uri: string, opts: { versions: boolean }): AsyncGenerator<StoredObject[]>;
  /** Copies one version of the object at `uri` to `localPath`. */
  downloadVersion(uri: string, versionId: string, localPath: string): Promise<void>;
  /** Whether the store keeps every version of the objects at `uri` (an S3 bucket with versioning on). */
  keepsVersions(uri: string): Promise<boolean>;
  /**
   * A URL that reads the object at `uri` (the given version, or the current one) without further
   * credentials until it expires: what a stage VM gets instead of the store's keys. A local file's
   * URL is its file:// URI.
   */
  presignRead(uri: string, opts?: { versionId?: string; expiresInSeconds?: number }): Promise<string>;
}

/** One object as listed: its path relative to the listed URI, and its version where there is one. */
export interface StoredObject {
  path: string;
  size: number;
  versionId?: string;
  etag?: string;
}

/** The URI of `path` (relative, '/'-separated, '' for the URI itself) under `base`, each segment encoded. */
export const uriUnder = (base: string, path: string): string =>
  path === '' ? base : joinUri(base, ...path.split('/').map((segment) => encodeURIComponent(segment)));

export class UnsupportedUriError extends Error {
  constructor(uri: string) {
    super(`unsupported storage URI '${uri}': expected file:// or s3://`);
  }
}

/** Joins path segments onto a URI with exactly one '/' between them. */
export function joinUri(base: string, ...segments: string[]): string {
  return [base.replace(/\/+$/, ''), ...segments.map((s) => s.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}
