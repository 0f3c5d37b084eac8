import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { type AuthConfig, isUnrestricted, type Permission, permits, type Principal, principalName } from '../../domain/auth';
import { recordAuditEvent } from '../../store/audit';
import { type ExperimentViewer, permissionOnResource, setGrantOn } from '../../store/permissions';
import type { Queryable } from '../../store/pool';
import { MlflowError } from '../mlflow/errors';
import type { AccessRule, ReadSource } from './access-rule';
import { auditChange } from './audit-trail';
import { AuthenticationFailure, type Authenticator, unauthenticated } from './authenticate';
import { EXPERIMENTS, type GrantedResource, REGISTERED_MODELS } from './granted-resources';
import { OUTSIDE_EXPERIMENTS } from './locators';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set before any handler runs. */
    principal: Principal;
    /** Whose reads queries are narrowed to; undefined for admins and with auth off. */
    viewer: ExperimentViewer | undefined;
  }
  interface FastifyContextConfig {
    /** The route's authorization rule (routes without one get theirs from the rule table). */
    access?: AccessRule;
  }
}

export interface AccessControlDeps {
  pool: pg.Pool;
  config: AuthConfig;
  authenticate: Authenticator;
  /** Rules of routes registered without `config.access`, by `METHOD /path` (the MLflow table). */
  ruleFor(method: string, url: string): AccessRule | undefined;
}

export interface RouteAccess {
  method: string;
  url: string;
  rule: AccessRule;
}

/** Every route and its rule, in registration order: what the permission-matrix test walks. */
export const routeAccessOf = new WeakMap<FastifyInstance, RouteAccess[]>();

export const permissionDenied = (message = 'Permission denied.'): MlflowError => new MlflowError('PERMISSION_DENIED', message);

/**
 * Authentication and authorization for every route: registering a route without a rule throws, so
 * no route is ever served unguarded; each request is authenticated, then checked against its rule
 * before the handler runs. Denials are written to the audit trail.
 */
export function registerAccessControl(app: FastifyInstance, deps: AccessControlDeps): void {
  const routes: RouteAccess[] = [];
  const rules = new Map<string, AccessRule>();
  routeAccessOf.set(app, routes);
  app.decorateRequest('principal', null as never);
  app.decorateRequest('viewer', undefined);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const lookup = method === 'HEAD' ? 'GET' : method;
      const rule = route.config?.access ?? deps.ruleFor(lookup, route.url) ?? rules.get(`${lookup} ${route.url}`);
      if (!rule) throw new Error(`route ${method} ${route.url} has no access rule`);
      rules.set(`${method} ${route.url}`, rule);
      if (method !== 'HEAD') routes.push({ method, url: route.url, rule });
    }
  });

  /** A refused request, as who, what and when (the principal is set, anonymous if sign-in failed). */
  const recordDenial = async (request: FastifyRequest, detail: Record<string, unknown>) => {
    const actor = principalName(request.principal);
    await recordAuditEvent(deps.pool, {
      at: Date.now(),
      ...(actor !== undefined && { actor }),
      action: 'access.denied',
      target: `${request.method} ${request.url.split('?')[0]}`,
      detail,
      clientIp: request.ip,
    });
  };

  app.addHook('preHandler', async (request, reply) => {
    if (!deps.config.enabled) {
      request.principal = { kind: 'auth-off' };
      return;
    }
    const routeRule = rules.get(`${request.method} ${request.routeOptions.url ?? ''}`);
    try {
      request.principal = await deps.authenticate(request);
    } catch (err) {
      if (!(err instanceof AuthenticationFailure)) throw err;
      request.principal = { kind: 'anonymous' };
      await recordDenial(request, { reason: err.errorCode, ...(err.attemptedUsername && { username: err.attemptedUsername }) });
      if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
      else void reply.header('www-authenticate', 'Basic realm="mlfleet", charset="UTF-8"');
      throw err;
    }
    const principal = request.principal;
    request.viewer =
      principal.kind === 'user' && !principal.isAdmin ? { userId: principal.userId, defaultPermission: deps.config.defaultPermission } : undefined;
    // Unmatched requests (404s) have no rule and need none; the not-found handler answers.
    const rule = routeRule?.kind === 'by-request' ? routeRule.select(request) : routeRule;
    if (!rule || rule.kind === 'public') return;
    try {
      await authorize(request, rule);
    } catch (err) {
      if (err instanceof MlflowError) {
        await recordDenial(request, { reason: err.errorCode, rule: rule.kind, ...('need' in rule && { need: rule.need }) });
        if (err.errorCode === 'UNAUTHENTICATED') void reply.header('www-authenticate', 'Basic realm="mlfleet", charset="UTF-8"');
      }
      throw err;
    }
  });

  async function authorize(request: FastifyRequest, rule: Exclude<AccessRule, { kind: 'public' }>): Promise<void> {
    const principal = request.principal;
    if (principal.kind === 'anonymous') throw new AuthenticationFailure(unauthenticated(), undefined);
    if (isUnrestricted(principal)) return;
    switch (rule.kind) {
      case 'signed-in':
      case 'experiment-by-body':
        return;
      case 'by-request':
        throw new Error('a by-request rule must select another kind of rule');
      case 'admin':
        throw permissionDenied('Permission denied: only an admin may do this.');
      case 'self-or-admin':
        if (rule.username(request) === principalName(principal)) return;
        throw permissionDenied('Permission denied: only that user or an admin may do this.');
      case 'experiment': {
        const experimentId = await rule.locate.experimentOf(request);
        if (experimentId === undefined) return;
        await requireOn(deps.pool, request, experimentId, rule.need, () => rule.locate.notFound(request));
        return;
      }
      case 'registered-model': {
        const name = await rule.locate.modelOf(request);
        if (name !== undefined) await requireGranted(deps.pool, request, REGISTERED_MODELS, name, rule.need, () => rule.locate.notFound(request));
        for (const source of (await rule.sources?.(request)) ?? []) await requireSource(deps.pool, request, source);
      }
    }
  }
}

