import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { type AuthConfig, Password, Permission, permits, Username, isExperimentId } from '../../domain/auth';
import { deleteGrant, type ExperimentGrant, getGrant, listAllUserGrants, listUserGrants, permissionOn, setGrant } from '../../store/permissions';
import { type Queryable, withTransaction } from '../../store/pool';
import {
  createUser,
  deleteUser,
  getUserByName,
  listUsers,
  lockAdmins,
  setAdmin,
  setPasswordHash,
  type User,
  UserExistsError,
} from '../../store/users';
import { experimentNotFound, MlflowError } from '../mlflow/errors';
import { OptString, parse, ReqString } from '../mlflow/wire';
import { ADMIN, type AccessRule, type ExperimentLocator, SIGNED_IN } from './access-rule';
import { auditChange } from './audit-trail';
import { useMlflowJsonBodies } from '../mlflow/json-body';
import { hashPassword, verifyPassword } from './passwords';

// MLflow's basic-auth REST API (mlflow/server/auth: routes.py for the paths, __init__.py for the
// handlers, sqlalchemy_store.py for the messages), so `mlflow.server.get_app_client("basic-auth")`
// and the MLflow UI manage mlfleet's users and experiment permissions. Differences, on purpose:
// - users/create is for admins: mlfleet has no open sign-up (an account is granted the default
//   permission on every experiment, which an anonymous caller must not be able to give itself);
// - registered models do not exist here, so `registered_model_permissions` is always empty and
//   only resource_type 'experiment' is accepted;
// - team grants (mlfleet's own, /api/v1) count in users/permissions/get but are not listed here.

export interface MlflowAuthRouteDeps {
  pool: pg.Pool;
  /** For users/permissions/get: what a user holds where nothing is granted (and whether auth is on). */
  auth: AuthConfig;
}

const PREFIXES_2 = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
const PREFIXES_3 = ['/api/3.0/mlflow', '/ajax-api/3.0/mlflow'] as const;

// ---- requests ----------------------------------------------------------------------------------

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * MLflow's `_get_request_param`: GET reads the query string, POST and PATCH the JSON body, DELETE
 * its JSON body (the MLflow client sends one) or else the query string.
 */
function paramsOf(request: FastifyRequest): Record<string, unknown> {
  const query = isObject(request.query) ? request.query : {};
  if (request.method === 'GET') return query;
  if (request.method === 'DELETE') return isObject(request.body) ? request.body : query;
  return isObject(request.body) ? request.body : {};
}

/** Experiment ids arrive as strings (the client) or numbers (hand-written JSON). */
const IdField = z.union([ReqString, z.number().int().nonnegative().transform(String)]);
/** A JSON boolean, or its spelling in a query string or a form. */
const BoolField = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False']).transform((v) => v.toLowerCase() === 'true')]);

const UsernameParams = z.object({ username: ReqString });
const CreateUserParams = z.object({ username: ReqString, password: ReqString });
const UpdatePasswordParams = z.object({ username: ReqString, password: ReqString, current_password: OptString });
const UpdateAdminParams = z.object({ username: ReqString, is_admin: BoolField });
const ExperimentUserParams = z.object({ experiment_id: IdField, username: ReqString });
const ExperimentPermissionParams = ExperimentUserParams.extend({ permission: ReqString });
const ResourceParams = z.object({ username: ReqString, resource_type: ReqString, resource_id: IdField });
const ResourcePermissionParams = ResourceParams.extend({ permission: ReqString });

/** The experiment id in canonical form (`007` is experiment 7); undefined when it can name none. */
const canonicalExperimentId = (raw: string): string | undefined => (isExperimentId(raw) ? BigInt(raw).toString() : undefined);

