import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { filePathOf } from '../../storage/file-store';
import { joinUri } from '../../storage/object-store';
import { MlflowError } from './errors';

/**
 * MLflow's proxied artifact service (`mlflow server --serve-artifacts`, `mlflow_artifacts.proto`)
 * over the file:// artifact root. `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/x` is
 * `<artifact root>/<experiment_id>/<run_id>/artifacts/x`: the same tree stage runs write to
 * (activities/tracking.ts runArtifactUri).
 */
export const MLFLOW_ARTIFACTS_PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'] as const;

/** Uploads larger than this answer 413. */
export const MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024; // 1 GiB

/** Uploads in progress are written next to their target under this prefix (MLflow's own), and never listed. */
const TEMP_PREFIX = '.artifact.uploading.';

/** Top-level folders of the artifact root that are mlfleet's, not MLflow's: never served, listed or written. */
const RESERVED_TOP_LEVEL = new Set(['code-bundles']);

const invalidPath = (): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', 'Invalid path');

/** MLflow's `_decode`: percent-decodes until the path stops changing (at most 10 times). */
function decodeRepeatedly(path: string): string {
  let decoded = path;
  for (let i = 0; i < 10; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      throw invalidPath();
    }
    if (next === decoded) return decoded;
    decoded = next;
  }
  throw invalidPath();
}

/**
 * MLflow's `validate_path_is_safe` (plus NUL and `file:`): the decoded, relative, '/'-separated
 * path, or INVALID_PARAMETER_VALUE "Invalid path". Used for run artifact paths and the proxy alike.
 */
export function safeRelativePath(path: string): string {
  const decoded = decodeRepeatedly(path);
  if (
    decoded.includes('#') ||
    decoded.includes('\0') ||
    decoded.split('/').includes('..') ||
    decoded.startsWith('/') ||
    decoded.startsWith('\\') ||
    /^[a-zA-Z]:/.test(decoded) ||
    /^file:/i.test(decoded)
  ) {
    throw invalidPath();
  }
  return decoded;
}

/** A path in the proxied store: safe, and outside mlfleet's reserved folders. */
export function validateArtifactPath(path: string): string {
  const decoded = safeRelativePath(path);
  if (RESERVED_TOP_LEVEL.has(decoded.split('/').find((s) => s !== '' && s !== '.') ?? '')) throw invalidPath();
  return decoded;
}

/** The root folder of the proxied artifact store; 501 while the artifact root is not file://. */
function proxyRootDir(artifactRoot: string): string {
  if (!artifactRoot.startsWith('file://')) {
    throw new MlflowError('NOT_IMPLEMENTED', `The proxied artifact store only supports a file:// artifact root, not ${artifactRoot}`);
  }
  return resolve(filePathOf(artifactRoot));
}

const isWithin = (root: string, path: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * The local path of a validated relative path under `root`, checked lexically and again after
 * resolving symlinks of the part that exists, so neither `..` nor a symlink leaves the root.
 */
async function localPathOf(root: string, relativePath: string): Promise<string> {
  const target = resolve(root, relativePath);
  if (!isWithin(root, target)) throw invalidPath();
  const realRoot = await realpath(root).catch(() => undefined);
  if (realRoot === undefined) return target; // no root yet: nothing in it can point elsewhere
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    const info = await lstat(existing).catch(() => undefined);
    if (info) break;
    rest.unshift(basename(existing));
    existing = dirname(existing);
  }
  const real = join(await realpath(existing).catch(() => existing), ...rest);
  if (!isWithin(realRoot, real)) throw invalidPath();
  return target;
}

/** True for the artifact URIs the proxy serves: `mlflow-artifacts:/…` (also `mlflow-artifacts://host/…`). */
export const isProxiedArtifactUri = (uri: string): boolean => /^mlflow-artifacts:/i.test(uri);

/**
 * The file:// URI behind an `mlflow-artifacts:` URI (MLflow's `_get_proxied_run_artifact_destination_path`:
 * the URI's path under the artifact root); "Invalid path" if that path would leave the root.
 */
