import type { z } from 'zod';
import { MODEL_VERSION_STAGES, type ModelVersion, type ModelVersionStage } from '../../store/model-versions';
import type { RegisteredModel } from '../../store/registered-models';
import type { KeyValue } from '../../store/run-record';
import { MlflowError, invalidParameter, invalidValue } from './errors';
import { pyRepr } from './logged-models-filter';
import { pythonJsonDumps } from './logged-models-wire';
import { normpath, parse, validateKey } from './wire';

// The model registry on the wire: the RegisteredModel and ModelVersion JSON, and MLflow's
// validation of names, versions, stages, aliases and tags, with its messages. Shared by the
// registered-model and model-version routes.

/** The version tag holding a prompt version's template (MLflow gives its length its own message). */
export const PROMPT_TEXT_TAG = 'mlflow.prompt.text';
const MAX_TAG_VALUE_LENGTH = 100_000;
const MAX_ALIAS_LENGTH = 255;

export const registeredModelNotFound = (name: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);

export const modelVersionNotFound = (name: string, version: string | number): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=${version}) not found`);

/** The ModelVersion message as MLflow writes it: proto field order, unset fields left out. */
export function encodeModelVersion(v: ModelVersion, withAliases = true) {
  return {
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.creationTime,
    last_updated_timestamp: v.lastUpdatedTime,
    ...(v.userId !== undefined && { user_id: v.userId }),
    current_stage: v.currentStage,
    ...(v.description !== undefined && { description: v.description }),
    source: v.source,
    ...(v.runId !== undefined && { run_id: v.runId }),
    status: v.status,
    ...(v.statusMessage && { status_message: v.statusMessage }),
    ...(v.tags.length > 0 && { tags: v.tags }),
    ...(v.runLink !== undefined && { run_link: v.runLink }),
    ...(withAliases && v.aliases.length > 0 && { aliases: v.aliases }),
    // MLflow's own SQL store forgets the logged model a version came from; mlfleet keeps it.
    ...(v.modelId && { model_id: v.modelId }),
  };
}

/** The RegisteredModel message; its latest versions carry no aliases, as in MLflow. */
export function encodeRegisteredModel(m: RegisteredModel) {
  return {
    name: m.name,
    creation_timestamp: m.creationTime,
    ...(m.lastUpdatedTime && { last_updated_timestamp: m.lastUpdatedTime }),
    ...(m.description && { description: m.description }),
    ...(m.latestVersions.length > 0 && { latest_versions: m.latestVersions.map((v) => encodeModelVersion(v, false)) }),
    ...(m.tags.length > 0 && { tags: m.tags }),
    ...(m.aliases.length > 0 && { aliases: m.aliases.map((a) => ({ alias: a.alias, version: String(a.version) })) }),
  };
}

const missingValue = (path: string): MlflowError => invalidValue(`Missing value for required parameter '${path}'.`);

/** MLflow's path_not_unique: a name that would resolve to another one as a file path. */
const resolvesElsewhere = (name: string): boolean => {
  const norm = normpath(name);
  return norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/');
};

/** MLflow's _validate_model_name (the name of a registered model or prompt). */
export function validateModelName(name: string): void {
  if (name.trim() === '') throw missingValue('name');
  if (name.includes('/') || name.includes(':')) throw invalidValue(`Invalid model name '${name}'. Names cannot contain '/' or ':'.`);
  if (resolvesElsewhere(name)) {
    throw invalidValue(
      `Invalid value ${pythonJsonDumps(name)} for parameter 'name' supplied: Names may be treated as files in certain cases, ` +
        `and must not resolve to other names when treated as such. This name would resolve to ${pyRepr(normpath(name))}`,
    );
  }
}

/** MLflow's _validate_model_renaming. */
export function validateNewModelName(newName: string): void {
  if (newName.trim() === '') throw missingValue('new_name');
  validateModelName(newName);
}

/** A version number as Python's int() reads it; the text is how MLflow's messages print it. */
export interface VersionNumber {
  value: number;
  text: string;
  /** False for numbers no version can have (the column is a 32-bit integer): such a version is never found. */
  storable: boolean;
}

const PYTHON_INT = /^\s*[-+]?\d+(?:_\d+)*\s*$/;

/** MLflow's _validate_model_version. */
export function parseVersion(raw: string): VersionNumber {
  if (!PYTHON_INT.test(raw)) throw invalidValue(`Parameter 'version' must be an integer, got '${raw}'.`);
  const big = BigInt(raw.trim().replace(/_/g, ''));
  const storable = big >= 1n && big <= 2_147_483_647n;
  return { value: storable ? Number(big) : 0, text: big.toString(), storable };
}

/** MLflow's get_canonical_stage: a stage by name in any case. */
export function canonicalStage(stage: string): ModelVersionStage {
  const found = MODEL_VERSION_STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (found === undefined) {
    throw invalidValue(`Invalid Model Version stage: ${stage}. Value must be one of ${MODEL_VERSION_STAGES.join(', ')}.`);
  }
  return found;
}

/** MLflow's _validate_model_alias_name, and with `reserved` _validate_model_alias_name_reserved too. */
export function validateAlias(alias: string, reserved: boolean): void {
  if (alias === '') throw invalidValue('Registered model alias name cannot be empty.');
  if (!/^[\p{L}\p{N}_-]*$/u.test(alias)) {
    throw invalidValue(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  }
  if (alias.length > MAX_ALIAS_LENGTH) throw invalidValue(`'Registered model alias name' exceeds the maximum length of ${MAX_ALIAS_LENGTH} characters`);
  if (!reserved) return;
  if (alias.toLowerCase() === 'latest') throw invalidValue("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalidValue(`Version alias name '${alias}' is reserved.`);
}

/** MLflow's _validate_tag_name for a registry tag key (the request field is `key`). */
export const validateTagKey = (key: string): void => validateKey(key, 'key', 'key');

/** MLflow's _validate_registered_model_tag and _validate_model_version_tag. */
export function validateRegistryTag(tag: KeyValue, kind: 'model' | 'version'): void {
  // Also refuses keys over MLflow's 250 characters, with its message for the registry's `key`.
  validateKey(tag.key, 'key', 'key');
  if (kind === 'version' && tag.key === PROMPT_TEXT_TAG && tag.value.length > MAX_TAG_VALUE_LENGTH) {
    throw invalidValue(`Prompt text exceeds max length of ${MAX_TAG_VALUE_LENGTH} characters.`);
  }
  if (tag.value.length > MAX_TAG_VALUE_LENGTH) throw invalidValue(`'value' exceeds the maximum length of ${MAX_TAG_VALUE_LENGTH} characters`);
}

/**
 * A search's max_results as MLflow's handlers check it (an int-like value, at most `limit`); the
 * proto's default when absent. Anything else is refused with MLflow's schema message.
 */
export function maxResultsOf(raw: unknown, limit: number, fallback: number): number {
  if (raw === undefined || raw === null) return fallback;
  const text = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : typeof raw === 'string' && PYTHON_INT.test(raw) ? raw : undefined;
  if (text === undefined) throw invalidParameter('max_results', raw);
  const value = BigInt(text.trim().replace(/_/g, ''));
  if (value > BigInt(limit)) throw invalidParameter('max_results', raw);
  // Anything this negative reads nothing either way; clamping keeps the arithmetic in safe integers.
  return value < -1_000_000n ? -1_000_000 : Number(value);
}

/** The first string in a parsed request that holds a NUL, with its path; PostgreSQL text cannot store one. */
function nulAt(value: unknown, path: string): { path: string; value: string } | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? { path, value } : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nulAt(item, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const found = nulAt(item, path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Parses a registry request as `parse` does, and refuses NUL characters in any of its strings
 * (a stock server fails on them with an internal error from its database driver).
 */
export function parseRegistryRequest<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = parse(schema, data);
  const found = nulAt(parsed, '');
  if (found) throw invalidValue(`Invalid value ${pythonJsonDumps(found.value)} for parameter '${found.path}' supplied: strings cannot contain NUL (0x00) characters.`);
  return parsed;
}
