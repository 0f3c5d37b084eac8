import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { type AuthConfig, Password, Permission, permits, Username } from '../../domain/auth';
import { MODEL_GRANTS } from '../../store/model-permissions';
import { deleteGrantOn, EXPERIMENT_GRANTS, getGrantOn, type Grant, listUserGrantsOn, permissionOnResource, setGrantOn } from '../../store/permissions';
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
import { MlflowError } from '../mlflow/errors';
import { OptString, parse, ReqString } from '../mlflow/wire';
import { ADMIN, type AccessRule, type ExperimentLocator, type ModelLocator, SIGNED_IN } from './access-rule';
import { auditChange } from './audit-trail';
import { canonicalExperimentId, EXPERIMENTS, type GrantedResource, grantedResourceOf, REGISTERED_MODELS, requireResource, RESOURCE_TYPES } from './granted-resources';
import { useMlflowJsonBodies } from '../mlflow/json-body';
import { hashPassword, verifyPassword } from './passwords';
import { paramsOf } from './request-params';

// MLflow's basic-auth REST API (mlflow/server/auth: routes.py for the paths, __init__.py for the
// handlers, sqlalchemy_store.py for the messages), so `mlflow.server.get_app_client("basic-auth")`
// and the MLflow UI manage mlfleet's users and permissions. Differences, on purpose:
// - users/create is for admins: mlfleet has no open sign-up (an account is granted the default
//   permission on every experiment, which an anonymous caller must not be able to give itself);
// - a prompt is a registered model here, and one grant on its name covers it whether it is
//   addressed as resource_type 'prompt' or 'registered_model';
// - team grants (mlfleet's own, /api/v1, or the roles API) count in users/permissions/get but are
//   not listed in a user's permissions.

export interface MlflowAuthRouteDeps {
  pool: pg.Pool;
  /** For users/permissions/get: what a user holds where nothing is granted (and whether auth is on). */
  auth: AuthConfig;
}

const PREFIXES_2 = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
const PREFIXES_3 = ['/api/3.0/mlflow', '/ajax-api/3.0/mlflow'] as const;

// ---- requests ----------------------------------------------------------------------------------

/** Experiment ids arrive as strings (the client) or numbers (hand-written JSON). */
const IdField = z.union([ReqString, z.number().int().nonnegative().transform(String)]);
/** A JSON boolean, or its spelling in a query string or a form. */
const BoolField = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False']).transform((v) => v.toLowerCase() === 'true')]);

const UsernameParams = z.object({ username: ReqString });
const CreateUserParams = z.object({ username: ReqString, password: ReqString });
const UpdatePasswordParams = z.object({ username: ReqString, password: ReqString, current_password: OptString });
const UpdateAdminParams = z.object({ username: ReqString, is_admin: BoolField });
const ResourceParams = z.object({ username: ReqString, resource_type: ReqString, resource_id: IdField });
const ResourcePermissionParams = ResourceParams.extend({ permission: ReqString });

