import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isExperimentId } from '../../domain/auth';
import type { Queryable } from '../../store/pool';
import { validateArtifactPath } from '../mlflow/artifacts-proxy';
import { experimentNameNotFound, experimentNotFound, MlflowError, runNotFound } from '../mlflow/errors';
import type { ExperimentLocator } from './access-rule';

/**
 * The ways a request names its experiment. Each answers undefined when the request does not name
 * an existing resource, so the handler gives its usual 400 or 404.
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
      return runId ? experimentIdWhere(db, 'SELECT experiment_id FROM runs WHERE run_uuid = $1', runId) : undefined;
    },
    notFound: (request) => runNotFound(runIdOf(request)),
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
