import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';

/** The reaper's schedule id: one per namespace and task queue. */
export const reaperScheduleId = (taskQueue: string): string => `mlfleet-reaper/${taskQueue}`;

/**
 * Creates (or updates the interval of) the Temporal Schedule that runs the leaked-VM reaper on
 * `taskQueue` every `intervalSeconds`; a sweep still running skips the next one.
 */
export async function ensureReaperSchedule(client: Client, taskQueue: string, intervalSeconds: number): Promise<void> {
  const scheduleId = reaperScheduleId(taskQueue);
  const spec = { intervals: [{ every: intervalSeconds * 1000 }] };
  const action = { type: 'startWorkflow' as const, workflowType: 'reapLeakedVms', taskQueue, workflowId: `mlfleet-reaper/${taskQueue}/sweep` };
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