/** The raw id in `field`, as the handler's schema reads it, so the rule and the handler agree. */
function rawIdOf(request: FastifyRequest, field: string): string | undefined {
  const parsed = IdField.safeParse(paramsOf(request)[field]);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The experiment a permission request is about, for its MANAGE rule. A request naming none passes
 * the rule and fails in the handler, which rejects exactly those requests before touching anything.
 */
function experimentIn(field: string): ExperimentLocator {
  return {
    experimentOf: (request) => {
      const raw = rawIdOf(request, field);
      return Promise.resolve(raw === undefined ? undefined : canonicalExperimentId(raw));
    },
    notFound: (request) => EXPERIMENTS.notFound(rawIdOf(request, field) ?? ''),
  };
}

/** The registered model a permission request names in `field`, for its MANAGE rule. */
function modelIn(db: Queryable, field: string): ModelLocator {
  return {
    modelOf: (request) => REGISTERED_MODELS.find(db, rawIdOf(request, field) ?? ''),
    notFound: (request) => REGISTERED_MODELS.notFound(rawIdOf(request, field) ?? ''),
  };
}

/** MANAGE on the resource in `field`, of the kind given. */
function manageRule(db: Queryable, resource: GrantedResource, field: string): AccessRule {
  return resource === EXPERIMENTS
    ? { kind: 'experiment', need: 'MANAGE', locate: experimentIn(field) }
    : { kind: 'registered-model', need: 'MANAGE', locate: modelIn(db, field) };
}

/**
 * MANAGE on the resource MLflow 3's grant routes name by resource_type and resource_id; an unknown
 * type passes to the handler, which refuses it. With `self`, a user asking about themselves needs
 * nothing more (MLflow lets users read their own permissions).
 */
function manageNamedResource(db: Queryable, opts: { self?: boolean } = {}): AccessRule {
  return {
    kind: 'by-request',
    select: (request) => {
      const params = paramsOf(request);
      const principal = request.principal;
      if (opts.self && principal.kind === 'user' && params.username === principal.username) return SIGNED_IN;
      const resource = grantedResourceOf(params.resource_type);
      return resource ? manageRule(db, resource, 'resource_id') : SIGNED_IN;
    },
  };
}

export const selfOrAdmin: AccessRule = {
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

export function permissionOf(value: string): Permission {
  const parsed = Permission.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid permission '${value}'. Valid permissions are: (${Permission.options.map((p) => `'${p}'`).join(', ')})`,
  );
}

/** The resource kind of an MLflow 3 resource_type, or MLflow's error naming the valid ones. */
export function resourceOfType(resourceType: string): GrantedResource {
  const resource = grantedResourceOf(resourceType);
  if (resource) return resource;
  throw new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid resource type '${resourceType}'. Valid resource types are: (${RESOURCE_TYPES.map((type) => `'${type}'`).join(', ')})`,
  );
}

export async function requireUser(db: Queryable, username: string): Promise<User> {
  const user = await getUserByName(db, username);
  if (!user) throw userNotFound(username);
  return user;
}

// ---- errors (MLflow's wording) -------------------------------------------------------------------

const userNotFound = (username: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', `User with username=${username} not found`);

const lastAdmin = (username: string, doing: string): MlflowError =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Cannot ${doing} '${username}': it is the last admin. Make another user an admin first.`);

// ---- answers -------------------------------------------------------------------------------------

/** MLflow's user JSON (entities.py `User` with its permission lists); never the password hash. */
const encodeUser = (user: User, grants: { experiments: readonly Grant[]; models: readonly Grant[] }) => ({
  id: Number(user.userId),
  username: user.username,
  is_admin: user.isAdmin,
  experiment_permissions: grants.experiments.map((grant) => EXPERIMENT_PERMISSIONS.encode(grant.resource, user.userId, grant.permission)),
  registered_model_permissions: grants.models.map((grant) => MODEL_PERMISSIONS.encode(grant.resource, user.userId, grant.permission)),
});

/** A user's own grants (or, without a user, everyone's), as the user JSON lists them. */
async function userGrants(db: Queryable, userId?: string): Promise<{ experiments: Grant[]; models: Grant[] }> {
  const [experiments, models] = await Promise.all([listUserGrantsOn(db, EXPERIMENT_GRANTS, userId), listUserGrantsOn(db, MODEL_GRANTS, userId)]);
  return { experiments, models };
}

const ownGrants = (all: { experiments: Grant[]; models: Grant[] }, userId: string) => ({
  experiments: all.experiments.filter((grant) => grant.userId === userId),
  models: all.models.filter((grant) => grant.userId === userId),
});

// ---- routes --------------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Handler = (request: FastifyRequest) => Promise<unknown>;

function route(scope: FastifyInstance, method: Method, url: string, access: AccessRule, handler: Handler): void {
  scope.route({ method, url, config: { access }, handler: (request) => handler(request) });
}

/** The users endpoints of MLflow's basic-auth app (REST 2.0). */
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
    return { user: encodeUser(user, { experiments: [], models: [] }) };
  });

  route(scope, 'GET', '/users/get', selfOrAdmin, async (request) => {
    const { username } = parse(UsernameParams, paramsOf(request));
    const user = await requireUser(pool, username);
    return { user: encodeUser(user, await userGrants(pool, user.userId)) };
  });

  route(scope, 'GET', '/users/current', SIGNED_IN, async (request) => {
    const principal = request.principal;
    if (principal.kind !== 'user') {
      throw new MlflowError('BAD_REQUEST', 'Authentication is off on this server (MLFLEET_AUTH), so no user is signed in.');
    }
    const user = await requireUser(pool, principal.username);
    // is_basic_auth: the MLflow UI offers sign-out and password change only when it is true.
    return { user: encodeUser(user, await userGrants(pool, user.userId)), is_basic_auth: true };
  });

  route(scope, 'GET', '/users/list', ADMIN, async () => {
    const [users, grants] = await Promise.all([listUsers(pool), userGrants(pool)]);
    return { users: users.map((user) => encodeUser(user, ownGrants(grants, user.userId))) };
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
}

/**
 * MLflow 2's per-user grants on one kind of resource (`experiments/permissions/*`,
 * `registered-models/permissions/*`), in its shapes and words; MLflow 3 keeps them as the user's
 * own grants, which these are.
 */
interface LegacyGrants {
  path: string;
  resource: GrantedResource;
  /** The request field naming the resource, and its schema. */
  field: string;
  schema: z.ZodType<string>;
  /** The answer's key and its JSON. */
  key: string;
  encode(id: string, userId: string, permission: Permission): Record<string, unknown>;
  /** MLflow's words for the resource in its messages: `experiment_id=3`. */
  named(id: string): string;
  entity: string;
}

const EXPERIMENT_PERMISSIONS: LegacyGrants = {
  path: '/experiments/permissions',
  resource: EXPERIMENTS,
  field: 'experiment_id',
  schema: IdField,
  key: 'experiment_permission',
  encode: (id, userId, permission) => ({ experiment_id: id, user_id: Number(userId), permission }),
  named: (id) => `experiment_id=${id}`,
  entity: 'Experiment',
};

const MODEL_PERMISSIONS: LegacyGrants = {
  path: '/registered-models/permissions',
  resource: REGISTERED_MODELS,
  field: 'name',
  schema: ReqString,
  key: 'registered_model_permission',
  encode: (name, userId, permission) => ({ name, user_id: Number(userId), permission }),
  named: (name) => `name=${name}`,
  entity: 'Registered model',
};

function legacyGrantRoutes(scope: FastifyInstance, deps: MlflowAuthRouteDeps, grants: LegacyGrants): void {
  const { pool } = deps;
  const { resource } = grants;
  const rule = manageRule(pool, resource, grants.field);
  const Params = z.object({ [grants.field]: grants.schema, username: ReqString });
  const PermissionParams = Params.extend({ permission: ReqString });
  const notFound = (id: string, username: string) =>
    new MlflowError('RESOURCE_DOES_NOT_EXIST', `${grants.entity} permission with ${grants.named(id)} and username=${username} not found`);
  /** The resource and the user the request names, both existing, and the user's own grant on it. */
  const resolve = async (db: Queryable, params: Record<string, unknown>) => {
    const id = await requireResource(db, resource, String(params[grants.field]));
    const user = await requireUser(db, String(params.username));
    return { id, user, grant: await getGrantOn(db, resource.kind, id, { userId: user.userId }) };
  };

  route(scope, 'POST', `${grants.path}/create`, rule, async (request) => {
    const params = parse(PermissionParams, paramsOf(request));
    const permission = permissionOf(String(params.permission));
    return withTransaction(pool, async (tx) => {
      const { id, user } = await resolve(tx, params);
      const previous = await setGrantOn(tx, resource.kind, id, { userId: user.userId }, permission);
      if (previous !== undefined) {
        // Rolled back with the transaction: create never changes an existing grant.
        throw new MlflowError('RESOURCE_ALREADY_EXISTS', `${grants.entity} permission (${grants.named(id)}, username=${user.username}) already exists.`);
      }
      await auditChange(tx, request, 'permission.grant', resource.auditTarget(id), { username: user.username, permission });
      return { [grants.key]: grants.encode(id, user.userId, permission) };
    });
  });

  route(scope, 'GET', `${grants.path}/get`, rule, async (request) => {
    const { id, user, grant } = await resolve(pool, parse(Params, paramsOf(request)));
    if (!grant) throw notFound(id, user.username);
    return { [grants.key]: grants.encode(id, user.userId, grant.permission) };
  });

  route(scope, 'PATCH', `${grants.path}/update`, rule, async (request) => {
    const params = parse(PermissionParams, paramsOf(request));
    const permission = permissionOf(String(params.permission));
    await withTransaction(pool, async (tx) => {
      const { id, user, grant } = await resolve(tx, params);
      if (!grant) throw notFound(id, user.username);
      if (grant.permission === permission) return;
      await setGrantOn(tx, resource.kind, id, { userId: user.userId }, permission);
      await auditChange(tx, request, 'permission.update', resource.auditTarget(id), { username: user.username, permission, previous: grant.permission });
    });
    return {};
  });

  route(scope, 'DELETE', `${grants.path}/delete`, rule, async (request) => {
    const params = parse(Params, paramsOf(request));
    await withTransaction(pool, async (tx) => {
      const { id, user, grant } = await resolve(tx, params);
      if (!grant || !(await deleteGrantOn(tx, resource.kind, id, { userId: user.userId }))) throw notFound(id, user.username);
      await auditChange(tx, request, 'permission.revoke', resource.auditTarget(id), { username: user.username, previous: grant.permission });
    });
    return {};
  });
}

/** MLflow 3's resource-generic grant API (users/permissions/*), for experiments, registered models and prompts. */
function userPermissionRoutes(scope: FastifyInstance, deps: MlflowAuthRouteDeps): void {
  const { pool } = deps;
  const rule = manageNamedResource(pool);

  /** The resource kind, the user and the existing resource the request names. */
  const resolve = async (db: Queryable, params: z.infer<typeof ResourceParams>) => {
    const resource = resourceOfType(params.resource_type);
    const user = await requireUser(db, params.username);
    return { resource, user, id: await requireResource(db, resource, params.resource_id) };
  };
  const grantMessage = (params: z.infer<typeof ResourceParams>, outcome: string): string =>
    `Permission for user=${params.username} on resource_type=${params.resource_type}, resource_id=${params.resource_id} ${outcome}.`;

  route(scope, 'POST', '/users/permissions/grant', rule, async (request) => {
    const params = parse(ResourcePermissionParams, paramsOf(request));
    resourceOfType(params.resource_type);
    const permission = permissionOf(params.permission);
    await withTransaction(pool, async (tx) => {
      const { resource, user, id } = await resolve(tx, params);
      const previous = await setGrantOn(tx, resource.kind, id, { userId: user.userId }, permission);
      if (previous !== undefined) throw new MlflowError('RESOURCE_ALREADY_EXISTS', grantMessage(params, 'already exists')); // rolled back
      await auditChange(tx, request, 'permission.grant', resource.auditTarget(id), { username: user.username, permission });
    });
    return {};
  });

  route(scope, 'POST', '/users/permissions/revoke', rule, async (request) => {
    const params = parse(ResourceParams, paramsOf(request));
    await withTransaction(pool, async (tx) => {
      const { resource, user, id } = await resolve(tx, params);
      const grant = await getGrantOn(tx, resource.kind, id, { userId: user.userId });
      if (!grant || !(await deleteGrantOn(tx, resource.kind, id, { userId: user.userId }))) {
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', grantMessage(params, 'not found'));
      }
      await auditChange(tx, request, 'permission.revoke', resource.auditTarget(id), { username: user.username, previous: grant.permission });
    });
    return {};
  });

  // The permission a request by that user would be checked against: their own grant, else their
  // teams' best, else the default; admins (and everyone with auth off) hold MANAGE. A resource
  // that does not exist is NO_PERMISSIONS, as MLflow answers (deny by default). `allowed` is
  // MLflow's "may use": EDIT or more. Users may ask about themselves; about others, MANAGE.
  route(scope, 'GET', '/users/permissions/get', manageNamedResource(pool, { self: true }), async (request) => {
    const params = parse(ResourceParams, paramsOf(request));
    const resource = resourceOfType(params.resource_type);
    const user = await requireUser(pool, params.username);
    const id = await resource.find(pool, params.resource_id);
    const permission: Permission =
      id === undefined
        ? 'NO_PERMISSIONS'
        : !deps.auth.enabled || user.isAdmin
          ? 'MANAGE'
          : ((await permissionOnResource(pool, resource.kind, { userId: user.userId, defaultPermission: deps.auth.defaultPermission }, id)) ?? 'NO_PERMISSIONS');
    return { allowed: permits(permission, 'EDIT'), permission };
  });
}

/**
 * Registers MLflow's basic-auth endpoints: users, experiments/permissions and
 * registered-models/permissions under the REST 2.0 prefixes, users/permissions under the 3.0
 * ones, each for clients (/api) and the UI (/ajax-api).
 */
export function registerMlflowAuthRoutes(app: FastifyInstance, deps: MlflowAuthRouteDeps): void {
  const scopes: Array<[readonly string[], (scope: FastifyInstance, deps: MlflowAuthRouteDeps) => void]> = [
    [PREFIXES_2, userRoutes],
    [PREFIXES_2, (scope) => legacyGrantRoutes(scope, deps, EXPERIMENT_PERMISSIONS)],
    [PREFIXES_2, (scope) => legacyGrantRoutes(scope, deps, MODEL_PERMISSIONS)],
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
