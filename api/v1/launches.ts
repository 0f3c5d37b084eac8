import { createHash, randomBytes } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { canonicalJson } from '../../domain/canonical-json';
import { LaunchInput, LaunchProgress, LaunchTrigger, RunStatus, StageAttemptList } from '../../domain/launch';
import { claimLaunchRequest, markLaunchRequestStarted } from '../../store/launch-requests';
import { type LaunchCursor, getLaunch, getLaunchProgress, listLaunches, listStageAttempts } from '../../store/launches';
import { launchBegunUpdate, launchProgressQuery } from '../../workflows/definitions';
import { launchWorkflowId } from '../../workflows/ids';
import { startLaunch, startLaunchUntilBegun } from '../../client/launcher';
import { MlflowError } from '../mlflow/errors';
import { SIGNED_IN } from '../auth/access-rule';
import { claimExperiment } from '../auth/experiment-claim';
import { experimentOfLaunch } from '../auth/locators';
import { checkLaunchInput, type LaunchCheckDeps } from './launch-checks';
import { pageTokenCodec } from './page-token';
import { v1Route } from './route';
import { digestOf } from '../../storage/digest';

export interface LaunchRoutesDeps extends LaunchCheckDeps {
  temporal: Client;
  taskQueue: string;
}

// Scheduled launches end in their nominal time (`sched-nightly-2026-11-27T03:00:00Z`), hence ':'.
const LAUNCH_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const LaunchIdParams = z.object({ id: z.string().regex(LAUNCH_ID_PATTERN, 'invalid launch id') });

// How long POST waits for the worker to report the launch begun before replying without its progress.
const FIRST_PROGRESS_WAIT_MS = 5_000;

/** `answer`, or undefined once FIRST_PROGRESS_WAIT_MS have passed without it. */
const withinWait = <T>(answer: Promise<T>): Promise<T | undefined> =>
  Promise.race([answer, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), FIRST_PROGRESS_WAIT_MS).unref())]);

/** A running launch whose worker has not answered yet. */
const bareProgress = (launchId: string): LaunchProgress => ({ launch_id: launchId, run_id: '', status: 'RUNNING', stages: [] });

const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,200}$/;

// The page token: the last launch of the page.
const pageTokens = pageTokenCodec(z.object({ t: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), id: z.string().regex(LAUNCH_ID_PATTERN) }).strict());
const encodePageToken = (cursor: LaunchCursor): string => pageTokens.encode({ t: cursor.createdAt, id: cursor.launchId });

const PageToken = z.string().transform((token, ctx): LaunchCursor => {
  const position = pageTokens.decode(token);
  if (position) return { createdAt: position.t, launchId: position.id };
  ctx.addIssue({ code: 'custom', message: 'invalid page token (pass back the next_page_token of the previous page)' });
  return z.NEVER;
});

/** Query string of `GET /api/v1/launches`; every value arrives as a string. */
const ListLaunchesQuery = z
  .object({
    experiment: z.string().min(1).max(500).optional().meta({ description: 'experiment name (or numeric id when no experiment has that name)' }),
    status: z.enum(['RUNNING', 'FINISHED', 'FAILED', 'KILLED']).optional(),
    limit: z
      .string()
      .regex(/^[0-9]+$/, 'expected an integer from 1 to 1000')
      .transform(Number)
      .pipe(z.number().int().min(1).max(1000))
      .optional()
      .meta({ description: 'page size, 1 to 1000 (default 100)' }),
    page_token: PageToken.optional().meta({ description: 'next_page_token of the previous page' }),
  })
  .strict();

const DEFAULT_PAGE_SIZE = 100;

const MAX_WAIT_SECONDS = 60;

/** Query string of `GET /api/v1/launches/:id`. */
const LaunchProgressQueryString = z
  .object({
    wait_seconds: z
      .string()
      .regex(/^[0-9]+$/, `expected an integer from 1 to ${MAX_WAIT_SECONDS}`)
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_WAIT_SECONDS))
      .optional()
      .meta({ description: `wait up to this many seconds (1 to ${MAX_WAIT_SECONDS}) for the launch to end; a launch that has ended answers at once` }),
  })
  .strict();

const LaunchSummaryBody = z.object({
  launch_id: z.string(),
  experiment_id: z.string(),
  /** The parent run; '' until the workflow has created it. */
  run_id: z.string(),
  status: RunStatus,
  trigger: LaunchTrigger,
  /** Epoch milliseconds. */
  created_at: z.number().int(),
  ended_at: z.number().int().optional(),
});

