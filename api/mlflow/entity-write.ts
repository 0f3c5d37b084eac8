import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { z } from 'zod';
import { requireActiveRun } from './guards';
import { parseRunRequest } from './wire';

/**
 * Registers one of MLflow's single-entity writes (log-metric, log-parameter, set-tag): the entity,
 * whose fields are the body's own (path ''), is validated before the run is checked, as MLflow does,
 * then written alone.
 */
export function registerEntityWrite<S extends z.ZodType, T>(
  scope: FastifyInstance,
  pool: pg.Pool,
  url: string,
  schema: S,
  toEntity: (body: z.output<S>, path: string) => T,
  write: (db: pg.Pool, runId: string, entities: NoInfer<T>[]) => Promise<void>,
): void {
  scope.post(url, async (request) => {
    const { runId, body } = parseRunRequest(schema, request.body);
    const entity = toEntity(body, '');
    await requireActiveRun(pool, runId);
    await write(pool, runId, [entity]);
    return {};
  });
}
