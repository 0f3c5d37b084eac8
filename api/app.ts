import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { registerErrorHandling } from './errors';
import { registerMlflowRoutes } from './mlflow/routes';
import { registerLaunchRoutes } from './v1/launches';

export interface AppOptions {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  logger?: boolean;
}

/** The HTTP API: the MLflow REST facade and mlfleet's /api/v1. */
export function buildApp(opts: AppOptions): FastifyInstance {
  // maxParamLength above every id limit, so long ids reach validation and get its error body.
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 16 * 1024 * 1024, routerOptions: { maxParamLength: 1024 } });
  registerErrorHandling(app);
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('OK'));
  registerMlflowRoutes(app, { pool: opts.pool });
  registerLaunchRoutes(app, { pool: opts.pool, temporal: opts.temporal, taskQueue: opts.taskQueue });
  return app;
}
