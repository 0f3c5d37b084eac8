import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isExperimentId } from '../../domain/auth';
import type { Queryable } from '../../store/pool';
import { validateArtifactPath } from '../mlflow/artifacts-proxy';
import { experimentNameNotFound, experimentNotFound, MlflowError, runNotFound } from '../mlflow/errors';
import type { ExperimentLocator, ModelLocator, ReadSource } from './access-rule';
import { modelVersionNotFound, parseVersion, registeredModelNotFound } from '../mlflow/registered-models-wire';
import { EXPERIMENTS, REGISTERED_MODELS } from './granted-resources';

/**
 * The ways a request names its experiment or registered model. Each answers undefined when the
 * request does not name an existing resource, so the handler gives its usual 400 or 404.
 */

type Part = 'query' | 'body' | 'params';

const fieldOf = (request: FastifyRequest, part: Part, field: string): unknown => {
  const source = request[part];
  return source !== null && typeof source === 'object' ? (source as Record<string, unknown>)[field] : undefined;
};

const stringField = (request: FastifyRequest, part: Part, field: string): string => {
  const value = fieldOf(request, part, field);
  return typeof value === 'string' ? value : '';
};

const IdRow = z.object({ experiment_id: z.number().int() });

async function experimentIdWhere(db: Queryable, sql: string, value: string): Promise<string | undefined> {
  const { rows } = await db.query(sql, [value]);
  return rows.length > 0 ? String(IdRow.parse(rows[0]).experiment_id) : undefined;
}

const experimentOfRunId = (db: Queryable, runId: string) => experimentIdWhere(db, 'SELECT experiment_id FROM runs WHERE run_uuid = $1', runId);
const experimentOfModelId = (db: Queryable, modelId: string) => experimentIdWhere(db, 'SELECT experiment_id FROM logged_models WHERE model_id = $1', modelId);

/** `experiment_id` in the query or body; runs/create falls back to the Default experiment, as MLflow does. */
export function experimentById(part: Part, opts: { field?: string; fallback?: string } = {}): ExperimentLocator {
  const field = opts.field ?? 'experiment_id';
  const idOf = (request: FastifyRequest) => stringField(request, part, field) || opts.fallback || '';
  return {
    experimentOf: (request) => {
      const id = idOf(request);
      return Promise.resolve(isExperimentId(id) ? id : undefined);
    },
    notFound: (request) => experimentNotFound(idOf(request)),
  };
}

export function experimentByName(db: Queryable, part: Part, field: string): ExperimentLocator {
  return {
    experimentOf: async (request) => {
      const name = stringField(request, part, field);
      return name ? experimentIdWhere(db, 'SELECT experiment_id FROM experiments WHERE name = $1', name) : undefined;
    },
    notFound: (request) => experimentNameNotFound(stringField(request, part, field)),
  };
}

/** The run in `run_id` (or the legacy `run_uuid`), as MLflow clients send it. */
export function experimentOfRun(db: Queryable, part: Part): ExperimentLocator {
  const runIdOf = (request: FastifyRequest) => stringField(request, part, 'run_id') || stringField(request, part, 'run_uuid');
  return {
    experimentOf: async (request) => {
      const runId = runIdOf(request);
      return runId ? experimentOfRunId(db, runId) : undefined;
    },
    notFound: (request) => runNotFound(runIdOf(request)),
  };
}

