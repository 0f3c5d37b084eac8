import { activityInfo, ApplicationFailure, CancelledFailure, cancellationDetails, Context, heartbeat } from '@temporalio/activity';
import type { AgentInput, AgentJob, AgentStatus } from '../domain/agent-job';
import type { ParamValue } from '../domain/param-value';
import { closeAbandonedAttempts, recordStageAttempt, type StageAttempt } from '../store/launches';
import { joinUri } from '../storage/object-store';
import type { ActivityDeps } from './deps';

export interface RunStageInput {
  /** The stage workflow id: the provider's idempotency key for this stage. */
  key: string;
  launchId: string;
  stage: string;
  runId: string;
  experimentId: string;
  command: string;
  params: Record<string, ParamValue>;
  env: Record<string, string>;
  codeBundleUri?: string;
  /** Input name → an upstream stage's output, or data pinned to a manifest. */
  inputs: Record<string, AgentInput>;
  /** Output name → path relative to the working directory. */
  outputs: Record<string, string>;
  /** The stage run's artifact root: outputs and logs are uploaded below it. */
  artifactUri: string;
}

/** The agent contract for one stage: what runs, where its inputs and outputs go, whom it reports to. */
export function agentJobOf(input: RunStageInput, trackingUri: string, extra: { statusUri?: string } = {}): AgentJob {
  return {
    command: input.command,
    params: input.params,
    ...(input.codeBundleUri ? { codeBundleUri: input.codeBundleUri } : {}),
    inputs: input.inputs,
    outputs: input.outputs,
    outputsUri: joinUri(input.artifactUri, 'outputs'),
    logsUri: joinUri(input.artifactUri, 'logs'),
    ...extra,
    env: {
      ...input.env,
      MLFLOW_TRACKING_URI: trackingUri,
      MLFLOW_RUN_ID: input.runId,
      MLFLOW_EXPERIMENT_ID: input.experimentId,
      MLFLEET_LAUNCH_ID: input.launchId,
      MLFLEET_STAGE: input.stage,
    },
  };
}

// Polls start fast (a short stage's end, noticed late, is launch latency) and slow down with the
// stage's age to once a second, which still stops a cancelled stage within a couple of seconds.
export const pollInterval = (elapsedMs: number): number => Math.min(1_000, 10 + elapsedMs / 20);

/** Compute activities: start or adopt a stage's agent, wait for it, and tear it down by key. */
export function createComputeActivities(deps: ActivityDeps) {
  const { provider, pool } = deps;
  return {
    /**
     * Runs the stage to completion and returns the agent's status (a non-zero exit code is a
     * result, not an error: the workflow decides). Heartbeats while waiting, so a dead worker is
     * noticed and the retry adopts the same agent, and cancellation reaches the stage process.
     */
    async runStage(input: RunStageInput): Promise<AgentStatus> {
      // One row per activity attempt: a retry that adopts a running agent is still a new attempt.
      const attempt = { launchId: input.launchId, stage: input.stage, attempt: activityInfo().attempt, provider: provider.name };
      const record = (update: Omit<StageAttempt, keyof typeof attempt>): Promise<unknown> => recordStageAttempt(pool, { ...attempt, ...update });
      // The agent starts while the attempt is recorded: its start is most of a short stage's time.
      const startedAt = Date.now();
      await Promise.all([
        provider.start(input.key, agentJobOf(input, deps.trackingUri)),
        closeAbandonedAttempts(pool, input.launchId, input.stage, attempt.attempt, startedAt).then(() => record({ status: 'RUNNING', startedAt })),
      ]);
      try {
        const polling = Date.now();
        for (;;) {
          heartbeat();
          const state = await provider.poll(input.key);
          if (state.state === 'exited') {
            const { status } = state;
            await record({ status: status.exit_code === 0 ? 'FINISHED' : 'FAILED', endedAt: status.ended_at, exitCode: status.exit_code, ...(status.error ? { error: status.error } : {}) });
            return status;
          }
          if (state.state === 'lost') {
            await record({ status: 'FAILED', endedAt: Date.now(), error: state.reason });
            throw ApplicationFailure.retryable(state.reason, 'StageAgentLost');
          }
          await Context.current().sleep(pollInterval(Date.now() - polling));
        }
      } catch (err) {
        if (err instanceof CancelledFailure) {
          // A stopping worker is not a cancelled stage: the activity is retried on the next worker.
          if (cancellationDetails()?.workerShutdown) {
            await provider.interrupt(input.key);
            await record({ status: 'FAILED', endedAt: Date.now(), error: 'interrupted: the worker shut down' });
          } else {
            await provider.terminate(input.key);
            await record({ status: 'KILLED', endedAt: Date.now() });
          }
        }
        throw err;
      }
    },

    /** Idempotent teardown by key; the stage workflow calls it whatever happened. */
    async releaseStage(input: { key: string }): Promise<void> {
      await provider.terminate(input.key);
    },
  };
}
