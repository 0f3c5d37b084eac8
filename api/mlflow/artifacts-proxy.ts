import { basename, extname } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ArtifactFile, type ArtifactRepository, normalizeArtifactPath } from '../../storage/artifact-repository';
import { joinUri } from '../../storage/object-store';
import { MlflowError } from './errors';

/**
 * MLflow's proxied artifact service (`mlflow server --serve-artifacts`, `mlflow_artifacts.proto`)
 * over the artifact root, file:// or s3://. `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/x` is
 * `<artifact root>/<experiment_id>/<run_id>/artifacts/x`: the same tree stage runs write to
 * (activities/tracking.ts runArtifactUri).
 */
export const MLFLOW_ARTIFACTS_PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'] as const;

/** Uploads larger than this answer 413. */
export const MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024; // 1 GiB

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

/** True for the artifact URIs the proxy serves: `mlflow-artifacts:/…` (also `mlflow-artifacts://host/…`). */
export const isProxiedArtifactUri = (uri: string): boolean => /^mlflow-artifacts:/i.test(uri);

/**
 * The artifact-root URI behind an `mlflow-artifacts:` URI (MLflow's `_get_proxied_run_artifact_destination_path`:
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

/** Sends a stored file as MLflow's artifact routes do: its guessed type, size and an attachment header. */
export function sendArtifactFile(reply: FastifyReply, path: string, file: ArtifactFile): FastifyReply {
  const name = basename(path);
  return reply
    .header('content-type', guessMimeType(name))
    .header('content-length', file.size)
    .header('content-disposition', contentDisposition(name))
    .header('x-content-type-options', 'nosniff')
    .send(file.body);
}

// ---- handlers -------------------------------------------------------------------------------------

const GIB = 1024 * 1024 * 1024;
const tooLarge = (limit: number): MlflowError =>
  new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `The artifact is larger than the limit of ${limit % GIB === 0 ? `${limit / GIB} GiB` : `${limit} bytes`}`,
    413,
  );

/** Counts bytes on their way to storage and fails the upload past the limit. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? tooLarge(limit) : null, chunk);
    },
  });
}

export interface MlflowArtifactRouteDeps {
  /** The tree under the artifact root that the proxy serves. */
  artifacts: ArtifactRepository;
  /** Upload limit in bytes; MAX_ARTIFACT_BYTES by default. */
  maxArtifactBytes?: number;
}

const pathParam = (params: unknown): string => (params as Record<string, string | undefined>)['*'] ?? '';

/** The path of a write or delete: never the whole store. */
function targetPath(params: unknown): string {
  const path = validateArtifactPath(pathParam(params));
  if (normalizeArtifactPath(path) === '') throw invalidPath();
  return path;
}

function artifactRoutes(scope: FastifyInstance, deps: MlflowArtifactRouteDeps): void {
  const { artifacts } = deps;
  const limit = deps.maxArtifactBytes ?? MAX_ARTIFACT_BYTES;
  // Uploads are raw bytes of any content type, streamed: the body reaches the handler unread.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  scope.put('/artifacts/*', async (request, reply) => {
    const body = (request.body as Readable | undefined) ?? request.raw;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      body.resume();
      void reply.header('connection', 'close');
      throw tooLarge(limit);
    }
    const path = targetPath(request.params);
    const limited = body.pipe(byteLimit(limit));
    body.once('error', (err) => limited.destroy(err));
    try {
      await artifacts.write(path, limited);
    } catch (err) {
      if (err instanceof MlflowError && err.httpStatus === 413) void reply.header('connection', 'close');
      throw err;
    }
    return {};
  });

  scope.get('/artifacts/*', async (request, reply) => {
    const path = validateArtifactPath(pathParam(request.params));
    const found = await artifacts.read(path);
    if (!found) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No such artifact: '${path}'`);
    if (found.isDir) throw new MlflowError('INVALID_PARAMETER_VALUE', `Artifact path refers to a directory, not a file: '${path}'`);
    return sendArtifactFile(reply, path, found);
  });

  /** MLflow's JSON: basenames relative to the listed folder, `{}` for an empty, missing or non-folder path. */
  scope.get('/artifacts', async (request) => {
    const query = request.query as Record<string, unknown>;
    const raw = query.path;
    if (raw !== undefined && typeof raw !== 'string') throw invalidPath();
    const path = raw === undefined ? '' : validateArtifactPath(raw);
    const atRoot = normalizeArtifactPath(path) === '';
    const files = (await artifacts.list(path))
      .filter((entry) => !(atRoot && RESERVED_TOP_LEVEL.has(entry.name)))
      .map((entry) => (entry.isDir ? { path: entry.name, is_dir: true } : { path: entry.name, is_dir: false, file_size: entry.size }));
    return files.length > 0 ? { files } : {};
  });

  // No multipart upload (MLflow's proxy has it for cloud stores only): clients that try it
  // (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) fall back to one PUT on exactly this message.
  for (const step of ['create', 'complete', 'abort']) {
    scope.post(`/mpu/${step}/*`, (request) => {
      (request.body as Readable | undefined)?.resume();
      validateArtifactPath(pathParam(request.params));
      throw new MlflowError('NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository');
    });
  }

  scope.delete('/artifacts/*', async (request) => {
    (request.body as Readable | undefined)?.resume();
    await artifacts.delete(targetPath(request.params));
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
