import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';

/** The reaper's schedule id: one per namespace and task queue. */
export const reaperScheduleId = (taskQueue: string): string => `mlfleet-reaper/${taskQueue}`;

/** The price refresh's schedule id: one per namespace and task queue. */
export const priceRefreshScheduleId = (taskQueue: string): string => `mlfleet-prices/${taskQueue}`;

/** The leaked-VM reaper every `intervalSeconds`; a sweep still running skips the next one. */
export const ensureReaperSchedule = (client: Client, taskQueue: string, intervalSeconds: number): Promise<void> =>
  ensureSchedule(client, reaperScheduleId(taskQueue), 'reapLeakedVms', taskQueue, intervalSeconds);

/** The offer catalog's live price refresh every `intervalSeconds`. */
export const ensurePriceRefreshSchedule = (client: Client, taskQueue: string, intervalSeconds: number): Promise<void> =>
  ensureSchedule(client, priceRefreshScheduleId(taskQueue), 'refreshOfferPrices', taskQueue, intervalSeconds);

/** Creates (or updates the interval of) a schedule running `workflowType` on `taskQueue`. */
async function ensureSchedule(client: Client, scheduleId: string, workflowType: string, taskQueue: string, intervalSeconds: number): Promise<void> {
  const spec = { intervals: [{ every: intervalSeconds * 1000 }] };
  const action = { type: 'startWorkflow' as const, workflowType, taskQueue, workflowId: `${scheduleId}/run` };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP } });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action }));
  }
}

/** Whether a workflow still runs, for the reaper: a closed or unknown owner no longer holds its VM. */
export function workflowLivenessOf(client: Client) {
  return async (workflowId: string): Promise<'running' | 'closed' | 'unknown'> => {
    try {
      const { status } = await client.workflow.getHandle(workflowId).describe();
      return status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') return 'unknown';
      throw err;
    }
  };
}
