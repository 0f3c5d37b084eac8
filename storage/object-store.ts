/**
 * Where artifacts, stage outputs and code bundles live. Only `file://` exists so far; `s3://`
 * comes with data snapshots. URIs name either one object or a prefix ("folder").
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
    super(`unsupported storage URI '${uri}': expected file://`);
  }
}

/** Joins path segments onto a URI with exactly one '/' between them. */
export function joinUri(base: string, ...segments: string[]): string {
  return [base.replace(/\/+$/, ''), ...segments.map((s) => s.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}