/** The raw id in `field`, as the handler's schema reads it, so the rule and the handler agree. */
function rawIdOf(request: FastifyRequest, field: string): string | undefined {
  const parsed = IdField.safeParse(paramsOf(request)[field]);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The experiment a permission request is about, for its MANAGE rule. A request naming none (or,
 * for the 3.0 routes, another resource type) passes the rule and fails in the handler, which
 * rejects exactly those requests before touching anything.
 */
function experimentIn(field: string, applies: (params: Record<string, unknown>) => boolean = () => true): ExperimentLocator {
  return {
    experimentOf: (request) => {
      const raw = applies(paramsOf(request)) ? rawIdOf(request, field) : undefined;
      return Promise.resolve(raw === undefined ? undefined : canonicalExperimentId(raw));
    },
    notFound: (request) => experimentNotFound(rawIdOf(request, field) ?? ''),
  };
}

const manageExperiment = (field: string, applies?: (params: Record<string, unknown>) => boolean): AccessRule => ({
  kind: 'experiment',
  need: 'MANAGE',
  locate: experimentIn(field, applies),
});

const selfOrAdmin: AccessRule = {
  kind: 'self-or-admin',
  username: (request) => {
    const username = paramsOf(request).username;
    return typeof username === 'string' ? username : undefined;
  },
};

/** Domain validation with the domain's message (never echoing a password). */
function validated<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new MlflowError('INVALID_PARAMETER_VALUE', parsed.error.issues[0]?.message ?? 'invalid value');
}

function permissionOf(value: string): Permission {
  const parsed = Permission.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid permission '${value}'. Valid permissions are: (${Permission.options.map((p) => `'${p}'`).join(', ')})`,
  );
}

/** The canonical id of the experiment `rawId` names, or undefined when there is none. */
async function existingExperiment(db: Queryable, rawId: string): Promise<string | undefined> {
  const id = canonicalExperimentId(rawId);
  if (id === undefined) return undefined;
  const { rows } = await db.query('SELECT 1 FROM experiments WHERE experiment_id = $1', [id]);
  return rows.length > 0 ? id : undefined;
}

async function requireExperiment(db: Queryable, rawId: string): Promise<string> {
  const id = await existingExperiment(db, rawId);
  if (id === undefined) throw experimentNotFound(rawId);
  return id;
}

async function requireUser(db: Queryable, username: string): Promise<User> {
  const user = await getUserByName(db, username);
  if (!user) throw userNotFound(username);
  return user;
}

// ---- errors (MLflow's wording) -------------------------------------------------------------------

const userNotFound = (username: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', `User with username=${username} not found`);

const grantNotFound = (experimentId: string, username: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Experiment permission with experiment_id=${experimentId} and username=${username} not found`);

