import type { FastifyRequest } from 'fastify';
import type { Permission } from '../../domain/auth';
import type { MlflowError } from '../mlflow/errors';

/**
 * Where a request's experiment comes from, and the error the route answers when that resource
 * does not exist: a caller who may not read the experiment gets exactly that error, so a hidden
 * run or experiment is indistinguishable from a missing one.
 */
export interface ExperimentLocator {
  /**
   * The experiment id; undefined when the request names no existing resource (the handler then
   * answers as it would, with its 400 or 404).
   */
  experimentOf(request: FastifyRequest): Promise<string | undefined>;
  notFound(request: FastifyRequest): MlflowError;
}

/**
 * How one route is authorized; every route has exactly one (registration fails without it).
 * - `public`: anyone, signed in or not (health, version, the agent script, the API document).
 * - `signed-in`: any user; the handler narrows what it returns (searches and lists) or the
 *   resource is global (offers, code bundles).
 * - `admin`: admins only.
 * - `experiment`: `need` on the experiment the locator finds.
 * - `experiment-by-body`: `need` on an experiment the handler resolves from the body by name (a
 *   launch, schedule or pipeline naming its experiment); the handler checks, the rule documents.
 * - `self-or-admin`: the user named in the request, or an admin.
 */
export type AccessRule =
  | { kind: 'public' }
  | { kind: 'signed-in' }
  | { kind: 'admin' }
  | { kind: 'experiment'; need: Permission; locate: ExperimentLocator }
  | { kind: 'experiment-by-body'; need: Permission }
  | { kind: 'self-or-admin'; username(request: FastifyRequest): string | undefined };

export const PUBLIC: AccessRule = { kind: 'public' };
export const SIGNED_IN: AccessRule = { kind: 'signed-in' };
export const ADMIN: AccessRule = { kind: 'admin' };
