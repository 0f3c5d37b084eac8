import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { canonicalJson } from '../domain/canonical-json';
import { joinUri, type ObjectStore } from './object-store';

const execFileAsync = promisify(execFile);

/** Bundles past this size are almost always data or environments committed by mistake. */
export const MAX_BUNDLE_BYTES = 200 * 1024 * 1024;
// Fixed mtime so equal content always yields byte-identical archives.
const EPOCH = new Date(0);
// Never part of a bundle, even outside git: local state and dependency folders.
const ALWAYS_SKIPPED = new Set(['.git', '.mlfleet', '.tools', 'node_modules', '.venv', '__pycache__']);

export interface CodeFile {
  path: string;
  sha256: string;
  size: number;
  executable: boolean;
}

export interface GitSource {
  commit: string;
  branch?: string;
  dirty: boolean;
}

export interface CodeBundle {
  /** `sha256:<hex>` of the canonical file manifest: the launch's code digest. */
  digest: string;
  uri: string;
  files: CodeFile[];
  bytes: number;
  git?: GitSource;
}

export class CodeBundleError extends Error {}

/** Where a bundle with this digest lives under the artifact root. */
export const codeBundleUri = (artifactRoot: string, digest: string): string =>
  joinUri(artifactRoot, 'code-bundles', `${digest.replace(':', '-')}.tar.gz`);

/**
 * Packs `dir` into a content-addressed bundle: what git tracks plus untracked files it does not
 * ignore, or every file when `dir` is not in a git work tree. Equal content gives an equal digest,
 * and a bundle already stored is not written again.
 */
export async function packCodeBundle(dir: string, artifactRoot: string, store: ObjectStore): Promise<CodeBundle> {
  const git = await gitSource(dir);
  const paths = (git ? await gitListedFiles(dir) : await walkFiles(dir)).sort();
  const files: CodeFile[] = [];
  let bytes = 0;
  for (const path of paths) {
    const info = await lstat(join(dir, path)).catch(() => undefined);
    if (!info?.isFile()) continue; // deleted but still tracked, or a symlink
    bytes += info.size;
    if (bytes > MAX_BUNDLE_BYTES) {
      throw new CodeBundleError(
        `code in ${dir} exceeds ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB; keep data out of the pipeline folder (or .gitignore it) and declare it as an input`,
      );
    }
    files.push({ path, sha256: await sha256File(join(dir, path)), size: info.size, executable: (info.mode & 0o111) !== 0 });
  }
  const digest = `sha256:${createHash('sha256').update(canonicalJson(files)).digest('hex')}`;
  const uri = codeBundleUri(artifactRoot, digest);
  if (!(await store.exists(uri))) {
    const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-bundle-'));
    try {
      const archive = join(scratch, 'bundle.tar.gz');
      await tar.create({ gzip: true, file: archive, cwd: dir, portable: true, mtime: EPOCH, noDirRecurse: true }, files.map((f) => f.path));
      await store.upload(archive, uri);
      await writeFile(join(scratch, 'manifest.json'), canonicalJson(files));
      await store.upload(join(scratch, 'manifest.json'), uri.replace(/\.tar\.gz$/, '.json'));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return { digest, uri, files, bytes, ...(git ? { git } : {}) };
}

/** Unpacks a bundle into `destDir`, which becomes the stage's working directory. */
export async function unpackCodeBundle(archivePath: string, destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  await tar.extract({ file: archivePath, cwd: destDir, strict: true });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', ['-C', dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function gitSource(dir: string): Promise<GitSource | undefined> {
  try {
    if ((await git(dir, ['rev-parse', '--is-inside-work-tree'])).trim() !== 'true') return undefined;
  } catch {
    return undefined; // no git, or not a work tree
  }
  const commit = await git(dir, ['rev-parse', 'HEAD']).then((s) => s.trim(), () => '');
  if (!commit) return undefined; // a repository without commits yet: treat as plain files
  const branch = await git(dir, ['symbolic-ref', '--short', '-q', 'HEAD']).then((s) => s.trim(), () => '');
  const dirty = (await git(dir, ['status', '--porcelain', '--', '.'])).trim().length > 0;
  return { commit, ...(branch ? { branch } : {}), dirty };
}

async function gitListedFiles(dir: string): Promise<string[]> {
  const out = await git(dir, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '.']);
  return out.split('\0').filter((p) => p && !p.split('/').some((part) => ALWAYS_SKIPPED.has(part)));
}

async function walkFiles(root: string, dir = root): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (ALWAYS_SKIPPED.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walkFiles(root, full)));
    else if (entry.isFile()) found.push(relative(root, full).split(sep).join('/'));
  }
  return found;
}
