import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { isUnrestricted, type Permission, TeamName } from '../../domain/auth';
import { setGrantOn } from '../../store/permissions';
import { type Queryable, withTransaction } from '../../store/pool';
import {
  assignmentId,
  changeRoleGrant,
  findRoleGrant,
  getRole,
  getRoleGrant,
  listAssignments,
  listRoleGrants,
  listRoles,
  type Role,
  type RoleGrant,
  updateRole,
} from '../../store/roles';
import { addTeamMember, createTeam, deleteTeam, removeTeamMember, TeamExistsError } from '../../store/teams';
import { invalidParameter, MlflowError, missingParameter } from '../mlflow/errors';
import { useMlflowJsonBodies } from '../mlflow/json-body';
import { permissionDenied } from './access-control';
import { ADMIN, type AccessRule, SIGNED_IN } from './access-rule';
import { auditChange } from './audit-trail';
import { requireResource } from './granted-resources';
import { permissionOf, requireUser, resourceOfType, selfOrAdmin } from './mlflow-auth-routes';
import { paramsOf } from './request-params';

// MLflow 3's roles API (mlflow/server/auth: routes.py, the role handlers in __init__.py, the role
// store in sqlalchemy_store.py) as a view of mlfleet's teams: a role is a team, in the one
// workspace there is ('default'); its permissions are the team's grants on experiments and
// registered models; assigning a user a role makes them a member. So
// `get_app_client("basic-auth").create_role(...)` and the MLflow UI's roles page manage teams.
// Differences: names follow team names' rules; a permission names one resource (no '*'), with
// mlfleet's permissions; any signed-in user may read the roles they hold.

const PREFIXES = ['/api/3.0/mlflow', '/ajax-api/3.0/mlflow'] as const;
const WORKSPACE = 'default';

// ---- requests ----------------------------------------------------------------------------------

/** Python's repr of a JSON value, as MLflow's messages quote what they were sent. */
const pythonRepr = (value: unknown): string =>
  typeof value === 'string' ? `'${value}'` : value === null ? 'None' : typeof value === 'boolean' ? (value ? 'True' : 'False') : JSON.stringify(value);

/** MLflow's `_get_request_param`: the field, or its missing-parameter error. */
function field(request: FastifyRequest, name: string): unknown {
  const params = paramsOf(request);
  if (!Object.hasOwn(params, name)) throw missingParameter(name);
  return params[name];
}

/** A field that must be a string. */
function stringField(request: FastifyRequest, name: string): string {
  const value = field(request, name);
  if (typeof value !== 'string') throw invalidParameter(name, value);
  return value;
}

/** MLflow's `_get_int_request_param`, as the id of a row (so at most 18 digits). */
function idField(request: FastifyRequest, name: string): string {
  const value = field(request, name);
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^[+-]?\d{1,18}$/.test(text)) throw new MlflowError('INVALID_PARAMETER_VALUE', `Parameter '${name}' must be an integer. Got: ${pythonRepr(value)}`);
  return BigInt(text).toString();
}

/** A string field that must be there and not blank, with MLflow's message when it is not. */
function textField(request: FastifyRequest, name: string, blank: string): string {
  const value = paramsOf(request)[name];
  if (typeof value !== 'string' || value.trim() === '') throw new MlflowError('INVALID_PARAMETER_VALUE', blank);
  return value;
}

