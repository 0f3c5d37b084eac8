import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Cloud } from '../domain/pipeline-spec';
import { createStorage, type Storage } from '../storage/storage';
import { registerErrorHandling } from './errors';
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
  logger?: boolean;
  /** The clouds stages may be placed on, for `GET /api/v1/offers`; all when absent. */
  enabledClouds?: Cloud[];
}

/** The HTTP API: the MLflow REST facade and mlfleet's /api/v1. */
export function buildApp(opts: AppOptions): FastifyInstance {
  // maxParamLength above every id limit, so long ids reach validation and get its error body.
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 16 * 1024 * 1024, routerOptions: { maxParamLength: 1024 } });
  registerErrorHandling(app);
  const storage = opts.storage ?? createStorage();
  const checks = { pool: opts.pool, store: storage.objects, artifactRoot: opts.artifactRoot };
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('OK'));
  app.get('/version', async (_request, reply) => reply.type('text/plain').send('2.19.0')); // the MLflow server version mlflow-go mirrors
  registerMlflowRoutes(app, { pool: opts.pool, artifactRoot: opts.artifactRoot, artifactsAt: storage.artifactsAt });
  registerMlflowArtifactRoutes(app, { artifacts: storage.artifactsAt(opts.artifactRoot) });
  registerLaunchRoutes(app, { ...checks, temporal: opts.temporal, taskQueue: opts.taskQueue });
  registerPipelineRoutes(app, checks);
  registerScheduleRoutes(app, { ...checks, temporal: opts.temporal, taskQueue: opts.taskQueue });
  registerOfferRoutes(app, { pool: opts.pool, ...(opts.enabledClouds ? { enabledClouds: opts.enabledClouds } : {}) });
  registerAgentRoute(app);
  registerOpenApiRoute(app); // last: the document lists every /api/v1 route registered above
  return app;
}
