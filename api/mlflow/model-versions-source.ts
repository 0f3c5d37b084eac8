import type { Queryable } from '../../store/pool';
import { getLoggedModel, type LoggedModel } from '../../store/logged-models';
import { downloadUriOf, getModelVersion } from '../../store/model-versions';
import { aliasedVersion, getLatestVersions, registeredModelKind } from '../../store/registered-models';
import { getRunInfo } from '../../store/run-reads';
import { MlflowError, invalidValue } from './errors';
import { loggedModelNotFound } from './logged-models';
import { canonicalStage, modelVersionNotFound, parseVersion, registeredModelNotFound } from './registered-models-wire';

// What model-versions/create may register, as MLflow's handler checks it (_validate_source_run,
// _validate_source_model, _resolve_registered_model_source_lineage) and its store resolves it: a
// source must name files of the run or logged model it claims, never a host the server would
// connect to, and a models:/ source is read through to the files it stands for.

/** The parts of a URI as Python's urllib.parse.urlparse splits them. */
interface UriParts {
  scheme: string;
  netloc: string;
  path: string;
}

function urlparse(uri: string): UriParts {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  let rest = scheme ? uri.slice(scheme[0].length) : uri;
  let netloc = '';
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, end + 2);
    rest = end < 0 ? '' : rest.slice(end + 2);
  }
  let path = rest.split(/[?#]/)[0] ?? '';
  // urlparse keeps `;params` of the last segment apart from the path.
  const lastSlash = path.lastIndexOf('/');
  const params = path.indexOf(';', lastSlash + 1);
  if (params >= 0) path = path.slice(0, params);
  return { scheme: scheme?.[1]?.toLowerCase() ?? '', netloc, path };
}

/** Python's urllib.parse.unquote (with `plus`, unquote_plus): %XX as UTF-8 bytes, malformed escapes left as they are. */
function unquote(value: string, plus = false): string {
  const text = plus ? value.replace(/\+/g, ' ') : value;
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const escape = /^%[0-9A-Fa-f]{2}/.exec(text.slice(i));
    if (escape) {
      bytes.push(Number.parseInt(escape[0].slice(1), 16));
      i += 3;
    } else {
      const ch = String.fromCodePoint(text.codePointAt(i) as number);
      bytes.push(...Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const iterate = (value: string, step: (v: string) => string): string => {
  let current = value;
  for (let next = step(current); next !== current; next = step(current)) current = next;
  return current;
};

const invalidSource = (source: string, idName: 'run_id' | 'model_id'): MlflowError =>
  invalidValue(`Invalid model version source: '${source}'. The ${idName} request parameter must identify the resource that contains the source.`);

/** MLflow's _validate_non_local_source_contains_relative_paths: an absolute path without `.` or `..` parts. */
function refuseRelativePaths(source: string): void {
  const unquoted = iterate(source, (v) => unquote(v, true));
  const path = urlparse(unquoted).path.replace(/\/+$/, '').replace(/\/+/g, '/');
  const relative =
    path.includes('\0') ||
    unquoted.split('/').includes('..') ||
    // Python resolves a relative path against the working directory, and normalizes `.` and `..` away.
    !path.startsWith('/') ||
    path.split('/').some((part) => part === '.' || part === '..');
  if (relative) {
    throw invalidValue(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, ` +
        'or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.',
    );
  }
}

/** Schemes whose artifact repositories connect to the host in the URI (MLflow's host policy); mlfleet trusts none. */
const HOST_ADDRESSED = new Set(['ftp', 'sftp', 'hdfs', 'viewfs', 'http', 'https', 'mlflow-artifacts', 'r2', 'b2', 'abfss']);

/** MLflow's _validate_artifact_uri_scheme for the `source` field. */
export function refuseHostAddressedSource(source: string): void {
  const { scheme, netloc } = urlparse(source);
  if (!HOST_ADDRESSED.has(scheme) || (scheme === 'mlflow-artifacts' && netloc === '')) return;
  throw invalidValue(
    `'source' cannot use the '${scheme}' scheme: the '${scheme}' scheme addresses a host other than the tracking server's configured ` +
      'artifact storage, so the server would connect to the host named in the URI. ' +
      'Set the MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES environment variable on the server to allow it.',
  );
}

/** MLflow's is_local_uri: a path, or a file: URI on this host. */
function isLocal(uri: string): boolean {
  const { scheme, netloc } = urlparse(uri);
  if (scheme === '') return true;
  if (scheme !== 'file') return false;
  const host = netloc.replace(/^.*@/, '').replace(/:\d*$/, '');
  if (host !== '' && host !== '.' && !host.startsWith('localhost') && !host.startsWith('127.0.0.1')) {
    throw invalidValue(
      `${uri} is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>).`,
    );
  }
  return true;
}

/** The absolute, normalized path of a local URI (MLflow's local_file_uri_to_path, then resolve()). */
function localPath(uri: string): string {
  const raw = urlparse(uri).scheme === 'file' ? unquote(urlparse(uri).path) : uri;
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

const contains = (dir: string, path: string): boolean => path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);

/** MLflow's _is_uri_within_root: same scheme and authority, and the root's path segments lead the source's. */
function isWithinRoot(source: string, root: string): boolean {
  const partsOf = (uri: string) => {
    const p = urlparse(uri);
    return { scheme: p.scheme, authority: p.netloc.toLowerCase(), parts: p.path.split('/').filter(Boolean).map((s) => iterate(s, (v) => unquote(v))) };
  };
  const s = partsOf(source);
  const r = partsOf(root);
  return s.scheme === r.scheme && s.authority === r.authority && r.parts.length > 0 && r.parts.every((part, i) => s.parts[i] === part);
}

/** MLflow's _is_mlflow_artifact_source: served by a tracking server's artifact proxy. */
function isProxiedSource(source: string): boolean {
  const { scheme, path } = urlparse(source);
  if (scheme === 'mlflow-artifacts') return true;
  const parts = path.split('/').filter(Boolean);
  const route = ['api', '2.0', 'mlflow-artifacts', 'artifacts'];
  return (scheme === 'http' || scheme === 'https') && parts.some((_p, i) => route.every((r, j) => parts[i + j] === r));
}

/** The parts of a models:/ URI (MLflow's _parse_model_uri); undefined when it is not a proper one. */
export type ModelUri =
  | { modelId: string }
  | { name: string; version: string }
  | { name: string; stage: string }
  | { name: string; latest: true }
  | { name: string; alias: string };

export function parseModelUri(uri: string): ModelUri | undefined {
  const { scheme, path } = urlparse(uri);
  if (scheme !== 'models' || !path.startsWith('/') || path.length <= 1) return undefined;
  const parts = path.replace(/^\/+/, '').split('/');
  const [first = '', suffix] = parts;
  if (parts.length > 2 || first.trim() === '') return undefined;
  if (suffix !== undefined) {
    if (suffix.trim() === '') return undefined;
    if (/^\d+$/.test(suffix)) return { name: first, version: suffix };
    if (suffix.toLowerCase() === 'latest') return { name: first, latest: true };
    return { name: first, stage: suffix };
  }
  if (path.includes('@')) {
    const at = first.lastIndexOf('@');
    if (at < 0 || first.slice(at + 1).trim() === '') return undefined;
    return { name: first.slice(0, at), alias: first.slice(at + 1) };
  }
  return { modelId: first };
}

/** The logged model, if it exists and is not deleted. */
async function liveLoggedModel(db: Queryable, modelId: string): Promise<LoggedModel | undefined> {
  const model = await getLoggedModel(db, modelId);
  return model && !model.deleted ? model : undefined;
}

/** MLflow's _validate_source_run: what a version without a model_id may be registered from. */
async function validateSourceRun(db: Queryable, source: string, runId: string): Promise<void> {
  if (isLocal(source)) {
    let shown = source;
    if (runId) {
      const run = await getRunInfo(db, runId);
      if (!run) throw invalidSource(source, 'run_id');
      shown = localPath(source);
      if (isLocal(run.artifact_uri) && contains(localPath(run.artifact_uri), shown)) return;
    }
    throw invalidValue(
      `Invalid model version source: '${shown}'. To use a local path as a model version source, the run_id request parameter has to be ` +
        'specified and the local path has to be contained within the artifact directory of the run specified by the run_id.',
    );
  }
  refuseRelativePaths(source);
  const { scheme, netloc, path } = urlparse(source);
  if (scheme === 'runs') {
    const sourceRun = path.replace(/^\//, '').split('/')[0];
    if (netloc || !runId || sourceRun !== runId) throw invalidSource(source, 'run_id');
    return;
  }
  if (scheme === 'models' && (netloc || !parseModelUri(source) || 'modelId' in (parseModelUri(source) as ModelUri))) {
    throw invalidSource(source, 'model_id');
  }
  if (isProxiedSource(source)) {
    const run = runId ? await getRunInfo(db, runId) : undefined;
    if (!run || !isWithinRoot(source, run.artifact_uri)) throw invalidSource(source, 'run_id');
  }
}

/** MLflow's _validate_source_model: what a version with a model_id may be registered from. */
async function validateSourceModel(db: Queryable, source: string, modelId: string): Promise<void> {
  if (isLocal(source)) {
    const model = await liveLoggedModel(db, modelId);
    if (!model) throw invalidSource(source, 'model_id');
    const path = localPath(source);
    if (isLocal(model.artifactUri) && contains(localPath(model.artifactUri), path)) return;
    throw invalidValue(
      `Invalid model version source: '${path}'. To use a local path as a model version source, the model_id request parameter has to ` +
        'be specified and the local path has to be contained within the artifact directory of the run specified by the model_id.',
    );
  }
  refuseRelativePaths(source);
  const { scheme, netloc } = urlparse(source);
  if (scheme === 'models') {
    const parsed = parseModelUri(source);
    if (netloc || !parsed) throw invalidSource(source, 'model_id');
    if ('modelId' in parsed) {
      if (parsed.modelId === modelId) return;
      throw invalidSource(source, 'model_id');
    }
  }
  if (scheme === 'runs') throw invalidSource(source, 'model_id');
  if (isProxiedSource(source)) {
    const model = await liveLoggedModel(db, modelId);
    if (!model || !isWithinRoot(source, model.artifactUri)) throw invalidSource(source, 'model_id');
  }
}

/** The version a registry URI (not a logged model's) stands for (MLflow's get_model_name_and_version). */
async function versionOfUri(db: Queryable, uri: Exclude<ModelUri, { modelId: string }>): Promise<string> {
  if ('version' in uri) return uri.version;
  if ('alias' in uri) {
    if (uri.alias.toLowerCase() !== 'latest') {
      const aliased = await aliasedVersion(db, uri.name, uri.alias);
      if (aliased === 'no-model') throw registeredModelNotFound(uri.name);
      if (aliased === 'no-alias') throw invalidValue(`Registered model alias ${uri.alias} not found.`);
      return String(aliased);
    }
  }
  const stage = 'stage' in uri ? uri.stage : undefined;
  const versions = await getLatestVersions(db, uri.name, stage === undefined ? [] : [canonicalStage(stage)]);
  if (!versions) throw registeredModelNotFound(uri.name);
  if (versions.length === 0) {
    throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No versions of model with name '${uri.name}'${stage === undefined ? '' : ` and stage '${stage}'`} found`);
  }
  return String(Math.max(...versions.map((v) => v.version)));
}

/** What a version is registered from, once its source is checked and its files found. */
export interface ResolvedSource {
  source: string;
  /** Where the files are, when that is not the source itself. */
  storageLocation?: string;
  runId: string | null;
  modelId: string | null;
}

/**
 * Checks the source of a new (non-prompt) version and the run or logged model it claims: a
 * `models:/<name>/<version>`-like source becomes `models:/<name>/<number>` with that version's run
 * and logged model (unless the request gives them, which must then match). `runId` and `modelId`
 * are as the request gives them (null when absent). resolveStorage then finds the files.
 */
export async function checkSource(db: Queryable, input: { source: string; runId: string | null; modelId: string | null }): Promise<Omit<ResolvedSource, 'storageLocation'>> {
  let { source } = input;
  // An absent field reads as '' (protobuf's default), but only a given one must match a referenced version.
  let runId: string | null = input.runId ?? '';
  let modelId: string | null = input.modelId ?? '';
  const { scheme, netloc } = urlparse(source);
  if (scheme === 'models') {
    if (netloc) {
      throw invalidValue(`Invalid model version source: '${source}'. Registered model sources must use the active model registry.`);
    }
    const parsed = parseModelUri(source);
    if (!parsed) throw invalidSource(source, 'model_id');
    if (!('modelId' in parsed)) {
      const kind = await registeredModelKind(db, parsed.name);
      if (!kind) throw registeredModelNotFound(parsed.name);
      if (kind === 'prompt') {
        throw invalidValue(`Invalid model version source: '${source}'. Prompt versions cannot be used as model version sources.`);
      }
      const number = parseVersion(await versionOfUri(db, parsed));
      const referenced = number.storable ? await getModelVersion(db, parsed.name, number.value) : undefined;
      if (!referenced) throw modelVersionNotFound(parsed.name, number.text);
      if ((input.runId !== null && input.runId !== (referenced.runId ?? '')) || (input.modelId !== null && input.modelId !== (referenced.modelId ?? ''))) {
        throw invalidValue(`Invalid model version source: '${source}'. The run_id and model_id request parameters must match the referenced model version.`);
      }
      source = `models:/${parsed.name}/${referenced.version}`;
      if (input.runId === null) runId = referenced.runId ?? null;
      if (input.modelId === null) modelId = referenced.modelId ?? null;
    }
  }
  if (modelId) await validateSourceModel(db, source, modelId);
  else await validateSourceRun(db, source, runId ?? '');
  return { source, runId, modelId: modelId || null };
}

/**
 * Where the files of a checked source are, and the run it came from (MLflow's create_model_version):
 * a logged model's source run stands in for a run the request does not give.
 */
export async function resolveStorage(db: Queryable, source: string, runId: string | null, modelId: string | null): Promise<ResolvedSource> {
  let storageLocation: string | undefined;
  let resolvedRun = runId;
  const unfetchable = (why: string) => invalidValue(`Unable to fetch model from model URI source artifact location '${source}'.Error: ${why}`);
  if (urlparse(source).scheme === 'models') {
    const parsed = parseModelUri(source);
    if (!parsed) throw unfetchable(`Not a proper models:/ URI: ${source}.`);
    if ('modelId' in parsed) {
      const model = await liveLoggedModel(db, parsed.modelId);
      if (!model) throw unfetchable(loggedModelNotFound(parsed.modelId).message);
      storageLocation = model.artifactUri;
      resolvedRun = runId || (model.sourceRunId ?? null);
    } else if ('version' in parsed) {
      const number = parseVersion(parsed.version);
      const version = number.storable ? await getModelVersion(db, parsed.name, number.value) : undefined;
      if (!version) throw unfetchable(modelVersionNotFound(parsed.name, number.text).message);
      storageLocation = downloadUriOf(version);
    }
  }
  // The version will be linked to its logged model, which must exist (MLflow finds out only after creating the version).
  if (modelId) {
    const model = await liveLoggedModel(db, modelId);
    if (!model) throw loggedModelNotFound(modelId);
    if (!resolvedRun) resolvedRun = model.sourceRunId ?? null;
  }
  return { source, ...(storageLocation !== undefined && { storageLocation }), runId: resolvedRun, modelId };
}
