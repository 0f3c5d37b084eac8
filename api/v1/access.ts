import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import {
  AddTeamMemberBody,
  AuditList,
  AuditQuery,
  type AuditEventView,
  CreatedToken,
  CreateTeamBody,
  CreateTokenBody,
  ExperimentGrantView,
  ExperimentIdParams,
  GrantList,
  isUnrestricted,
  ModelGrantList,
  ModelGrantView,
  ModelNameParams,
  principalName,
  RevokeGrantBody,
  SetGrantBody,
  TeamList,
  TeamMemberParams,
  TeamNameParams,
  TeamView,
  TokenIdParams,
  TokenList,
  TokenListQuery,
  TokenView,
} from '../../domain/auth';
import { type ApiToken, getToken, insertToken, listTokens, revokeToken } from '../../store/api-tokens';
import { type AuditCursor, type AuditEvent, listAuditEvents } from '../../store/audit';
import { deleteGrantOn, getGrantOn, type Grant, type GrantTarget, listGrantsOn, setGrantOn } from '../../store/permissions';
import { type Queryable, withTransaction } from '../../store/pool';
import { addTeamMember, createTeam, deleteTeam, getTeam, listTeams, removeTeamMember, type Team, TeamExistsError } from '../../store/teams';
import { getUserByName, type User } from '../../store/users';
import { permissionDenied } from '../auth/access-control';
import { ADMIN, type AccessRule, SIGNED_IN } from '../auth/access-rule';
import { auditChange } from '../auth/audit-trail';
import { EXPERIMENTS, type GrantedResource, REGISTERED_MODELS, requireResource } from '../auth/granted-resources';
import { experimentById, registeredModelByName } from '../auth/locators';
import { generateToken, hashToken } from '../auth/tokens';
import { MlflowError } from '../mlflow/errors';
import { pageTokenCodec } from './page-token';
import { v1Route, type V1Request, type V1RouteDef } from './route';

// mlfleet's own access-control endpoints: teams, API tokens, grants on experiments and registered
// models to users and teams, and the audit trail. MLflow's basic-auth endpoints (users, per-user grants) are in
// api/auth/mlflow-auth-routes.ts.

export interface AccessRouteDeps {
  pool: pg.Pool;
}

const DAY_MS = 86_400_000;
const Empty = z.object({});
const NoBody = z.strictObject({});