export function resolveProxiedArtifactUri(artifactRoot: string, uri: string): string {
  let path = uri.replace(/^mlflow-artifacts:/i, '');
  if (path.startsWith('//')) path = path.slice(2).replace(/^[^/]*/, ''); // drop the netloc
  const relativePath = path.replace(/^\/+/, '');
  if (relativePath !== '') validateArtifactPath(relativePath);
  return joinUri(artifactRoot, relativePath);
}

// ---- content types (MLflow's `_guess_mime_type`: its text extensions, then Python's mimetypes) ----

const TEXT_EXTENSIONS = new Set([
  'txt', 'log', 'err', 'cfg', 'conf', 'cnf', 'cf', 'ini', 'properties', 'prop', 'hocon', 'toml', 'yaml', 'yml', 'xml',
  'json', 'js', 'py', 'py3', 'csv', 'tsv', 'md', 'rst', 'ipynb', 'MLmodel', 'MLproject',
]); // prettier-ignore

/** The subset of Python's `mimetypes` table artifacts commonly hit. */
const MIME_TYPES: Readonly<Record<string, string>> = {
  '.bmp': 'image/bmp',
  '.css': 'text/css',
  '.csv': 'text/csv',
  '.gif': 'image/gif',
  '.htm': 'text/html',
  '.html': 'text/html',
  '.ico': 'image/vnd.microsoft.icon',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.tar': 'application/x-tar',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.txt': 'text/plain',
  '.wav': 'audio/x-wav',
  '.webp': 'image/webp',
  '.xml': 'text/xml',
  '.zip': 'application/zip',
};
const ENCODING_SUFFIXES = new Set(['.gz', '.bz2', '.xz', '.br', '.Z']);

export function guessMimeType(fileName: string): string {
  const ext = extname(fileName).replace('.', '');
  if (TEXT_EXTENSIONS.has(ext === '' ? fileName : ext)) return 'text/plain';
  let name = fileName.replace(/\.tgz$/, '.tar.gz');
  if (ENCODING_SUFFIXES.has(extname(name))) name = name.slice(0, -extname(name).length);
  const last = extname(name);
  return MIME_TYPES[last] ?? MIME_TYPES[last.toLowerCase()] ?? 'application/octet-stream';
}

/** Werkzeug's `quote_header_value(filename, allow_token=True)` inside MLflow's attachment header. */
function contentDisposition(fileName: string): string {
  const quote = (value: string) => (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value) ? value : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(fileName)) return `attachment; filename=${quote(fileName)}`;
  // eslint-disable-next-line no-control-regex
  const fallback = fileName.normalize('NFKD').replace(/[^\x00-\x7f]/g, '') || 'download';
  const encoded = encodeURIComponent(fileName).replace(/[!'()*]/g, (c) => (c === '!' ? c : `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  return `attachment; filename=${quote(fallback)}; filename*=UTF-8''${encoded}`;
}

// ---- handlers -------------------------------------------------------------------------------------

interface ListedFile {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** LocalArtifactRepository.list_artifacts, then basenames: `{}` for an empty, missing or non-folder path. */
async function listFolder(dir: string, atRoot: boolean): Promise<{ files?: ListedFile[] }> {
  const entries = await readdir(dir).catch(() => undefined);
  if (!entries) return {};
  const files: ListedFile[] = [];
  for (const name of entries.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name.startsWith(TEMP_PREFIX) || (atRoot && RESERVED_TOP_LEVEL.has(name))) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (!info) continue; // a dangling symlink
    files.push(info.isDirectory() ? { path: name, is_dir: true } : { path: name, is_dir: false, file_size: info.size });
  }
  return files.length > 0 ? { files } : {};
}

const GIB = 1024 * 1024 * 1024;
const tooLarge = (limit: number): MlflowError =>
  new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `The artifact is larger than the limit of ${limit % GIB === 0 ? `${limit / GIB} GiB` : `${limit} bytes`}`,
    413,
  );

