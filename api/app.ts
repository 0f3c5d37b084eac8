import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Cloud } from '../domain/pipeline-spec';
import { createStorage, type Storage } from '../storage/storage';
import type { AuthConfig } from '../domain/auth';
import { registerAccessControl } from './auth/access-control';
import { PUBLIC } from './auth/access-rule';
import { createAuthenticator } from './auth/authenticate';
import { registerMlflowAuthRoutes } from './auth/mlflow-auth-routes';
import { registerMlflowRoleRoutes } from './auth/mlflow-roles';
import { registerAccessRoutes } from './v1/access';
import { LoginThrottle } from './auth/login-throttle';
import { registerErrorHandling } from './errors';
import { mlflowRuleLookup } from './mlflow/access-rules';
import { registerMlflowArtifactRoutes } from './mlflow/artifacts-proxy';
import { registerMlflowRoutes } from './mlflow/routes';
import { registerOpenApiRoute } from './openapi';
import { registerAgentRoute } from './v1/agent';
import { registerLaunchRoutes } from './v1/launches';
import { registerOfferRoutes } from './v1/offers';
import { registerScheduleRoutes } from './v1/schedules';
import { registerPipelineRoutes } from './v1/pipelines';

export interface AppOptions {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  /** Where uploaded code bundles go (the worker's artifact root). */
  artifactRoot: string;
  /** file:// and s3:// storage; from the AWS environment by default. */
  storage?: Storage;
  /** Request logging: on (stdout), off, or to a stream (tests read what would be logged). */
  logger?: boolean | { stream: NodeJS.WritableStream; level?: string };
  /** Sign-in throttling; one per app by default. */
  loginThrottle?: LoginThrottle;
  /** The clouds stages may be placed on, for `GET /api/v1/offers`; all when absent. */
  enabledClouds?: Cloud[];
  /** Access control; off when absent (the embedded demo). */
  auth?: AuthConfig;
}

export const AUTH_OFF: AuthConfig = { enabled: false, defaultPermission: 'NO_PERMISSIONS' };

/** The HTTP API: the MLflow REST facade and mlfleet's /api/v1. */
export function buildApp(opts: AppOptions): FastifyInstance {
  // maxParamLength above every id limit, so long ids reach validation and get its error body.
  // Credentials never reach a log line, whatever a serializer is later told to print.
  const redact = ['req.headers.authorization', 'req.headers.cookie'];
  const logger = typeof opts.logger === 'object' ? { ...opts.logger, redact } : opts.logger ? { redact } : false;
  const app = Fastify({ logger, bodyLimit: 16 * 1024 * 1024, routerOptions: { maxParamLength: 1024 } });
  registerErrorHandling(app);
  // First: every route registered after this needs an access rule.
  registerAccessControl(app, {
    pool: opts.pool,
    config: opts.auth ?? AUTH_OFF,
    authenticate: createAuthenticator({ pool: opts.pool, throttle: opts.loginThrottle ?? new LoginThrottle() }),
    ruleFor: mlflowRuleLookup(opts.pool),
  });
  const storage = opts.storage ?? createStorage();
  const checks = { pool: opts.pool, store: storage.objects, artifactRoot: opts.artifactRoot };
  app.get('/health', { config: { access: PUBLIC } }, async (_request, reply) => reply.type('text/plain').send('OK'));
  // The MLflow server version mlflow-go mirrors.
  app.get('/version', { config: { access: PUBLIC } }, async (_request, reply) => reply.type('text/plain').send('2.19.0'));
  registerMlflowRoutes(app, { pool: opts.pool, artifactRoot: opts.artifactRoot, artifactsAt: storage.artifactsAt });
  registerMlflowArtifactRoutes(app, { artifacts: storage.artifactsAt(opts.artifactRoot) });
  registerLaunchRoutes(app, { ...checks, temporal: opts.temporal, taskQueue: opts.taskQueue });
  registerPipelineRoutes(app, checks);
  registerScheduleRoutes(app, { ...checks, temporal: opts.temporal, taskQueue: opts.taskQueue });
  registerOfferRoutes(app, { pool: opts.pool, ...(opts.enabledClouds ? { enabledClouds: opts.enabledClouds } : {}) });
  registerAgentRoute(app);
  registerMlflowAuthRoutes(app, { pool: opts.pool, auth: opts.auth ?? AUTH_OFF });
  registerMlflowRoleRoutes(app, { pool: opts.pool });
  registerAccessRoutes(app, { pool: opts.pool });
  registerOpenApiRoute(app); // last: the document lists every /api/v1 route registered above
  return app;
}
