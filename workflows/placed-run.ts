import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunStageInput } from '../activities/compute';
import type { ProvisionedVm, VmOutcome } from '../activities/vm-compute';
import type { AgentStatus } from '../domain/agent-job';
import type { PlacementBlock } from '../domain/offer';
import type { RankedOffer } from '../domain/placement';
import type { Resources } from '../domain/pipeline-spec';
import { bookkeepingOptions, stageComputeOptions } from './activity-options';

/** How a placed stage got where it ran: what `mlfleet status` and the stage run's tags show. */
export interface PlacementReport {
  /** The offer of the attempt that ran the stage to its end (or the last one tried). */
  ranked?: RankedOffer;
  /** Why earlier offers were left: capacity and quota errors, preemptions. */
  failovers: string[];
  preemptions: number;
}

// A stage that has failed over this often has a problem no next offer fixes.
const MAX_PLACEMENTS = 10;

const placement = proxyActivities<Activities>(bookkeepingOptions);

const provisioning = proxyActivities<Activities>({
  // A create waits for the cloud's operation; the heartbeat is what notices a dead worker.
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

const compute = proxyActivities<Activities>(stageComputeOptions);

// Teardown must happen: retried without limit.
const teardown = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * Runs a stage where placement puts it: on this machine through the compute provider, or on the
 * cheapest open cloud offer. A create that fails for capacity or quota blocks its zone, region or
 * cloud and the next offer is tried; a preemption blocks the region and re-places the stage. Every
 * VM is released in a non-cancellable step, whatever ended its attempt.
 */
export async function runPlaced(stage: RunStageInput, resources: Resources, report: PlacementReport): Promise<AgentStatus> {
  const blocks: PlacementBlock[] = [];
  for (let attempt = 1; attempt <= MAX_PLACEMENTS; attempt += 1) {
    const where = await placement.placeStage({
      launchId: stage.launchId,
      stage: stage.stage,
      experimentId: stage.experimentId,
      resources,
      blocks,
      inputs: stage.inputs,
    });
    if (where.cloud === 'local') return compute.runStage(stage);
    report.ranked = where.ranked;
    let provisioned: ProvisionedVm | undefined;
    let outcome: VmOutcome | undefined;
    let failure: Error | undefined;
    try {
      provisioned = await provisioning.provisionVm({ stage, placementAttempt: attempt, ranked: where.ranked });
      outcome = await compute.awaitVm(provisioned);
    } catch (err) {
      failure = err as Error;
    } finally {
      if (provisioned) {
        const ended = provisioned;
        const status = outcome ? (outcome.outcome === 'preempted' ? 'PREEMPTED' : outcome.status.exit_code === 0 ? 'FINISHED' : 'FAILED') : isCancellation(failure) ? 'KILLED' : 'FAILED';
        await CancellationScope.nonCancellable(() =>
          teardown.releaseVm({
            launchId: stage.launchId,
            stage: stage.stage,
            leaseId: ended.leaseId,
            placementAttempt: attempt,
            status,
            reason: outcome?.outcome === 'preempted' ? 'preempted' : status.toLowerCase(),
            ...(failure !== undefined ? { error: failure.message } : {}),
          }),
        );
      }
    }
    if (failure !== undefined) {
      const block = await blockOf(failure);
      if (!block) throw failure;
      blocks.push(block);
      report.failovers.push(block.reason);
      continue;
    }
    if (outcome?.outcome === 'preempted') {
      const { offer } = where.ranked;
      const reason = `${offer.cloud}/${offer.region} ${offer.instance_type}: preempted (${outcome.reason})`;
      blocks.push({ scope: 'region', cloud: offer.cloud, region: offer.region, market: 'spot', reason });
      report.failovers.push(reason);
      report.preemptions += 1;
      continue;
    }
    if (outcome) return outcome.status;
  }
  throw ApplicationFailure.nonRetryable(`stage '${stage.stage}': no placement held after ${MAX_PLACEMENTS} attempts: ${report.failovers.join('; ')}`, 'PlacementExhausted');
}

/**
 * The block a classified create failure carries, if that is what ended the attempt. Its schema is
 * loaded only here: a stage that never fails over never evaluates it.
 */
async function blockOf(err: unknown): Promise<PlacementBlock | undefined> {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const { PlacementBlock, PROVISION_BLOCKED_FAILURE } = await import(/* webpackMode: "eager" */ '../domain/offer');
  if (cause.type !== PROVISION_BLOCKED_FAILURE) return undefined;
  const parsed = PlacementBlock.safeParse(cause.details?.[0]);
  return parsed.success ? parsed.data : undefined;
}