const lastAdmin = (username: string, doing: string): MlflowError =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Cannot ${doing} '${username}': it is the last admin. Make another user an admin first.`);

// ---- answers -------------------------------------------------------------------------------------

interface ExperimentPermissionJson {
  experiment_id: string;
  user_id: number;
  permission: Permission;
}

const encodeGrant = (grant: ExperimentGrant, userId: string): ExperimentPermissionJson => ({
  experiment_id: grant.experimentId,
  user_id: Number(userId),
  permission: grant.permission,
});

/** MLflow's user JSON (entities.py `User` with its permission lists); never the password hash. */
const encodeUser = (user: User, grants: readonly ExperimentGrant[]) => ({
  id: Number(user.userId),
  username: user.username,
  is_admin: user.isAdmin,
  experiment_permissions: grants.map((grant) => encodeGrant(grant, user.userId)),
  registered_model_permissions: [] as never[],
});

// ---- routes --------------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Handler = (request: FastifyRequest) => Promise<unknown>;

function route(scope: FastifyInstance, method: Method, url: string, access: AccessRule, handler: Handler): void {
  scope.route({ method, url, config: { access }, handler: (request) => handler(request) });
}

/** The users and experiment-permission endpoints of MLflow's basic-auth app (REST 2.0). */
function userRoutes(scope: FastifyInstance, deps: MlflowAuthRouteDeps): void {
  const { pool } = deps;

  route(scope, 'POST', '/users/create', ADMIN, async (request) => {
    const { username, password } = parse(CreateUserParams, paramsOf(request));
    validated(Username, username);
    validated(Password, password);
    const passwordHash = await hashPassword(password);
    const user = await withTransaction(pool, async (tx) => {
      const created = await createUser(tx, { username, passwordHash, isAdmin: false }).catch((err: unknown) => {
        throw err instanceof UserExistsError ? new MlflowError('RESOURCE_ALREADY_EXISTS', `User (username=${username}) already exists.`) : err;
      });
      await auditChange(tx, request, 'user.create', `user:${username}`, { username, is_admin: false });
      return created;
    });
    return { user: encodeUser(user, []) };
  });

  route(scope, 'GET', '/users/get', selfOrAdmin, async (request) => {
    const { username } = parse(UsernameParams, paramsOf(request));
    const user = await requireUser(pool, username);
    return { user: encodeUser(user, await listUserGrants(pool, user.userId)) };
  });

  route(scope, 'GET', '/users/current', SIGNED_IN, async (request) => {
    const principal = request.principal;
    if (principal.kind !== 'user') {
      throw new MlflowError('BAD_REQUEST', 'Authentication is off on this server (MLFLEET_AUTH), so no user is signed in.');
    }
    const user = await requireUser(pool, principal.username);
    // is_basic_auth: the MLflow UI offers sign-out and password change only when it is true.
    return { user: encodeUser(user, await listUserGrants(pool, user.userId)), is_basic_auth: true };
  });

  route(scope, 'GET', '/users/list', ADMIN, async () => {
    const [users, grants] = await Promise.all([listUsers(pool), listAllUserGrants(pool)]);
    return { users: users.map((user) => encodeUser(user, grants.filter((grant) => grant.userId === user.userId))) };
  });

  route(scope, 'PATCH', '/users/update-password', selfOrAdmin, async (request) => {
    const { username, password, current_password } = parse(UpdatePasswordParams, paramsOf(request));
    const user = await requireUser(pool, username);
    const principal = request.principal;
    // As MLflow 3 does: changing your own password takes the current one, so a stolen API token
    // (or an unattended signed-in browser) cannot lock the owner out. Admins resetting someone
    // else's password need not know it.
    if (principal.kind === 'user' && principal.username === username) {
      if (!current_password) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'Current password is required when changing your own password.');
      }
      if (!(await verifyPassword(current_password, user.passwordHash))) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'Current password does not match.');
      }
      if (password === current_password) throw new MlflowError('INVALID_PARAMETER_VALUE', 'New password must differ from the current password.');
    }
    validated(Password, password);
    const passwordHash = await hashPassword(password);
    await withTransaction(pool, async (tx) => {
      if (!(await setPasswordHash(tx, username, passwordHash))) throw userNotFound(username);
      await auditChange(tx, request, 'user.update-password', `user:${username}`, { username });
    });
    return {};
  });

  route(scope, 'PATCH', '/users/update-admin', ADMIN, async (request) => {
    const { username, is_admin } = parse(UpdateAdminParams, paramsOf(request));
    await withTransaction(pool, async (tx) => {
      const admins = await lockAdmins(tx);
      const user = await requireUser(tx, username);
      if (user.isAdmin === is_admin) return;
      if (!is_admin && admins.length <= 1) throw lastAdmin(username, 'demote');
      await setAdmin(tx, username, is_admin);
      await auditChange(tx, request, 'user.update-admin', `user:${username}`, { username, is_admin, previous: user.isAdmin });
    });
    return {};
  });

  route(scope, 'DELETE', '/users/delete', ADMIN, async (request) => {
    const { username } = parse(UsernameParams, paramsOf(request));
    // MLflow's rule: the caller would be left holding credentials of a user that no longer exists.
    if (request.principal.kind === 'user' && request.principal.username === username) {
      throw new MlflowError('BAD_REQUEST', 'Users cannot delete their own account. Ask another admin to delete this user instead.');
    }
    await withTransaction(pool, async (tx) => {
      const admins = await lockAdmins(tx);
      const user = await requireUser(tx, username);
      if (user.isAdmin && admins.length <= 1) throw lastAdmin(username, 'delete');
      await deleteUser(tx, username);
      await auditChange(tx, request, 'user.delete', `user:${username}`, { username, was_admin: user.isAdmin });
    });
    return {};
  });

  // experiments/permissions/*: MLflow 2's per-user experiment grants (MLflow 3 still stores them).

  route(scope, 'POST', '/experiments/permissions/create', manageExperiment('experiment_id'), async (request) => {
    const params = parse(ExperimentPermissionParams, paramsOf(request));
    const permission = permissionOf(params.permission);
    return withTransaction(pool, async (tx) => {
      const experimentId = await requireExperiment(tx, params.experiment_id);
      const user = await requireUser(tx, params.username);
      const previous = await setGrant(tx, experimentId, { userId: user.userId }, permission);
      if (previous !== undefined) {
        // Rolled back with the transaction: create never changes an existing grant.
        throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment permission (experiment_id=${experimentId}, username=${user.username}) already exists.`);
      }
      await auditChange(tx, request, 'permission.grant', `experiment:${experimentId}`, { username: user.username, permission });
      return { experiment_permission: { experiment_id: experimentId, user_id: Number(user.userId), permission } };
    });
  });

  route(scope, 'GET', '/experiments/permissions/get', manageExperiment('experiment_id'), async (request) => {
    const params = parse(ExperimentUserParams, paramsOf(request));
    const experimentId = await requireExperiment(pool, params.experiment_id);
    const user = await requireUser(pool, params.username);
    const grant = await getGrant(pool, experimentId, { userId: user.userId });
    if (!grant) throw grantNotFound(experimentId, user.username);
    return { experiment_permission: encodeGrant(grant, user.userId) };
  });

  route(scope, 'PATCH', '/experiments/permissions/update', manageExperiment('experiment_id'), async (request) => {
    const params = parse(ExperimentPermissionParams, paramsOf(request));
    const permission = permissionOf(params.permission);
    await withTransaction(pool, async (tx) => {
      const experimentId = await requireExperiment(tx, params.experiment_id);
      const user = await requireUser(tx, params.username);
      const grant = await getGrant(tx, experimentId, { userId: user.userId });
      if (!grant) throw grantNotFound(experimentId, user.username);
      if (grant.permission === permission) return;
      await setGrant(tx, experimentId, { userId: user.userId }, permission);
      await auditChange(tx, request, 'permission.update', `experiment:${experimentId}`, { username: user.username, permission, previous: grant.permission });
    });
    return {};
  });

  route(scope, 'DELETE', '/experiments/permissions/delete', manageExperiment('experiment_id'), async (request) => {
    const params = parse(ExperimentUserParams, paramsOf(request));
    await withTransaction(pool, async (tx) => {
      const experimentId = await requireExperiment(tx, params.experiment_id);
      const user = await requireUser(tx, params.username);
      const grant = await getGrant(tx, experimentId, { userId: user.userId });
      if (!grant || !(await deleteGrant(tx, experimentId, { userId: user.userId }))) throw grantNotFound(experimentId, user.username);
      await auditChange(tx, request, 'permission.revoke', `experiment:${experimentId}`, { username: user.username, previous: grant.permission });
    });
    return {};
  });
}

