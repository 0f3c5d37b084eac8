import { randomBytes } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { type LaunchInput, type LaunchProgress, parseLaunchInput } from '../../domain/launch';
import { SpecError } from '../../domain/pipeline-spec';
import { getLaunchProgress } from '../../store/launches';
import { launchProgressQuery } from '../../workflows/definitions';
import { launchWorkflowId } from '../../workflows/ids';
import { startLaunch } from '../../workers/launcher';
import { MlflowError } from '../mlflow/errors';

export interface LaunchRoutesDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
}

const LaunchIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'invalid launch id') });

// How long POST waits for the worker to answer the first progress query before replying without it.
const FIRST_PROGRESS_WAIT_MS = 5_000;

export function registerLaunchRoutes(app: FastifyInstance, deps: LaunchRoutesDeps): void {
  const { temporal, pool } = deps;

  async function progressOf(launchId: string): Promise<LaunchProgress> {
    const handle = temporal.workflow.getHandle(launchWorkflowId(launchId));
    let exists = false;
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') return await handle.query(launchProgressQuery);
      exists = true;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // Closed (or its history is gone): the database has the final state.
    const stored = await getLaunchProgress(pool, launchId);
    if (stored) return stored;
    // A launch that failed before it was recorded (bad code folder, say): its workflow still knows why.
    if (exists) return handle.query(launchProgressQuery);
    throw launchNotFound(launchId);
  }

  app.post('/api/v1/launches', async (request, reply) => {
    let parsed: LaunchInput;
    try {
      parsed = parseLaunchInput(request.body).input;
    } catch (err) {
      if (err instanceof SpecError) throw invalid(err.message);
      throw err;
    }
    if (parsed.code && 'dir' in parsed.code && !parsed.code.dir.startsWith('/')) {
      throw invalid('code.dir: expected an absolute path the worker can read');
    }
    const launchId = randomBytes(8).toString('hex');
    const input: LaunchInput = { ...parsed, trigger: parsed.trigger ?? 'api' };
    const handle = await startLaunch(temporal, { launchId, input, taskQueue: deps.taskQueue });
    const progress = await Promise.race([
      handle.query(launchProgressQuery).catch(() => undefined),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), FIRST_PROGRESS_WAIT_MS).unref()),
    ]);
    return reply.status(201).send(progress ?? { launch_id: launchId, status: 'RUNNING', stages: [] });
  });

  app.get('/api/v1/launches/:id', async (request) => {
    const { id } = parseParams(request.params);
    return progressOf(id);
  });

  app.post('/api/v1/launches/:id/cancel', async (request) => {
    const { id } = parseParams(request.params);
    const handle = temporal.workflow.getHandle(launchWorkflowId(id));
    try {
      const description = await handle.describe();
      // Cancel, never terminate: cancellation lets every stage stop its process and record KILLED.
      if (description.status.name === 'RUNNING') await handle.cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw launchNotFound(id);
      throw err;
    }
    return progressOf(id);
  });
}

function parseParams(params: unknown): { id: string } {
  const parsed = LaunchIdParams.safeParse(params);
  if (!parsed.success) throw invalid(parsed.error.issues[0]?.message ?? 'invalid launch id');
  return parsed.data;
}

const invalid = (message: string): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', message);
const launchNotFound = (launchId: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', `Launch '${launchId}' not found`);
