import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ArtifactIsDirectoryError,
  type ArtifactEntry,
  type ArtifactRepository,
  byName,
  InvalidArtifactPathError,
  normalizeArtifactPath,
} from './artifact-repository';
import { filePathOf } from './file-store';

/** Uploads in progress are written next to their target under this prefix (MLflow's own), and never listed. */
const TEMP_PREFIX = '.artifact.uploading.';

const isWithin = (root: string, path: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The artifact tree under a file:// URI. Neither `..` nor a symlink can lead out of it. */
export class FileArtifactRepository implements ArtifactRepository {
  private readonly root: string;

  constructor(rootUri: string) {
    this.root = resolve(filePathOf(rootUri));
  }

  async list(path: string): Promise<ArtifactEntry[]> {
    const dir = await this.localPath(path);
    const names = await readdir(dir).catch(() => undefined);
    if (!names) return [];
    const entries: ArtifactEntry[] = [];
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (!info) continue; // a dangling symlink
      entries.push(info.isDirectory() ? { name, isDir: true } : { name, isDir: false, size: info.size });
    }
    return entries.sort(byName);
  }

  async read(path: string) {
    const local = await this.localPath(path);
    const info = await stat(local).catch(() => undefined);
    if (!info) return undefined;
    if (info.isDirectory()) return { isDir: true } as const;
    return { isDir: false, size: info.size, body: createReadStream(local) } as const;
  }

  /** Streams to a hidden temp file beside the target, then renames it into place. */
  async write(path: string, body: Readable): Promise<void> {
    const target = await this.localPath(path);
    const folder = dirname(target);
    await mkdir(folder, { recursive: true });
    const temp = join(folder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(temp, { flags: 'wx' }));
      if ((await stat(target).catch(() => undefined))?.isDirectory()) throw new ArtifactIsDirectoryError();
      await rename(temp, target);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async delete(path: string): Promise<void> {
    await rm(await this.localPath(path), { recursive: true, force: true });
  }

  /**
   * The local path of `path`, checked lexically and again after resolving symlinks of the part that
   * exists, so neither `..` nor a symlink leaves the root.
   */
  private async localPath(path: string): Promise<string> {
    const target = resolve(this.root, normalizeArtifactPath(path));
    if (!isWithin(this.root, target)) throw new InvalidArtifactPathError();
    const realRoot = await realpath(this.root).catch(() => undefined);
    if (realRoot === undefined) return target; // no root yet: nothing in it can point elsewhere
    let existing = target;
    const rest: string[] = [];
    while (!(await lstat(existing).then(() => true, () => false))) {
      rest.unshift(basename(existing));
      existing = dirname(existing);
    }
    const real = join(await realpath(existing).catch(() => existing), ...rest);
    if (!isWithin(realRoot, real)) throw new InvalidArtifactPathError();
    return target;
  }
}