/**
 * Checks `need` on a resource: without READ the caller gets `hidden()` (the resource's own
 * not-found error); with READ but less than `need`, PERMISSION_DENIED.
 */
async function requireGranted(
  db: Queryable,
  request: FastifyRequest,
  resource: GrantedResource,
  id: string,
  need: Permission,
  hidden: () => MlflowError,
): Promise<void> {
  const viewer = request.viewer;
  if (!viewer) return;
  const held = await permissionOnResource(db, resource.kind, viewer, id);
  if (held === undefined) return; // no such resource: the handler answers as it would
  if (!permits(held, 'READ')) throw hidden();
  if (!permits(held, need)) throw permissionDenied(`Permission denied: ${need} on ${resource.describe(id)} is required (you have ${held}).`);
}

/**
 * READ on a source the request names (a model version's run, logged model or registered model).
 * As in MLflow, a source that does not exist is refused like one the caller may not read, so the
 * answer tells neither apart.
 */
async function requireSource(db: Queryable, request: FastifyRequest, source: ReadSource): Promise<void> {
  const refused = () => permissionDenied(`Permission denied: READ on the source ${source.what} is required.`);
  if (source.id === undefined) throw refused();
  await requireGranted(db, request, source.resource, source.id, 'READ', refused);
}

/** `need` on an experiment, as requireGranted checks it; a path outside every experiment is hidden. */
export async function requireOn(
  db: Queryable,
  request: FastifyRequest,
  experimentId: string,
  need: Permission,
  hidden: () => MlflowError,
): Promise<void> {
  if (request.viewer && experimentId === OUTSIDE_EXPERIMENTS) throw hidden();
  await requireGranted(db, request, EXPERIMENTS, experimentId, need, hidden);
}

/** The creator of an experiment or a registered model manages it (MLflow's rule); nothing to record with auth off. */
async function grantCreatorOf(db: Queryable, request: FastifyRequest, resource: GrantedResource, id: string): Promise<void> {
  const principal = request.principal;
  if (principal.kind !== 'user') return;
  await setGrantOn(db, resource.kind, id, { userId: principal.userId }, 'MANAGE');
  await auditChange(db, request, 'permission.grant', resource.auditTarget(id), { username: principal.username, permission: 'MANAGE', reason: 'creator' });
}

export const grantCreator = (db: Queryable, request: FastifyRequest, experimentId: string): Promise<void> => grantCreatorOf(db, request, EXPERIMENTS, experimentId);

/** For registered-models/create, in the transaction that creates the model (a prompt is one too). */
export const grantModelCreator = (db: Queryable, request: FastifyRequest, name: string): Promise<void> => grantCreatorOf(db, request, REGISTERED_MODELS, name);