function optionalText(request: FastifyRequest, name: string, wrong: string): string | undefined {
  const value = paramsOf(request)[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new MlflowError('INVALID_PARAMETER_VALUE', wrong);
  return value;
}

function roleName(name: string): string {
  const parsed = TeamName.safeParse(name);
  if (parsed.success) return parsed.data;
  throw new MlflowError('INVALID_PARAMETER_VALUE', parsed.error.issues[0]?.message ?? 'invalid role name');
}

function checkWorkspace(workspace: string): void {
  if (workspace !== WORKSPACE) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Workspace '${workspace}' does not exist: this server has one workspace, '${WORKSPACE}'.`);
  }
}

// ---- answers -----------------------------------------------------------------------------------

const roleNotFound = (roleId: string) => new MlflowError('RESOURCE_DOES_NOT_EXIST', `Role with id=${roleId} not found`);

async function requireRole(db: Queryable, roleId: string): Promise<Role> {
  const role = await getRole(db, roleId);
  if (!role) throw roleNotFound(roleId);
  return role;
}

const permissionJson = (grant: RoleGrant) => ({
  id: Number(grant.grantId),
  role_id: Number(grant.roleId),
  resource_type: grant.resourceType,
  resource_pattern: grant.resource,
  permission: grant.permission,
});

/** MLflow's Role JSON, with its permissions. */
async function rolesJson(db: Queryable, roles: readonly Role[]) {
  const grants = await listRoleGrants(db, roles.map((role) => role.roleId));
  return roles.map((role) => ({
    id: Number(role.roleId),
    name: role.name,
    workspace: WORKSPACE,
    description: role.description ?? null,
    permissions: grants.filter((grant) => grant.roleId === role.roleId).map(permissionJson),
  }));
}

const roleJson = async (db: Queryable, role: Role) => (await rolesJson(db, [role]))[0];

// ---- routes --------------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function registerRoleRoutes(scope: FastifyInstance, pool: pg.Pool): void {
  const route = (method: Method, url: string, access: AccessRule, handler: (request: FastifyRequest) => Promise<unknown>) =>
    scope.route({ method, url, config: { access }, handler: (request) => handler(request) });
  /** A change and its audit record, in one transaction. */
  const change = (method: Method, url: string, handler: (tx: pg.PoolClient, request: FastifyRequest) => Promise<unknown>) =>
    route(method, url, ADMIN, (request) => withTransaction(pool, (tx) => handler(tx, request)));
  /** Admins see every role; anyone else the roles they hold. */
  const mayView = async (request: FastifyRequest, roleId: string): Promise<boolean> => {
    const principal = request.principal;
    return isUnrestricted(principal) || (principal.kind === 'user' && (await assignmentId(pool, roleId, principal.userId)) !== undefined);
  };

  change('POST', '/roles/create', async (tx, request) => {
    const name = textField(request, 'name', 'Role name cannot be empty.');
    checkWorkspace(textField(request, 'workspace', 'Workspace cannot be empty.'));
    const description = optionalText(request, 'description', 'Role description must be a string or null.');
    const team = await createTeam(tx, roleName(name)).catch((err: unknown) => {
      throw err instanceof TeamExistsError ? new MlflowError('RESOURCE_ALREADY_EXISTS', `Role (name=${name}, workspace=${WORKSPACE}) already exists.`) : err;
    });
    if (description !== undefined) await updateRole(tx, team.teamId, { description });
    await auditChange(tx, request, 'team.create', `team:${team.name}`, { team: team.name, ...(description !== undefined && { description }) });
    return { role: await roleJson(tx, await requireRole(tx, team.teamId)) };
  });

  route('GET', '/roles/get', SIGNED_IN, async (request) => {
    const roleId = idField(request, 'role_id');
    if (!(await mayView(request, roleId))) throw permissionDenied('Permission denied: only an admin or a holder of the role may read it.');
    return { role: await roleJson(pool, await requireRole(pool, roleId)) };
  });

  route('GET', '/roles/list', SIGNED_IN, async (request) => {
    const raw = (request.query as Record<string, unknown>).workspace;
    const workspaces = raw === undefined ? undefined : Array.isArray(raw) ? raw : [raw];
    if (workspaces?.some((w) => typeof w !== 'string' || w.trim() === '')) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', "Parameter 'workspace' must be a non-empty string when provided.");
    }
    if (workspaces !== undefined && !workspaces.includes(WORKSPACE)) return { roles: [] };
    const principal = request.principal;
    const roles = await listRoles(pool, isUnrestricted(principal) || principal.kind !== 'user' ? undefined : principal.userId);
    return { roles: await rolesJson(pool, roles) };
  });

  change('PATCH', '/roles/update', async (tx, request) => {
    const roleId = idField(request, 'role_id');
    const name = optionalText(request, 'name', 'Role name cannot be empty.');
    const description = optionalText(request, 'description', 'Role description must be a string.');
    if (name === undefined && description === undefined) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', "At least one of 'name' or 'description' must be provided to update a role.");
    }
    if (name !== undefined && name.trim() === '') throw new MlflowError('INVALID_PARAMETER_VALUE', 'Role name cannot be empty.');
    const before = await requireRole(tx, roleId);
    await updateRole(tx, roleId, { ...(name !== undefined && { name: roleName(name) }), ...(description !== undefined && { description }) }).catch((err: unknown) => {
      throw err instanceof TeamExistsError ? new MlflowError('RESOURCE_ALREADY_EXISTS', `Role with name=${name ?? ''} already exists in workspace=${WORKSPACE}`) : err;
    });
    const after = await requireRole(tx, roleId);
    await auditChange(tx, request, 'team.update', `team:${after.name}`, { team: after.name, previous: before.name, ...(description !== undefined && { description }) });
    return { role: await roleJson(tx, after) };
  });

  change('DELETE', '/roles/delete', async (tx, request) => {
    const role = await requireRole(tx, idField(request, 'role_id'));
    await deleteTeam(tx, role.name);
    await auditChange(tx, request, 'team.delete', `team:${role.name}`, { team: role.name });
    return {};
  });

  // ---- permissions: the team's grants ----

  change('POST', '/roles/permissions/add', async (tx, request) => {
    const roleId = idField(request, 'role_id');
    const resourceType = stringField(request, 'resource_type');
    const pattern = stringField(request, 'resource_pattern');
    const permission = permissionOf(stringField(request, 'permission'));
    const resource = resourceOfType(resourceType);
    if (pattern === '*') throw new MlflowError('INVALID_PARAMETER_VALUE', "resource_pattern '*' is not supported: a role's permission names one resource.");
    const role = await requireRole(tx, roleId);
    const id = await requireResource(tx, resource, pattern);
    const duplicate = () =>
      new MlflowError('RESOURCE_ALREADY_EXISTS', `Role permission (role_id=${roleId}, resource_type=${resourceType}, resource_pattern=${pattern}) already exists.`);
    if (await findRoleGrant(tx, resource.type, id, roleId)) throw duplicate();
    await setGrantOn(tx, resource.kind, id, { teamId: roleId }, permission);
    await auditChange(tx, request, 'permission.grant', resource.auditTarget(id), { team: role.name, permission });
    const grant = await findRoleGrant(tx, resource.type, id, roleId);
    if (!grant) throw new Error('the grant just added is missing');
    return { role_permission: permissionJson(grant) };
  });

  /** The team grant a request names by role_permission_id, or MLflow's not-found error. */
  const requireGrant = async (db: Queryable, request: FastifyRequest): Promise<RoleGrant> => {
    const grantId = idField(request, 'role_permission_id');
    const grant = await getRoleGrant(db, grantId);
    if (!grant) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Role permission with id=${grantId} not found`);
    return grant;
  };
  /** Changes a team grant and records it against the resource it is on. */
  const changeGrant = async (tx: pg.PoolClient, request: FastifyRequest, grant: RoleGrant, permission: Permission | 'remove') => {
    const role = await requireRole(tx, grant.roleId);
    await changeRoleGrant(tx, grant.grantId, permission);
    const target = resourceOfType(grant.resourceType).auditTarget(grant.resource);
    const detail = { team: role.name, previous: grant.permission };
    if (permission === 'remove') await auditChange(tx, request, 'permission.revoke', target, detail);
    else if (permission !== grant.permission) await auditChange(tx, request, 'permission.update', target, { ...detail, permission });
  };

  change('DELETE', '/roles/permissions/remove', async (tx, request) => {
    await changeGrant(tx, request, await requireGrant(tx, request), 'remove');
    return {};
  });

  route('GET', '/roles/permissions/list', SIGNED_IN, async (request) => {
    const roleId = idField(request, 'role_id');
    if (!(await mayView(request, roleId))) throw permissionDenied('Permission denied: only an admin or a holder of the role may read it.');
    await requireRole(pool, roleId);
    return { role_permissions: (await listRoleGrants(pool, [roleId])).map(permissionJson) };
  });

  change('PATCH', '/roles/permissions/update', async (tx, request) => {
    const grant = await requireGrant(tx, request);
    const permission = permissionOf(stringField(request, 'permission'));
    await changeGrant(tx, request, grant, permission);
    return { role_permission: permissionJson({ ...grant, permission }) };
  });

  // ---- assignments: the team's members ----

  /** The user and the role a request names, both existing. */
  const resolveAssignment = async (db: Queryable, request: FastifyRequest) => {
    const user = await requireUser(db, stringField(request, 'username'));
    const role = await requireRole(db, idField(request, 'role_id'));
    return { user, role };
  };
  const assignment = (verb: string, userId: string, roleId: string) =>
    `User role assignment (user_id=${userId}, role_id=${roleId}) ${verb}`;

  change('POST', '/roles/assign', async (tx, request) => {
    const { user, role } = await resolveAssignment(tx, request);
    if (!(await addTeamMember(tx, role.roleId, user.userId))) throw new MlflowError('RESOURCE_ALREADY_EXISTS', assignment('already exists', user.userId, role.roleId));
    await auditChange(tx, request, 'team.add-member', `team:${role.name}`, { team: role.name, username: user.username });
    const id = await assignmentId(tx, role.roleId, user.userId);
    return { assignment: { id: Number(id), user_id: Number(user.userId), role_id: Number(role.roleId) } };
  });

  change('DELETE', '/roles/unassign', async (tx, request) => {
    const { user, role } = await resolveAssignment(tx, request);
    if (!(await removeTeamMember(tx, role.roleId, user.userId))) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', assignment('not found', user.userId, role.roleId));
    await auditChange(tx, request, 'team.remove-member', `team:${role.name}`, { team: role.name, username: user.username });
    return {};
  });

  route('GET', '/users/roles/list', selfOrAdmin, async (request) => {
    const user = await requireUser(pool, stringField(request, 'username'));
    return { roles: await rolesJson(pool, await listRoles(pool, user.userId)) };
  });

  route('GET', '/roles/users/list', ADMIN, async (request) => {
    const role = await requireRole(pool, idField(request, 'role_id'));
    const members = await listAssignments(pool, role.roleId);
    return { assignments: members.map((m) => ({ id: Number(m.assignmentId), user_id: Number(m.userId), role_id: Number(role.roleId) })) };
  });
}

/** Registers the roles API under the REST 3.0 prefixes, for clients (/api) and the UI (/ajax-api). */
export function registerMlflowRoleRoutes(app: FastifyInstance, deps: { pool: pg.Pool }): void {
  for (const prefix of PREFIXES) {
    void app.register(
      (scope, _opts, done) => {
        useMlflowJsonBodies(scope);
        registerRoleRoutes(scope, deps.pool);
        done();
      },
      { prefix },
    );
  }
}