const LaunchList = z.object({
  launches: z.array(LaunchSummaryBody),
  next_page_token: z.string().optional(),
});
type LaunchList = z.infer<typeof LaunchList>;

export function registerLaunchRoutes(app: FastifyInstance, deps: LaunchRoutesDeps): void {
  const { temporal, pool } = deps;
  const launchLocator = experimentOfLaunch(pool, launchNotFound);

  /**
   * The launch's progress: live from the workflow while it runs, else from the database. With
   * `boundedWait`, a running workflow whose worker does not answer in time yields a bare RUNNING.
   */
  async function progressOf(launchId: string, boundedWait = false): Promise<LaunchProgress> {
    const handle = temporal.workflow.getHandle(launchWorkflowId(launchId));
    let exists = false;
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') {
        const live = boundedWait
          ? ((await withinWait(handle.query(launchProgressQuery).catch(() => undefined))) ?? bareProgress(launchId))
          : await handle.query(launchProgressQuery);
        // Ended but not yet closed: the database already has the final state, the one answer from now on.
        if (live.status === 'RUNNING') return live;
        return (await getLaunchProgress(pool, launchId)) ?? live;
      }
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

  /**
   * The progress once the launch has begun (launchBegunUpdate), `begun` being that update when it
   * was sent with the start. A launch that closed before the update reached it, or one started
   * before the update existed, reports as progressOf does; a worker that does not answer in time
   * yields a bare RUNNING.
   */
  async function firstProgress(launchId: string, begun?: Promise<LaunchProgress>): Promise<LaunchProgress> {
    const update = begun ?? temporal.workflow.getHandle(launchWorkflowId(launchId)).executeUpdate(launchBegunUpdate);
    const answer = await withinWait(
      update.then(
        (progress) => ({ progress }),
        (err: unknown) => ({ err }),
      ),
    );
    if (answer === undefined) return bareProgress(launchId);
    if ('progress' in answer) return answer.progress;
    if (answer.err instanceof WorkflowUpdateFailedError || answer.err instanceof WorkflowNotFoundError) return progressOf(launchId, true);
    throw answer.err;
  }

  /**
   * Returns once the launch's workflow has closed, or after `ms`: Temporal's long poll on the close
   * event, which costs the worker nothing (a query each poll would).
   */
  async function untilClosed(launchId: string, ms: number): Promise<void> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), ms);
    try {
      await temporal.connection.withAbortSignal(deadline.signal, () => temporal.workflow.getHandle(launchWorkflowId(launchId)).result());
    } catch {
      // Ended in failure, still running at the deadline, or unknown: progressOf tells which.
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts the launch an idempotency key names, at most once ever: a running workflow is joined
   * (USE_EXISTING), a closed one is never started again (REJECT_DUPLICATE, and the recorded run id).
   */
  async function startKeyedLaunch(launchId: string, input: LaunchInput, experiment: string): Promise<void> {
    let runId: string;
    try {
      const handle = await startLaunch(temporal, { launchId, input, experiment, taskQueue: deps.taskQueue, once: true });
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      runId = (await temporal.workflow.getHandle(launchWorkflowId(launchId)).describe()).runId;
    }
    await markLaunchRequestStarted(pool, launchId, runId);
  }

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/launches',
      summary: 'Start a launch of a pipeline spec or of a registered pipeline version',
      body: LaunchInput,
      headers: {
        [IDEMPOTENCY_KEY_HEADER]:
          '1 to 200 printable ASCII characters. A retry with the same key and body answers 200 with the launch the first ' +
          'request started (never a second one, even after it ended); the same key with another body is a 400.',
      },
      status: 201,
      response: LaunchProgress,
      access: { kind: 'experiment-by-body', need: 'EDIT' },
    },
    async ({ body, request, reply }) => {
      const key = idempotencyKeyOf(request);
      const experiment = await checkLaunchInput(deps, body);
      await claimExperiment(deps, request, experiment);
      const input: LaunchInput = { ...body, trigger: body.trigger ?? 'api' };

      if (key === undefined) {
        const launchId = randomBytes(8).toString('hex');
        return firstProgress(launchId, startLaunchUntilBegun(temporal, { launchId, input, experiment, taskQueue: deps.taskQueue }));
      }

      // The body as sent (key order aside): a retry must repeat the request, not just mean the same.
      const requestDigest = digestOf(canonicalJson(request.body ?? {}));
      const { request: claimed, created } = await claimLaunchRequest(pool, {
        launchId: launchIdForKey(key),
        idempotencyKey: key,
        requestDigest,
        createdAt: Date.now(),
      });
      if (claimed.requestDigest !== requestDigest) {
        throw invalid(`${IDEMPOTENCY_KEY_HEADER} '${key}' was already used for a different request`);
      }
      // Started unless a request with this key recorded its start already (its workflow may be long gone).
      if (claimed.workflowRunId === undefined) await startKeyedLaunch(claimed.launchId, input, experiment);
      if (created) return firstProgress(claimed.launchId);
      await reply.status(200).send(await progressOf(claimed.launchId, true));
      return undefined;
    },
  );

  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/launches',
      summary: 'List launches, newest first, a page at a time',
      query: ListLaunchesQuery,
      response: LaunchList,
      access: SIGNED_IN,
    },
    async ({ query, request }): Promise<LaunchList> => {
      const page = await listLaunches(pool, {
        viewer: request.viewer,
        ...(query.experiment !== undefined && { experiment: query.experiment }),
        ...(query.status !== undefined && { status: query.status }),
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        ...(query.page_token !== undefined && { after: query.page_token }),
      });
      return {
        launches: page.launches.map((launch) => ({
          launch_id: launch.launchId,
          experiment_id: launch.experimentId,
          run_id: launch.runId ?? '',
          status: launch.status,
          trigger: launch.trigger,
          created_at: launch.createdAt,
          ...(launch.endedAt !== undefined && { ended_at: launch.endedAt }),
        })),
        ...(page.next && { next_page_token: encodePageToken(page.next) }),
      };
    },
  );

  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/launches/:id',
      summary: 'Status and per-stage progress of a launch',
      params: LaunchIdParams,
      query: LaunchProgressQueryString,
      response: LaunchProgress,
      errors: [404],
      access: { kind: 'experiment', need: 'READ', locate: launchLocator },
    },
    async ({ params, query }) => {
      if (query.wait_seconds !== undefined) await untilClosed(params.id, query.wait_seconds * 1000);
      return progressOf(params.id);
    },
  );

  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/launches/:id/attempts',
      summary: "Every placement attempt of a launch's stages: cloud, region, zone, instance type, spot, how it ended (PREEMPTED, FAILED, …) and its cost",
      params: LaunchIdParams,
      response: StageAttemptList,
      errors: [404],
      access: { kind: 'experiment', need: 'READ', locate: launchLocator },
    },
    async ({ params }): Promise<StageAttemptList> => {
      if (!(await getLaunch(pool, params.id))) throw launchNotFound(params.id);
      const attempts = await listStageAttempts(pool, params.id);
      return {
        launch_id: params.id,
        attempts: attempts.map((a) => ({
          stage: a.stage,
          attempt: a.attempt,
          provider: a.provider,
          status: a.status,
          ...(a.startedAt !== undefined && { started_at: a.startedAt }),
          ...(a.endedAt !== undefined && { ended_at: a.endedAt }),
          ...(a.error !== undefined && { error: a.error }),
          ...(a.placement && {
            cloud: a.placement.cloud,
            region: a.placement.region,
            zone: a.placement.zone,
            instance_type: a.placement.instanceType,
            spot: a.placement.spot,
            price_per_hour: a.placement.pricePerHour,
          }),
          ...(a.costUsd !== undefined && { cost_usd: a.costUsd }),
        })),
      };
    },
  );

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/launches/:id/cancel',
      summary: 'Cancel a launch: its running stages stop and end KILLED',
      params: LaunchIdParams,
      response: LaunchProgress,
      errors: [404],
      access: { kind: 'experiment', need: 'EDIT', locate: launchLocator },
    },
    async ({ params: { id } }) => {
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
    },
  );
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(raw)) {
    throw invalid(`${IDEMPOTENCY_KEY_HEADER}: expected 1 to 200 printable ASCII characters`);
  }
  return raw;
}

/** The launch an idempotency key names: every retry of the request gets the same launch and workflow id. */
export const launchIdForKey = (key: string): string =>
  createHash('sha256').update(`idempotency:${key}`).digest('hex').slice(0, 16);

const invalid = (message: string): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', message);
const launchNotFound = (launchId: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', `Launch '${launchId}' not found`);