/** MLflow 3's resource-generic grant API (users/permissions/*), for experiments. */
function userPermissionRoutes(scope: FastifyInstance, deps: MlflowAuthRouteDeps): void {
  const { pool } = deps;
  const onExperiment = (params: Record<string, unknown>) => params.resource_type === 'experiment';
  const rule = manageExperiment('resource_id', onExperiment);

  const checkResourceType = (resourceType: string): void => {
    if (resourceType !== 'experiment') {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid resource type '${resourceType}'. Valid resource types are: ('experiment')`);
    }
  };
  const resolve = async (db: Queryable, params: z.infer<typeof ResourceParams>): Promise<{ user: User; experimentId: string }> => {
    checkResourceType(params.resource_type);
    const user = await requireUser(db, params.username);
    return { user, experimentId: await requireExperiment(db, params.resource_id) };
  };
  const grantMessage = (params: z.infer<typeof ResourceParams>, outcome: string): string =>
    `Permission for user=${params.username} on resource_type=${params.resource_type}, resource_id=${params.resource_id} ${outcome}.`;

  route(scope, 'POST', '/users/permissions/grant', rule, async (request) => {
    const params = parse(ResourcePermissionParams, paramsOf(request));
    checkResourceType(params.resource_type);
    const permission = permissionOf(params.permission);
    await withTransaction(pool, async (tx) => {
      const { user, experimentId } = await resolve(tx, params);
      const previous = await setGrant(tx, experimentId, { userId: user.userId }, permission);
      if (previous !== undefined) throw new MlflowError('RESOURCE_ALREADY_EXISTS', grantMessage(params, 'already exists')); // rolled back
      await auditChange(tx, request, 'permission.grant', `experiment:${experimentId}`, { username: user.username, permission });
    });
    return {};
  });

  route(scope, 'POST', '/users/permissions/revoke', rule, async (request) => {
    const params = parse(ResourceParams, paramsOf(request));
    await withTransaction(pool, async (tx) => {
      const { user, experimentId } = await resolve(tx, params);
      const grant = await getGrant(tx, experimentId, { userId: user.userId });
      if (!grant || !(await deleteGrant(tx, experimentId, { userId: user.userId }))) {
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', grantMessage(params, 'not found'));
      }
      await auditChange(tx, request, 'permission.revoke', `experiment:${experimentId}`, { username: user.username, previous: grant.permission });
    });
    return {};
  });

  // The permission a request by that user would be checked against: their own grant, else their
  // teams' best, else the default; admins (and everyone with auth off) hold MANAGE. An experiment
  // that does not exist is NO_PERMISSIONS, as MLflow answers (deny by default).
  route(scope, 'GET', '/users/permissions/get', rule, async (request) => {
    const params = parse(ResourceParams, paramsOf(request));
    checkResourceType(params.resource_type);
    const user = await requireUser(pool, params.username);
    const experimentId = await existingExperiment(pool, params.resource_id);
    const permission: Permission =
      experimentId === undefined
        ? 'NO_PERMISSIONS'
        : !deps.auth.enabled || user.isAdmin
          ? 'MANAGE'
          : ((await permissionOn(pool, { userId: user.userId, defaultPermission: deps.auth.defaultPermission }, experimentId)) ?? 'NO_PERMISSIONS');
    return { allowed: permits(permission, 'READ'), permission };
  });
}

/**
 * Registers MLflow's basic-auth endpoints: users and experiments/permissions under the REST 2.0
 * prefixes, users/permissions under the 3.0 ones, each for clients (/api) and the UI (/ajax-api).
 */
export function registerMlflowAuthRoutes(app: FastifyInstance, deps: MlflowAuthRouteDeps): void {
  const scopes: Array<[readonly string[], (scope: FastifyInstance, deps: MlflowAuthRouteDeps) => void]> = [
    [PREFIXES_2, userRoutes],
    [PREFIXES_3, userPermissionRoutes],
  ];
  for (const [prefixes, routes] of scopes) {
    for (const prefix of prefixes) {
      void app.register(
        (scope, _opts, done) => {
          useMlflowJsonBodies(scope);
          routes(scope, deps);
          done();
        },
        { prefix },
      );
    }
  }
}