/** A logged model by its `model_id` (in the path, or the body where the handler reads it): it follows its experiment's grants. */
export function experimentOfLoggedModel(db: Queryable, part: Part = 'params'): ExperimentLocator {
  const idOf = (request: FastifyRequest) => stringField(request, part, 'model_id');
  return {
    experimentOf: async (request) => {
      const modelId = idOf(request);
      return modelId ? experimentOfModelId(db, modelId) : undefined;
    },
    notFound: (request) => new MlflowError('RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${idOf(request)}' not found.`),
  };
}

/**
 * A path of the proxied artifact store: `<experiment_id>/<run_id>/artifacts/…`. A path outside
 * every experiment (the root listing, say) is for admins only, and looks empty to anyone else.
 */
export function experimentOfArtifactPath(db: Queryable): ExperimentLocator {
  const rawOf = (request: FastifyRequest): string => {
    const wildcard = fieldOf(request, 'params', '*');
    return typeof wildcard === 'string' ? wildcard : stringField(request, 'query', 'path');
  };
  // Decoded exactly as the handler decodes it, so both read the same experiment; undefined for a
  // path the handler refuses as "Invalid path".
  const pathOf = (request: FastifyRequest): string | undefined => {
    try {
      return validateArtifactPath(rawOf(request));
    } catch {
      return undefined;
    }
  };
  return {
    experimentOf: async (request) => {
      const path = pathOf(request);
      if (path === undefined) return undefined;
      const first = path.split('/').find((segment) => segment !== '' && segment !== '.') ?? '';
      if (!isExperimentId(first)) return OUTSIDE_EXPERIMENTS;
      return (await experimentIdWhere(db, 'SELECT experiment_id FROM experiments WHERE experiment_id = $1', first)) ?? OUTSIDE_EXPERIMENTS;
    },
    notFound: (request) => new MlflowError('RESOURCE_DOES_NOT_EXIST', `No such artifact: '${pathOf(request) ?? rawOf(request)}'`),
  };
}

/**
 * What a locator answers for a resource that exists but lies in no experiment: only unrestricted
 * callers reach it (no grant can name it).
 */
export const OUTSIDE_EXPERIMENTS = '-1';

/** A launch by its id in the path. */
export function experimentOfLaunch(db: Queryable, notFound: (launchId: string) => MlflowError): ExperimentLocator {
  const idOf = (request: FastifyRequest) => stringField(request, 'params', 'id');
  return {
    experimentOf: (request) => experimentIdWhere(db, 'SELECT experiment_id FROM launches WHERE launch_id = $1', idOf(request)),
    notFound: (request) => notFound(idOf(request)),
  };
}

/** A resource whose experiment the caller resolves (a schedule's launch, a pipeline version's spec). */
export function experimentNamedBy(
  db: Queryable,
  nameOf: (request: FastifyRequest) => Promise<string | undefined>,
  notFound: (request: FastifyRequest) => MlflowError,
): ExperimentLocator {
  return {
    experimentOf: async (request) => {
      const name = await nameOf(request);
      return name === undefined ? undefined : experimentIdWhere(db, 'SELECT experiment_id FROM experiments WHERE name = $1', name);
    },
    notFound,
  };
}

// ---- registered models -----------------------------------------------------------------------

/** The registry's request fields: a GET's query string, else the JSON body (DELETE included). */
const registryField = (request: FastifyRequest, field: string): unknown => fieldOf(request, request.method === 'GET' ? 'query' : 'body', field);

/** Names and versions arrive as strings, versions also as numbers. */
const registryString = (request: FastifyRequest, field: string): string => {
  const value = registryField(request, field);
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
};

/**
 * The registered model (or prompt) in `name`: the registry's fields by default, or a part of the
 * request (an /api/v1 path). A hidden model answers as a missing one: on `version` routes with the
 * missing version's error (a version that is not a number passes, for the handler's 400), else
 * with the missing model's.
 */
export function registeredModelByName(db: Queryable, opts: { part?: Part; answers?: 'model' | 'version' } = {}): ModelLocator {
  const field = (request: FastifyRequest, name: string) => (opts.part ? stringField(request, opts.part, name) : registryString(request, name));
  const nameOf = (request: FastifyRequest) => field(request, 'name');
  const versionOf = (request: FastifyRequest): string | undefined => {
    try {
      return parseVersion(field(request, 'version')).text;
    } catch {
      return undefined;
    }
  };
  if (opts.answers === 'version') {
    return {
      modelOf: (request) => (versionOf(request) === undefined ? Promise.resolve(undefined) : REGISTERED_MODELS.find(db, nameOf(request))),
      notFound: (request) => modelVersionNotFound(nameOf(request), versionOf(request) ?? ''),
    };
  }
  return { modelOf: (request) => REGISTERED_MODELS.find(db, nameOf(request)), notFound: (request) => registeredModelNotFound(nameOf(request)) };
}

/**
 * What model-versions/create reads from, as MLflow checks it: a `models:/<name>/<version>` or
 * `models:/<name>@<alias>` source is that registered model alone; otherwise the run in `run_id`,
 * the logged model in `model_id` and a `models:/<model id>` source, each when given.
 */
export function modelVersionSources(db: Queryable): (request: FastifyRequest) => Promise<ReadSource[]> {
  return async (request) => {
    const source = registryString(request, 'source');
    const path = source.startsWith('models:/') ? source.slice('models:/'.length) : undefined;
    const registered = path === undefined ? undefined : /^([^/@]+)[/@]/.exec(path)?.[1];
    if (registered !== undefined) return [{ what: 'registered model', resource: REGISTERED_MODELS, id: await REGISTERED_MODELS.find(db, registered) }];
    const sources: ReadSource[] = [];
    const runId = registryField(request, 'run_id');
    if (typeof runId === 'string') sources.push({ what: 'run', resource: EXPERIMENTS, id: runId ? await experimentOfRunId(db, runId) : undefined });
    const loggedModels = [registryField(request, 'model_id'), path !== undefined && path !== '' && !path.includes('/') ? path : undefined];
    for (const modelId of loggedModels.filter((id): id is string => typeof id === 'string')) {
      sources.push({ what: 'logged model', resource: EXPERIMENTS, id: modelId ? await experimentOfModelId(db, modelId) : undefined });
    }
    return sources;
  };
}
