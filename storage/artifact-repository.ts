import type { Readable } from 'node:stream';

/**
 * One artifact tree (a run's, or the whole artifact root the MLflow proxy serves) as MLflow's
 * artifact repositories see it: folders of files addressed by relative '/'-separated paths.
 * `file-artifacts.ts` and `s3-artifacts.ts` implement it.
 */
export interface ArtifactRepository {
  /** The direct children of folder `path` ('' is the root), sorted by name; [] when it is missing or a file. */
  list(path: string): Promise<ArtifactEntry[]>;
  /** A file's size and content, `{ isDir: true }` for a folder, undefined when nothing is there. */
  read(path: string): Promise<ArtifactFile | { isDir: true } | undefined>;
  /** Stores `body` as the file at `path`, replacing it; readers never see a partial file. */
  write(path: string, body: Readable): Promise<void>;
  /** Removes the file or the folder at `path`; nothing there is fine. */
  delete(path: string): Promise<void>;
}

export interface ArtifactEntry {
  name: string;
  isDir: boolean;
  /** Files only. */
  size?: number;
}

export interface ArtifactFile {
  isDir: false;
  size: number;
  body: Readable;
}

/** A path that would leave the repository's root. */
export class InvalidArtifactPathError extends Error {
  constructor() {
    super('Invalid path');
  }
}

/** A write to a path that is a folder. */
export class ArtifactIsDirectoryError extends Error {
  constructor() {
    super('Artifact path refers to a directory, not a file');
  }
}

/** `path` without '.' and empty segments ('' for the root); InvalidArtifactPathError on '..'. */
export function normalizeArtifactPath(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new InvalidArtifactPathError();
  return segments.join('/');
}

/** Listings are sorted by name, as MLflow's are. */
export const byName = (a: ArtifactEntry, b: ArtifactEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
