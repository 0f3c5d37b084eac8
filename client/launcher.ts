import { type Client, WithStartWorkflowOperation, type WorkflowHandleWithFirstExecutionRunId, type WorkflowStartOptions } from '@temporalio/client';
import type { LaunchInput, LaunchProgress } from '../domain/launch';
import { launchTriggerOf } from '../domain/stage-plan';
import { launchBegunUpdate } from '../workflows/definitions';
import { launchWorkflowId } from '../workflows/ids';
import { launchSearchAttributes } from '../workflows/search-attributes';
import type { launchExperiment } from '../workflows/launch';

interface LaunchStart {
  launchId: string;
  input: LaunchInput;
  /** The experiment it launches into, once the caller has checked the input: the search attributes are then set at start. */
  experiment?: string;
  taskQueue: string;
  once?: boolean;
}

/**
 * Starts the launch workflow for `launchId`. Idempotent: starting an id that is already running
 * returns that launch instead of a second one. With `once`, an id whose launch has closed is
 * refused (WorkflowExecutionAlreadyStartedError) instead of started again.
 */
export function startLaunch(client: Client, opts: LaunchStart): Promise<WorkflowHandleWithFirstExecutionRunId<typeof launchExperiment>> {
  return client.workflow.start<typeof launchExperiment>('launchExperiment', launchStartOptions(opts));
}

/**
 * Starts the launch as startLaunch does and, in the same request, asks for its progress once it
 * has begun (launchBegunUpdate): one round trip, and no query task once the workflow has closed.
 */
export function startLaunchUntilBegun(client: Client, opts: LaunchStart): Promise<LaunchProgress> {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof launchExperiment>('launchExperiment', launchStartOptions(opts));
  return client.workflow.executeUpdateWithStart(launchBegunUpdate, { startWorkflowOperation });
}

function launchStartOptions(opts: LaunchStart): WorkflowStartOptions<typeof launchExperiment> & { workflowIdConflictPolicy: 'USE_EXISTING' } {
  const trigger = launchTriggerOf(opts.input);
  return {
    taskQueue: opts.taskQueue,
    workflowId: launchWorkflowId(opts.launchId),
    args: [opts.input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // Set here, the workflow need not upsert them (Temporal CLI and schedule starts still do).
    ...(opts.experiment !== undefined ? { typedSearchAttributes: launchSearchAttributes(opts.experiment, opts.launchId, trigger) } : {}),
    ...(opts.once ? { workflowIdReusePolicy: 'REJECT_DUPLICATE' as const } : {}),
    // What the Temporal UI lists the launch as.
    staticSummary: `${opts.input.spec?.experiment ?? opts.input.pipeline ?? 'pipeline'} launch (${trigger})`,
  };
}
