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
}

export class UnsupportedUriError extends Error {
  constructor(uri: string) {
    super(`unsupported storage URI '${uri}': expected file:// or s3://`);
  }
}

/** Joins path segments onto a URI with exactly one '/' between them. */
export function joinUri(base: string, ...segments: string[]): string {
  return [base.replace(/\/+$/, ''), ...segments.map((s) => s.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}
