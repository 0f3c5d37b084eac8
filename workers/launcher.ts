import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { LaunchInput } from '../domain/launch';
import { launchWorkflowId } from '../workflows/ids';
import type { launchExperiment } from '../workflows/launch';

/**
 * Starts the launch workflow for `launchId`. Idempotent: starting an id that is already running
 * returns that launch instead of a second one.
 */
export function startLaunch(
  client: Client,
  opts: { launchId: string; input: LaunchInput; taskQueue: string },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof launchExperiment>> {
  return client.workflow.start<typeof launchExperiment>('launchExperiment', {
    taskQueue: opts.taskQueue,
    workflowId: launchWorkflowId(opts.launchId),
    args: [opts.input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}
