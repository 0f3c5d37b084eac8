import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { LaunchInput } from '../domain/launch';
import { launchWorkflowId } from '../workflows/ids';
import type { launchExperiment } from '../workflows/launch';

/**
 * Starts the launch workflow for `launchId`. Idempotent: starting an id that is already running
 * returns that launch instead of a second one. With `once`, an id whose launch has closed is
 * refused (WorkflowExecutionAlreadyStartedError) instead of started again.
 */
export function startLaunch(
  client: Client,
  opts: { launchId: string; input: LaunchInput; taskQueue: string; once?: boolean },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof launchExperiment>> {
  return client.workflow.start<typeof launchExperiment>('launchExperiment', {
    taskQueue: opts.taskQueue,
    workflowId: launchWorkflowId(opts.launchId),
    args: [opts.input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    ...(opts.once ? { workflowIdReusePolicy: 'REJECT_DUPLICATE' as const } : {}),
    // What the Temporal UI lists the launch as.
    staticSummary: `${opts.input.spec?.experiment ?? opts.input.pipeline ?? 'pipeline'} launch (${opts.input.trigger ?? 'api'})`,
  });
}