/** Counts bytes on their way to disk and fails the upload past the limit. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? tooLarge(limit) : null, chunk);
    },
  });
}

/** Streams the body to a hidden temp file beside the target, then renames it into place. */
async function writeArtifact(source: Readable, target: string, limit: number): Promise<void> {
  const folder = dirname(target);
  await mkdir(folder, { recursive: true });
  const temp = join(folder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    await pipeline(source, byteLimit(limit), createWriteStream(temp, { flags: 'wx' }));
    const existing = await stat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new MlflowError('INVALID_PARAMETER_VALUE', 'Artifact path refers to a directory, not a file');
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

export interface MlflowArtifactRouteDeps {
  /** The file:// artifact root the proxy serves. */
  artifactRoot: string;
  /** Upload limit in bytes; MAX_ARTIFACT_BYTES by default. */
  maxArtifactBytes?: number;
}

function artifactRoutes(scope: FastifyInstance, deps: MlflowArtifactRouteDeps): void {
  const limit = deps.maxArtifactBytes ?? MAX_ARTIFACT_BYTES;
  // Uploads are raw bytes of any content type, streamed: the body reaches the handler unread.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const pathParam = (params: unknown): string => (params as Record<string, string | undefined>)['*'] ?? '';

  scope.put('/artifacts/*', async (request, reply) => {
    const body = (request.body as Readable | undefined) ?? request.raw;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      body.resume();
      void reply.header('connection', 'close');
      throw tooLarge(limit);
    }
    const path = validateArtifactPath(pathParam(request.params));
    const relative = path.replace(/\/+$/, '');
    if (relative === '' || relative === '.') throw invalidPath();
    const root = proxyRootDir(deps.artifactRoot);
    const target = await localPathOf(root, relative);
    if (target === root) throw invalidPath();
    try {
      await writeArtifact(body, target, limit);
    } catch (err) {
      if (err instanceof MlflowError && err.httpStatus === 413) void reply.header('connection', 'close');
      throw err;
    }
    return {};
  });

  scope.get('/artifacts/*', async (request, reply) => {
    const path = validateArtifactPath(pathParam(request.params));
    const root = proxyRootDir(deps.artifactRoot);
    const local = await localPathOf(root, path);
    const info = await stat(local).catch(() => undefined);
    if (!info) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No such artifact: '${path}'`);
    if (info.isDirectory()) throw new MlflowError('INVALID_PARAMETER_VALUE', `Artifact path refers to a directory, not a file: '${path}'`);
    const mime = guessMimeType(basename(local));
    return reply
      .header('content-type', mime)
      .header('content-length', info.size)
      .header('content-disposition', contentDisposition(basename(path)))
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(local));
  });

  scope.get('/artifacts', async (request) => {
    const query = request.query as Record<string, unknown>;
    const raw = query.path;
    if (raw !== undefined && typeof raw !== 'string') throw invalidPath();
    const path = raw === undefined ? '' : validateArtifactPath(raw);
    const root = proxyRootDir(deps.artifactRoot);
    const dir = await localPathOf(root, path);
    return listFolder(dir, dir === root);
  });

  // Local files have no multipart upload, as with MLflow's LocalArtifactRepository: clients that try
  // it (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) fall back to one PUT on exactly this message.
  for (const step of ['create', 'complete', 'abort']) {
    scope.post(`/mpu/${step}/*`, (request) => {
      (request.body as Readable | undefined)?.resume();
      validateArtifactPath(pathParam(request.params));
      throw new MlflowError('NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository');
    });
  }

  scope.delete('/artifacts/*', async (request) => {
    (request.body as Readable | undefined)?.resume();
    const path = validateArtifactPath(pathParam(request.params));
    const root = proxyRootDir(deps.artifactRoot);
    const local = await localPathOf(root, path);
    if (local === root) throw invalidPath(); // never the whole store
    await rm(local, { recursive: true, force: true });
    return {};
  });
}

/** Registers the proxied artifact service under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`. */
export function registerMlflowArtifactRoutes(app: FastifyInstance, deps: MlflowArtifactRouteDeps): void {
  for (const prefix of MLFLOW_ARTIFACTS_PREFIXES) {
    void app.register(
      (scope, _opts, done) => {
        artifactRoutes(scope, deps);
        done();
      },
      { prefix },
    );
  }
}
