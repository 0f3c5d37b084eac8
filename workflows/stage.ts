import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunStageInput } from '../activities/compute';
import type { AgentStatus } from '../domain/agent-job';
import type { StageStatus } from '../domain/launch';

/** What the launch hands each stage: the compute activity's input, less what the stage derives. */
export type StageRunInput = Omit<RunStageInput, 'key' | 'artifactUri'> & { parentRunId: string };

export interface StageResult {
  status: 'FINISHED';
  exit_code: number;
  outputs: Record<string, string>;
  started_at: number;
  ended_at: number;
}

const tracking = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const compute = proxyActivities<Activities>({
  // Bounded by the command itself; the heartbeat is what detects a dead worker.
  startToCloseTimeout: '7 days',
  heartbeatTimeout: '20 seconds',
  // The workflow waits until the stage process is really stopped before it records KILLED.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * One stage of a launch, as a child workflow and an MLflow child run: record the run, run the
 * command through the compute provider, and always tear down and record how it ended.
 */
export async function stageRun(input: StageRunInput): Promise<StageResult> {
  const key = workflowInfo().workflowId;
  let status: StageStatus = 'FAILED';
  let agent: AgentStatus | undefined;
  let error: string | undefined;
  try {
    const { artifactUri } = await tracking.startStageRun({
      launchId: input.launchId,
      stage: input.stage,
      runId: input.runId,
      parentRunId: input.parentRunId,
      experimentId: input.experimentId,
      workflowId: key,
      params: input.params,
    });
    const { parentRunId: _parent, ...stage } = input;
    agent = await compute.runStage({ ...stage, key, artifactUri });
    if (agent.exit_code === 0) status = 'FINISHED';
    else error = agent.error ?? `command exited with code ${agent.exit_code}`;
  } catch (err) {
    status = isCancellation(err) ? 'KILLED' : 'FAILED';
    error = err instanceof Error ? err.message : String(err);
    throw err;
  } finally {
    await CancellationScope.nonCancellable(async () => {
      await compute.releaseStage({ key });
      await tracking.finishStageRun({
        launchId: input.launchId,
        stage: input.stage,
        runId: input.runId,
        status: status === 'FINISHED' ? 'FINISHED' : status === 'KILLED' ? 'KILLED' : 'FAILED',
        ...(agent ? { exitCode: agent.exit_code, outputs: agent.outputs } : {}),
        ...(error !== undefined ? { error } : {}),
      });
    });
  }
  if (status !== 'FINISHED' || !agent) {
    throw ApplicationFailure.nonRetryable(`stage '${input.stage}' failed: ${error ?? 'unknown error'}`, 'StageFailed');
  }
  return { status, exit_code: agent.exit_code, outputs: agent.outputs, started_at: agent.started_at, ended_at: agent.ended_at };
}