const notFound = (message: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', message);
const teamNotFound = (name: string) => notFound(`Team '${name}' not found`);
const userNotFound = (username: string) => notFound(`User '${username}' not found`);
const tokenNotFound = (id: string) => notFound(`Token with id=${id} not found`);

async function requireUser(db: Queryable, username: string): Promise<User> {
  const user = await getUserByName(db, username);
  if (!user) throw userNotFound(username);
  return user;
}

async function requireTeam(db: Queryable, name: string): Promise<Team> {
  const team = await getTeam(db, name);
  if (!team) throw teamNotFound(name);
  return team;
}

const teamView = (team: Team): TeamView => ({ name: team.name, members: team.members, created_at: team.createdAt });

const tokenView = (token: ApiToken): TokenView => ({
  token_id: token.tokenId,
  username: token.username,
  name: token.name,
  created_at: token.createdAt,
  expires_at: token.expiresAt,
  ...(token.revokedAt !== undefined && { revoked_at: token.revokedAt }),
  ...(token.lastUsedAt !== undefined && { last_used_at: token.lastUsedAt }),
});

/** Who holds a grant and what, as every grant view shows it beside the resource's own field. */
const granteeView = (grant: Grant) => ({
  ...(grant.username !== undefined && { username: grant.username }),
  ...(grant.team !== undefined && { team: grant.team }),
  permission: grant.permission,
});

const auditView = (event: AuditEvent): AuditEventView => ({
  event_id: event.eventId,
  at: event.at,
  ...(event.actor !== undefined && { actor: event.actor }),
  action: event.action,
  target: event.target,
  detail: event.detail,
  client_ip: event.clientIp,
});

// The audit page token: the last event of the page.
const pageTokens = pageTokenCodec(z.object({ at: z.number().int(), event_id: z.string().regex(/^\d{1,18}$/) }));
const encodeCursor = (cursor: AuditCursor): string => pageTokens.encode({ at: cursor.at, event_id: cursor.eventId });
function decodeCursor(token: string): AuditCursor {
  const position = pageTokens.decode(token);
  if (!position) throw new MlflowError('INVALID_PARAMETER_VALUE', 'page_token: invalid page token; pass the next_page_token of an earlier answer');
  return { at: position.at, eventId: position.event_id };
}

/** The user or team a grant request names, by the fields it may give. */
type GranteeRef = { username?: string | undefined; team?: string | undefined };
/** A grantee resolved to its id, and named as the audit trail records it. */
type GranteeTarget = { target: GrantTarget; detail: Record<string, string> };

/** The user or team a grant request names, resolved to its id. */
async function grantTargetOf(db: Queryable, grantee: GranteeRef): Promise<GranteeTarget> {
  if (grantee.username !== undefined) {
    const user = await requireUser(db, grantee.username);
    return { target: { userId: user.userId }, detail: { username: user.username } };
  }
  const team = await requireTeam(db, grantee.team ?? '');
  return { target: { teamId: team.teamId }, detail: { team: team.name } };
}

/**
 * The grant routes of one kind of resource, `GET|PUT|DELETE <path>`: the resource's id from the
 * path, its grants shown as `view` shows one.
 */
interface GrantRoutes<Params> {
  path: string;
  params: z.ZodType<Params>;
  idOf: (params: Params) => string;
  resource: GrantedResource;
  /** MANAGE on the resource. */
  access: AccessRule;
  /** `an experiment`, `a registered model`. */
  noun: string;
  view: z.ZodType;
  list: z.ZodType;
  viewOf: (grant: Grant) => unknown;
}

const EXPERIMENT_GRANT_ROUTES: GrantRoutes<ExperimentIdParams> = {
  path: '/api/v1/experiments/:id/grants',
  params: ExperimentIdParams,
  idOf: (params) => params.id,
  resource: EXPERIMENTS,
  access: { kind: 'experiment', need: 'MANAGE', locate: experimentById('params', { field: 'id' }) },
  noun: 'an experiment',
  view: ExperimentGrantView,
  list: GrantList,
  viewOf: (grant): ExperimentGrantView => ({ experiment_id: grant.resource, ...granteeView(grant) }),
};

const modelGrantRoutes = (db: Queryable): GrantRoutes<ModelNameParams> => ({
  path: '/api/v1/registered-models/:name/grants',
  params: ModelNameParams,
  idOf: (params) => params.name,
  resource: REGISTERED_MODELS,
  access: { kind: 'registered-model', need: 'MANAGE', locate: registeredModelByName(db, { part: 'params' }) },
  noun: 'a registered model or prompt',
  view: ModelGrantView,
  list: ModelGrantList,
  viewOf: (grant): ModelGrantView => ({ name: grant.resource, ...granteeView(grant) }),
});

/**
 * `/api/v1/teams`, `/api/v1/tokens`, `/api/v1/experiments/:id/grants`,
 * `/api/v1/registered-models/:name/grants` and `/api/v1/audit`.
 */
export function registerAccessRoutes(app: FastifyInstance, deps: AccessRouteDeps): void {
  const { pool } = deps;

  /** A route whose whole handler is one transaction, so a change and its audit record commit together or not at all. */
  const changeRoute = <Body = undefined, Query = undefined, Params = undefined>(
    def: V1RouteDef<Body, Query, Params>,
    change: (tx: pg.PoolClient, req: V1Request<Body, Query, Params>) => Promise<unknown>,
  ): void => v1Route(app, def, (req) => withTransaction(pool, (tx) => change(tx, req)));

  /** An admin's change to an existing team (a changeRoute): 404 when the team named in the path does not exist. */
  const teamChangeRoute = <Body = undefined, Params extends TeamNameParams = TeamNameParams>(
    def: Omit<V1RouteDef<Body, undefined, Params>, 'access' | 'errors'>,
    change: (tx: pg.PoolClient, team: Team, req: V1Request<Body, undefined, Params>) => Promise<unknown>,
  ): void => changeRoute({ ...def, access: ADMIN, errors: [403, 404] }, async (tx, req) => change(tx, await requireTeam(tx, req.params.name), req));

  // ---- teams -------------------------------------------------------------------------------------

  changeRoute(
    { method: 'POST', path: '/api/v1/teams', summary: 'Create a team (admins)', access: ADMIN, body: CreateTeamBody, status: 201, response: TeamView, errors: [403] },
    async (tx, { body, request }) => {
      const team = await createTeam(tx, body.name).catch((err: unknown) => {
        throw err instanceof TeamExistsError ? new MlflowError('RESOURCE_ALREADY_EXISTS', err.message) : err;
      });
      await auditChange(tx, request, 'team.create', `team:${team.name}`, { team: team.name });
      return teamView(team);
    },
  );

  v1Route(app, { method: 'GET', path: '/api/v1/teams', summary: 'List the teams and their members', access: SIGNED_IN, response: TeamList }, async () => ({
    teams: (await listTeams(pool)).map(teamView),
  }));

  v1Route(
    app,
    { method: 'GET', path: '/api/v1/teams/:name', summary: 'Describe a team', access: SIGNED_IN, params: TeamNameParams, response: TeamView, errors: [404] },
    async ({ params }) => teamView(await requireTeam(pool, params.name)),
  );

  teamChangeRoute(
    {
      method: 'DELETE',
      path: '/api/v1/teams/:name',
      summary: "Delete a team (admins); its grants go with it, its members' own grants stay",
      params: TeamNameParams,
      response: Empty,
    },
    async (tx, team, { request }) => {
      await deleteTeam(tx, team.name);
      await auditChange(tx, request, 'team.delete', `team:${team.name}`, { team: team.name, members: team.members });
      return {};
    },
  );

  teamChangeRoute(
    {
      method: 'POST',
      path: '/api/v1/teams/:name/members',
      summary: 'Add a user to a team (admins); adding a member again changes nothing',
      params: TeamNameParams,
      body: AddTeamMemberBody,
      response: TeamView,
    },
    async (tx, team, { body, request }) => {
      const user = await requireUser(tx, body.username);
      if (await addTeamMember(tx, team.teamId, user.userId)) {
        await auditChange(tx, request, 'team.add-member', `team:${team.name}`, { team: team.name, username: user.username });
      }
      return teamView(await requireTeam(tx, team.name));
    },
  );

  teamChangeRoute(
    {
      method: 'DELETE',
      path: '/api/v1/teams/:name/members/:username',
      summary: 'Remove a user from a team (admins)',
      params: TeamMemberParams,
      response: TeamView,
    },
    async (tx, team, { params, request }) => {
      const user = await requireUser(tx, params.username);
      if (!(await removeTeamMember(tx, team.teamId, user.userId))) throw notFound(`User '${user.username}' is not a member of team '${team.name}'`);
      await auditChange(tx, request, 'team.remove-member', `team:${team.name}`, { team: team.name, username: user.username });
      return teamView(await requireTeam(tx, team.name));
    },
  );

  // ---- tokens ------------------------------------------------------------------------------------

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/tokens',
      summary: 'Create an API token for yourself (admins: for anyone); the answer holds its secret, shown this once',
      access: SIGNED_IN,
      body: CreateTokenBody,
      status: 201,
      response: CreatedToken,
      errors: [403, 404],
    },
    async ({ body, request }) => {
      const own = principalName(request.principal);
      const username = body.username ?? own;
      if (username === undefined) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'body.username: required while authentication is off (no user is signed in to own the token)');
      }
      if (username !== own && !isUnrestricted(request.principal)) throw permissionDenied('Permission denied: only an admin may create a token for another user.');
      // A token must not mint its own successors: a stolen one would then outlive its expiry.
      if (request.principal.kind === 'user' && request.principal.via === 'token') {
        throw permissionDenied('Permission denied: sign in with your password to create a token (a token cannot create tokens).');
      }
      const token = generateToken();
      const createdAt = Date.now();
      const created = await withTransaction(pool, async (tx) => {
        const owner = await requireUser(tx, username);
        const row = await insertToken(tx, {
          userId: owner.userId,
          name: body.name,
          tokenHash: hashToken(token),
          createdAt,
          expiresAt: createdAt + body.expires_in_days * DAY_MS,
        });
        await auditChange(tx, request, 'token.create', `token:${row.tokenId}`, { username: owner.username, name: row.name, expires_at: row.expiresAt });
        return row;
      });
      return { ...tokenView(created), token };
    },
  );

  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/tokens',
      summary: "List your API tokens (admins: everyone's, or one user's with ?username=); never their secrets",
      access: SIGNED_IN,
      query: TokenListQuery,
      response: TokenList,
      errors: [403, 404],
    },
    async ({ query, request }) => {
      const principal = request.principal;
      let userId: string | undefined;
      if (isUnrestricted(principal)) {
        userId = query.username === undefined ? undefined : (await requireUser(pool, query.username)).userId;
      } else if (principal.kind === 'user') {
        if (query.username !== undefined && query.username !== principal.username) {
          throw permissionDenied("Permission denied: only an admin may list another user's tokens.");
        }
        userId = principal.userId;
      }
      return { tokens: (await listTokens(pool, userId)).map(tokenView) };
    },
  );

  changeRoute(
    {
      method: 'POST',
      path: '/api/v1/tokens/:id/revoke',
      summary: 'Revoke an API token (its owner or an admin); it stops working at once',
      access: SIGNED_IN,
      params: TokenIdParams,
      body: NoBody,
      response: TokenView,
      errors: [404],
    },
    async (tx, { params, request }) => {
      const principal = request.principal;
      const token = await getToken(tx, params.id);
      // Someone else's token is answered as missing: token ids say nothing to those who do not own them.
      const mine = principal.kind === 'user' && token?.userId === principal.userId;
      if (!token || !(mine || isUnrestricted(principal))) throw tokenNotFound(params.id);
      if (token.revokedAt === undefined) {
        await revokeToken(tx, token.tokenId, Date.now());
        await auditChange(tx, request, 'token.revoke', `token:${token.tokenId}`, { username: token.username, name: token.name });
      }
      return tokenView((await getToken(tx, token.tokenId)) ?? token);
    },
  );

  // ---- grants ------------------------------------------------------------------------------------

  function registerGrantRoutes<Params>(routes: GrantRoutes<Params>): void {
    const { resource, noun } = routes;
    const common = { path: routes.path, access: routes.access, params: routes.params, errors: [403, 404] };
    /** A change to the resource's grant to a user or team (a changeRoute): 404 unless both exist. */
    const grantChangeRoute = <Body extends GranteeRef>(
      def: Pick<V1RouteDef<Body, undefined, Params>, 'method' | 'summary' | 'body' | 'response'>,
      change: (tx: pg.PoolClient, id: string, grantee: GranteeTarget, req: V1Request<Body, undefined, Params>) => Promise<unknown>,
    ): void =>
      changeRoute({ ...def, ...common }, async (tx, req) => {
        const id = await requireResource(tx, resource, routes.idOf(req.params));
        return change(tx, id, await grantTargetOf(tx, req.body), req);
      });

    v1Route(app, { ...common, method: 'GET', summary: `The grants to users and teams on ${noun} (MANAGE on it)`, response: routes.list }, async ({ params }) => {
      const id = await requireResource(pool, resource, routes.idOf(params));
      return { grants: (await listGrantsOn(pool, resource.kind, id)).map(routes.viewOf) };
    });

    grantChangeRoute(
      {
        method: 'PUT',
        summary: `Grant a user or a team a permission on ${noun}, or change the one granted (MANAGE on it)`,
        body: SetGrantBody,
        response: routes.view,
      },
      async (tx, id, { target, detail }, { body, request }) => {
        const previous = await setGrantOn(tx, resource.kind, id, target, body.permission);
        if (previous !== body.permission) {
          await auditChange(tx, request, previous === undefined ? 'permission.grant' : 'permission.update', resource.auditTarget(id), {
            ...detail,
            permission: body.permission,
            ...(previous !== undefined && { previous }),
          });
        }
        const grant = await getGrantOn(tx, resource.kind, id, target);
        if (!grant) throw new Error('the grant just set is missing');
        return routes.viewOf(grant);
      },
    );

    grantChangeRoute(
      {
        method: 'DELETE',
        summary: `Remove a user's or a team's grant on ${noun} (MANAGE on it); the default permission applies again`,
        body: RevokeGrantBody,
        response: Empty,
      },
      async (tx, id, { target, detail }, { body, request }) => {
        const grant = await getGrantOn(tx, resource.kind, id, target);
        if (!grant || !(await deleteGrantOn(tx, resource.kind, id, target))) {
          throw notFound(`No grant to ${body.username !== undefined ? `user '${body.username}'` : `team '${body.team ?? ''}'`} on ${resource.describe(id)}`);
        }
        await auditChange(tx, request, 'permission.revoke', resource.auditTarget(id), { ...detail, previous: grant.permission });
        return {};
      },
    );
  }

  registerGrantRoutes(EXPERIMENT_GRANT_ROUTES);
  registerGrantRoutes(modelGrantRoutes(pool));

  // ---- audit trail -------------------------------------------------------------------------------

  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/audit',
      summary: 'The audit trail, newest first, a page at a time (admins): identity and permission changes, denied requests',
      access: ADMIN,
      query: AuditQuery,
      response: AuditList,
      errors: [403],
    },
    async ({ query }) => {
      const page = await listAuditEvents(pool, {
        limit: query.limit,
        ...(query.action !== undefined && { action: query.action }),
        ...(query.actor !== undefined && { actor: query.actor }),
        ...(query.page_token !== undefined && { before: decodeCursor(query.page_token) }),
      });
      return { events: page.events.map(auditView), ...(page.next && { next_page_token: encodeCursor(page.next) }) };
    },
  );
}
