import type { FastifyRequest } from 'fastify';
import type { Permission } from '../../domain/auth';
import type { MlflowError } from '../mlflow/errors';
import type { GrantedResource } from './granted-resources';

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
 * Where a request's registered model (or prompt: a registered model with a tag) comes from, and
 * the error the route answers when it does not exist, which a caller who may not read the model
 * gets instead.
 */
export interface ModelLocator {
  /** The model's name; undefined when the request names no existing model (the handler answers). */
  modelOf(request: FastifyRequest): Promise<string | undefined>;
  notFound(request: FastifyRequest): MlflowError;
}

/**
 * Something a request reads from (a model version's source run, logged model or registered
 * model), and where its grants are: `id` is undefined when the request names one that does not exist.
 */
export interface ReadSource {
  /** How a denial names it: `run`, `logged model`, `registered model`. */
  what: string;
  resource: GrantedResource;
  id: string | undefined;
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
 * - `registered-model`: `need` on the registered model (or prompt) the locator finds, and READ on
 *   the experiment of every source the request reads from (a model version's run or logged model):
 *   a source that is missing or hidden is refused, as MLflow refuses it.
 * - `by-request`: one of the rules above, picked from the request (MLflow 3's grant routes name
 *   the type of the resource they are about in the request).
 * - `self-or-admin`: the user named in the request, or an admin.
 */
export type AccessRule =
  | { kind: 'public' }
  | { kind: 'signed-in' }
  | { kind: 'admin' }
  | { kind: 'experiment'; need: Permission; locate: ExperimentLocator }
  | { kind: 'experiment-by-body'; need: Permission }
  | { kind: 'registered-model'; need: Permission; locate: ModelLocator; sources?: (request: FastifyRequest) => Promise<readonly ReadSource[]> }
  | { kind: 'by-request'; select(request: FastifyRequest): AccessRule }
  | { kind: 'self-or-admin'; username(request: FastifyRequest): string | undefined };

export const PUBLIC: AccessRule = { kind: 'public' };
export const SIGNED_IN: AccessRule = { kind: 'signed-in' };
export const ADMIN: AccessRule = { kind: 'admin' };
