import { execFile } from 'node:child_process';
import { access, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { canonicalJson } from '../domain/canonical-json';
import { joinUri, type ObjectStore } from './object-store';
import { digestOf, sha256File } from './digest';

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

/** An archive whose content exceeds MAX_BUNDLE_BYTES. */
export class CodeBundleTooLargeError extends CodeBundleError {}

/** Where a bundle with this digest lives under the artifact root. */
export const codeBundleUri = (artifactRoot: string, digest: string): string =>
  joinUri(artifactRoot, 'code-bundles', `${digest.replace(':', '-')}.tar.gz`);

/**
 * The files of `dir` that make up its code bundle, sorted: what git tracks plus untracked files it
 * does not ignore, or every file when `dir` is not in a git work tree (`useGit: false` always walks).
 * Never local state or dependency folders, and only regular files (no symlinks). The CLI archives
 * exactly these before uploading, so the server's digest equals packing `dir` directly.
 */
export async function listCodeFiles(dir: string, opts: { useGit?: boolean } = {}): Promise<string[]> {
  return listFiles(dir, opts.useGit !== false && (await gitSource(dir)) !== undefined);
}

async function listFiles(dir: string, inGit: boolean): Promise<string[]> {
  const paths = (inGit ? await gitListedFiles(dir) : await walkFiles(dir)).sort();
  const files: string[] = [];
  for (const path of paths) {
    const info = await lstat(join(dir, path)).catch(() => undefined);
    if (info?.isFile()) files.push(path); // not: deleted but still tracked, or a symlink
  }
  return files;
}

/**
 * Packs `dir` into a content-addressed bundle (the files of `listCodeFiles`). Equal content gives an
 * equal digest, and a bundle already stored is not written again. `useGit: false` ignores git
 * entirely (for folders the server unpacked from an upload: their git facts come from the client).
 */
export async function packCodeBundle(dir: string, artifactRoot: string, store: ObjectStore, opts: { useGit?: boolean } = {}): Promise<CodeBundle> {
  const git = opts.useGit === false ? undefined : await gitSource(dir);
  const paths = await listFiles(dir, git !== undefined);
  // An archive of nothing cannot be written; a launch from such a folder is a mistake to name.
  if (paths.length === 0) throw new CodeBundleError(`${dir} holds no files to pack${git ? ' (or git ignores every file in it)' : ''}`);
  const files: CodeFile[] = [];
  let bytes = 0;
  for (const path of paths) {
    const info = await lstat(join(dir, path));
    bytes += info.size;
    if (bytes > MAX_BUNDLE_BYTES) {
      throw new CodeBundleError(
        `code in ${dir} exceeds ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB; keep data out of the pipeline folder (or .gitignore it) and declare it as an input`,
      );
    }
    files.push({ path, sha256: await sha256File(join(dir, path)), size: info.size, executable: (info.mode & 0o111) !== 0 });
  }
  const digest = digestOf(canonicalJson(files));
  const uri = codeBundleUri(artifactRoot, digest);
  if (!(await store.exists(uri))) {
    const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-bundle-'));
    try {
      const archive = join(scratch, 'bundle.tar.gz');
      await writeCodeArchive(dir, files.map((f) => f.path), archive);
      await store.upload(archive, uri);
      await writeFile(join(scratch, 'manifest.json'), canonicalJson(files));
      await store.upload(join(scratch, 'manifest.json'), uri.replace(/\.tar\.gz$/, '.json'));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return { digest, uri, files, bytes, ...(git ? { git } : {}) };
}

/** A link cache that never remembers, so hard-linked files are archived as plain files (uploads refuse links). */
class NoHardLinks extends Map<`${number}:${number}`, string> {
  override get(): undefined {
    return undefined;
  }
  override set(): this {
    return this;
  }
}

/** Writes `paths` (relative to `dir`) as a reproducible gzip tar: the format of bundles and uploads. */
export async function writeCodeArchive(dir: string, paths: string[], archive: string): Promise<void> {
  await tar.create({ gzip: true, file: archive, cwd: dir, portable: true, mtime: EPOCH, noDirRecurse: true, linkCache: new NoHardLinks() }, paths);
}

/** Entry types an uploaded archive may hold; links, devices and FIFOs are refused. */
const ALLOWED_ENTRY_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Checks every entry of an uploaded archive, then extracts it into `destDir`. Refused, with the
 * entry named and nothing extracted: absolute paths, `..`, symlinks, hard links, devices, FIFOs,
 * unreadable files, and more than MAX_BUNDLE_BYTES of content. Throws CodeBundleError.
 */
export async function extractUploadedArchive(archive: string, destDir: string): Promise<void> {
  const problems: string[] = [];
  let bytes = 0;
  try {
    await tar.list({
      file: archive,
      strict: true,
      onReadEntry: (entry) => {
        const path = entry.path;
        const what = `archive entry '${path}'`;
        if (!ALLOWED_ENTRY_TYPES.has(entry.type)) {
          problems.push(`${what}: ${entry.type === 'SymbolicLink' ? 'symbolic links' : entry.type === 'Link' ? 'hard links' : `${entry.type} entries`} are not allowed`);
        } else if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
          problems.push(`${what}: absolute paths are not allowed`);
        } else if (path.split('/').includes('..')) {
          problems.push(`${what}: '..' is not allowed in paths`);
        } else if (entry.type !== 'Directory' && ((entry.mode ?? 0o644) & 0o400) === 0) {
          problems.push(`${what}: the file is not readable by its owner`);
        }
        bytes += entry.size;
        entry.resume();
      },
    });
  } catch (err) {
    throw new CodeBundleError(`not a readable gzip tar archive: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new CodeBundleError(problems.join('\n'));
  if (bytes > MAX_BUNDLE_BYTES) {
    throw new CodeBundleTooLargeError(`the archive unpacks to more than ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB`);
  }
  await mkdir(destDir, { recursive: true });
  // The checks above already ran; the filter is a second guard should the two reads ever differ.
  try {
    await tar.extract({
      file: archive,
      cwd: destDir,
      strict: true,
      filter: (path, entry) => 'type' in entry && ALLOWED_ENTRY_TYPES.has(entry.type) && !path.split('/').includes('..') && !path.startsWith('/'),
    });
  } catch (err) {
    // E.g. a file and a folder of the same name.
    throw new CodeBundleError(`cannot unpack the archive: ${(err as Error).message}`);
  }
}

/** Unpacks a bundle into `destDir`, which becomes the stage's working directory. */
export async function unpackCodeBundle(archivePath: string, destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  await tar.extract({ file: archivePath, cwd: destDir, strict: true });
}

async function git(dir: string, args: string[]): Promise<string> {
  // git reads GIT_DIR from the same environment mayBeInGitWorkTree does (under jest, a copy of the process's).
  const { stdout } = await execFileAsync('git', ['-C', dir, ...args], { env: process.env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The commit, branch and dirtiness of the work tree holding `dir`; undefined outside git (or before the first commit). */
export async function gitSource(dir: string): Promise<GitSource | undefined> {
  // Every launch from a folder packs it, and each git process is a noticeable share of that: none
  // for a folder no repository holds, one where it can be, two more at once.
  if (!(await mayBeInGitWorkTree(dir))) return undefined;
  let commit: string | undefined;
  try {
    const [inside, head] = (await git(dir, ['rev-parse', '--is-inside-work-tree', 'HEAD'])).trim().split('\n');
    if (inside !== 'true') return undefined;
    commit = head;
  } catch {
    return undefined; // no git, not a work tree, or a repository without commits yet: plain files
  }
  if (!commit) return undefined;
  const [branch, status] = await Promise.all([
    git(dir, ['symbolic-ref', '--short', '-q', 'HEAD']).then((s) => s.trim(), () => ''),
    git(dir, ['status', '--porcelain', '--', '.']),
  ]);
  return { commit, ...(branch ? { branch } : {}), dirty: status.trim().length > 0 };
}

/**
 * False only when git could not find a work tree for `dir`: no GIT_DIR in the environment and no
 * `.git` (a folder, or the file of a linked work tree or submodule) in `dir` or above it.
 */
async function mayBeInGitWorkTree(dir: string): Promise<boolean> {
  if (process.env.GIT_DIR !== undefined) return true;
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (await access(join(at, '.git')).then(() => true, () => false)) return true;
    if (dirname(at) === at) return false;
  }
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
