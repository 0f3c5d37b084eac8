import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  BackfillInput,
  PauseInput,
  ScheduleInput,
  ScheduleList,
  ScheduleNameParams,
  scheduledLaunchInput,
  ScheduleUpdate,
  ScheduleView,
} from '../../domain/schedule';
import { ScheduleAlreadyExists, ScheduleNotFound, ScheduleRequestInvalid, ScheduleService } from '../../client/schedules';
import { type AccessRule, SIGNED_IN } from '../auth/access-rule';
import { claimExperiment } from '../auth/experiment-claim';
import { experimentNamedBy } from '../auth/locators';
import { readableNames } from '../../store/permissions';
import { checkLaunchInput, type LaunchCheckDeps, launchExperimentName } from './launch-checks';
import { MlflowError } from '../mlflow/errors';
import { v1Route } from './route';

export interface ScheduleRoutesDeps extends LaunchCheckDeps {
  temporal: Client;
  taskQueue: string;
}

const NoBody = z.strictObject({});
const BackfillAnswer = ScheduleView.extend({ backfill_launches: z.number() });

/** `/api/v1/schedules`: recurring launches backed by Temporal Schedules. */
export function registerScheduleRoutes(app: FastifyInstance, deps: ScheduleRoutesDeps): void {
  const service = new ScheduleService(deps.temporal, deps.taskQueue);
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toApiError(err);
    }
  };
  // A schedule belongs to the experiment its launches write into.
  const experimentNameOf = (view: ScheduleView): Promise<string | undefined> => launchExperimentName(deps, view.launch).catch(() => undefined);
  const nameParam = (params: unknown): string => {
    const name = (params as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : '';
  };
  const onSchedule = (need: 'READ' | 'EDIT' | 'MANAGE'): AccessRule => ({
    kind: 'experiment',
    need,
    locate: experimentNamedBy(
      deps.pool,
      async (request) => {
        const view = await service.describe(nameParam(request.params)).catch((err: unknown) => {
          if (err instanceof ScheduleNotFound) return undefined;
          throw err;
        });
        return view && experimentNameOf(view);
      },
      (request) => toApiError(new ScheduleNotFound(nameParam(request.params))) as MlflowError,
    ),
  });

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/schedules',
      summary: 'Create a schedule: launch a spec or registered pipeline on a cron expression or every interval',
      body: ScheduleInput,
      status: 201,
      response: ScheduleView,
      errors: [400],
      access: { kind: 'experiment-by-body', need: 'EDIT' },
    },
    async ({ body, request }) => {
      const experiment = await checkLaunchInput(deps, scheduledLaunchInput(body));
      await claimExperiment(deps, request, experiment);
      return run(() => service.create(body));
    },
  );

  v1Route(
    app,
    { method: 'GET', path: '/api/v1/schedules', summary: "List mlfleet's schedules (those of experiments the caller may read)", response: ScheduleList, access: SIGNED_IN },
    async ({ request }) => {
      const schedules = await run(() => service.list());
      const viewer = request.viewer;
      if (!viewer) return { schedules };
      const names = await Promise.all(schedules.map(experimentNameOf));
      const readable = await readableNames(deps.pool, viewer, names.filter((name) => name !== undefined));
      return { schedules: schedules.filter((_view, i) => readable.has(names[i] ?? '')) };
    },
  );

  v1Route(
    app,
    { method: 'GET', path: '/api/v1/schedules/:name', summary: 'Describe a schedule', params: ScheduleNameParams, response: ScheduleView, errors: [404], access: onSchedule('READ') },
    async ({ params }) => run(() => service.describe(params.name)),
  );

  v1Route(
    app,
    {
      method: 'PUT',
      path: '/api/v1/schedules/:name',
      summary: 'Replace what a schedule launches; change its timing and policies where given',
      params: ScheduleNameParams,
      body: ScheduleUpdate,
      response: ScheduleView,
      errors: [404],
      access: onSchedule('EDIT'),
    },
    async ({ params, body, request }) => {
      const experiment = await checkLaunchInput(deps, scheduledLaunchInput(body));
      await claimExperiment(deps, request, experiment);
      return run(() => service.update(params.name, body));
    },
  );

  v1Route(
    app,
    {
      method: 'DELETE',
      path: '/api/v1/schedules/:name',
      summary: 'Delete a schedule (launches it started keep running)',
      params: ScheduleNameParams,
      response: z.object({}),
      errors: [404],
      access: onSchedule('MANAGE'),
    },
    async ({ params }) => {
      await run(() => service.delete(params.name));
      return {};
    },
  );

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/schedules/:name/pause',
      summary: 'Pause a schedule: no launches start until it is unpaused',
      params: ScheduleNameParams,
      body: PauseInput,
      response: ScheduleView,
      errors: [404],
      access: onSchedule('EDIT'),
    },
    async ({ params, body }) => run(() => service.pause(params.name, body.note)),
  );

  v1Route(
    app,
    { method: 'POST', path: '/api/v1/schedules/:name/unpause', summary: 'Unpause a schedule', params: ScheduleNameParams, body: NoBody, response: ScheduleView, errors: [404], access: onSchedule('EDIT') },
    async ({ params }) => run(() => service.unpause(params.name)),
  );

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/schedules/:name/trigger',
      summary: "Start one launch now, under the schedule's overlap policy",
      params: ScheduleNameParams,
      body: NoBody,
      response: ScheduleView,
      errors: [404],
      access: onSchedule('EDIT'),
    },
    async ({ params }) => run(() => service.trigger(params.name)),
  );

  v1Route(
    app,
    {
      method: 'POST',
      path: '/api/v1/schedules/:name/backfill',
      summary: 'Start one launch per time the schedule would have fired in [start, end], one after another',
      params: ScheduleNameParams,
      body: BackfillInput,
      response: BackfillAnswer,
      errors: [404],
      access: onSchedule('EDIT'),
    },
    async ({ params, body }) => run(() => service.backfill(params.name, body)),
  );
}

function toApiError(err: unknown): unknown {
  // Temporal's own errors pass through to the error handler (500 without details).
  if (err instanceof ScheduleNotFound) return new MlflowError('RESOURCE_DOES_NOT_EXIST', err.message);
  if (err instanceof ScheduleAlreadyExists) return new MlflowError('RESOURCE_ALREADY_EXISTS', err.message);
  if (err instanceof ScheduleRequestInvalid) return new MlflowError('INVALID_PARAMETER_VALUE', err.message);
  return err;
}
