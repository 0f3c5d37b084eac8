import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunStageInput } from '../activities/compute';
import type { PreparedInput, StageInputRef } from '../activities/memo';
import type { AgentStatus } from '../domain/agent-job';
import type { CacheKeyMaterial } from '../domain/cache-key';
import type { StageSource, StageStatus } from '../domain/launch';
import type { Resources } from '../domain/pipeline-spec';
import type { StageCachePolicy } from '../domain/stage-plan';
import { pinningOptions, stageComputeOptions } from './activity-options';
import { failureMessage } from './failure-message';
import { runPlaced, type PlacementReport } from './placed-run';

/** What the launch hands each stage: the compute activity's input, less what the stage derives. */
export type StageRunInput = Omit<RunStageInput, 'key' | 'artifactUri' | 'inputs' | 'command' | 'params' | 'env'> & {
  parentRunId: string;
  inputs: Record<string, StageInputRef>;
  /** What the stage's cache key is made of, less its inputs' digests (known once they are pinned); its command, params and env are what it runs. */
  material: Omit<CacheKeyMaterial, 'inputs'>;
  cache: StageCachePolicy;
  /** Set when the worker places stages (clouds configured): the stage's resources, for ranking offers. */
  placement?: { resources: Resources };
};

/** A finished stage's result: one that ran, took a memoized result (cached) or an earlier launch's (reused). */
export interface StageResult {
  /** Absent for a stage the launch settled without a run. */
  exitCode?: number;
  outputs: Record<string, string>;
  outputDigests: Record<string, string>;
  startedAt: number;
  endedAt: number;
  source: StageSource;
  /** The run whose result a cached or reused stage took. */
  sourceRunId?: string;
  cacheKey?: string;
  inputDigests: Record<string, string>;
}

const pinning = proxyActivities<Activities>(pinningOptions);

// Short bookkeeping runs as local activities: in the worker that runs the workflow, with no task
// queue round trip each (a few tens of milliseconds per stage on a dev server).
const bookkeeping = proxyLocalActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const compute = proxyActivities<Activities>(stageComputeOptions);

/**
 * One stage of a launch, as a child workflow and an MLflow child run: record the run, pin its
 * inputs, take a memoized result or run the command through the compute provider, and always tear
 * down and record how it ended.
 */
export async function stageRun(input: StageRunInput): Promise<StageResult> {
  const key = workflowInfo().workflowId;
  let status: StageStatus = 'FAILED';
  let agent: AgentStatus | undefined;
  let error: string | undefined;
  let prepared: Record<string, PreparedInput> = {};
  let cacheKey: string | undefined;
  let materialDigest: string | undefined;
  let hit: { runId: string; outputs: Record<string, string>; outputDigests: Record<string, string> } | undefined;
  const startedAt = Date.now();
  const placed: PlacementReport = { failovers: [], preemptions: 0 };
  const { material } = input;
  const start = {
    launchId: input.launchId,
    stage: input.stage,
    runId: input.runId,
    parentRunId: input.parentRunId,
    experimentId: input.experimentId,
    workflowId: key,
    params: material.params,
  };
  try {
    // One activity records the run, pins its inputs and looks its cache key up.
    // Pinning data can take long and heartbeats; a stage that reads only upstream outputs pins nothing.
    const pins = Object.values(input.inputs).some((ref) => ref.digest === undefined);
    const begun = await (pins ? pinning : bookkeeping).beginStage({ start, inputs: input.inputs, material, lookup: input.cache.lookup });
    const { artifactUri } = begun;
    ({ prepared, cacheKey, materialDigest } = begun);
    hit = begun.hit;
    if (hit) {
      status = 'FINISHED';
    } else {
      const { parentRunId: _parent, inputs: _refs, material: _material, cache: _cache, placement, ...stage } = input;
      const run: RunStageInput = { ...stage, command: material.command, params: material.params, env: material.env, inputs: agentInputs(prepared), key, artifactUri };
      agent = placement ? await runPlaced(run, placement.resources, placed) : await compute.runStage(run);
      if (agent.exit_code === 0) status = 'FINISHED';
      else error = agent.error ?? `command exited with code ${agent.exit_code}`;
    }
  } catch (err) {
    status = isCancellation(err) ? 'KILLED' : 'FAILED';
    error = failureMessage(err);
    throw err;
  } finally {
    await CancellationScope.nonCancellable(async () => {
      // Teardown and the end's record both run whatever happened, and neither reads the other: at
      // once (a short stage saves a local activity's turn).
      const released = hit ? undefined : bookkeeping.releaseStage({ key });
      const finish = {
        launchId: input.launchId,
        stage: input.stage,
        runId: input.runId,
        status: status === 'FINISHED' ? ('FINISHED' as const) : status === 'KILLED' ? ('KILLED' as const) : ('FAILED' as const),
        ...(agent ? { exitCode: agent.exit_code, outputs: agent.outputs, outputDigests: agent.output_digests ?? {} } : {}),
        ...(hit ? { source: 'cached' as const, sourceRunId: hit.runId, outputs: hit.outputs, outputDigests: hit.outputDigests } : {}),
        ...(cacheKey !== undefined ? { cacheKey } : {}),
        inputDigests: digestsOf(prepared),
        ...(error !== undefined ? { error } : {}),
        ...(placed.ranked ? { placement: placementTags(placed) } : {}),
      };
      // Only a stage that ran and finished registers its result: a failure is never memoized.
      const register =
        status === 'FINISHED' && agent && cacheKey !== undefined && input.cache.register !== 'never'
          ? { experimentId: input.experimentId, cacheKey, ...(materialDigest !== undefined ? { materialDigest } : {}), replace: input.cache.register === 'replace' }
          : undefined;
      return Promise.all([released, bookkeeping.endStage({ finish, ...(register ? { register } : {}) })]);
    });
  }
  const inputDigests = digestsOf(prepared);
  if (hit) {
    return {
      exitCode: 0,
      outputs: hit.outputs,
      outputDigests: hit.outputDigests,
      startedAt,
      endedAt: Date.now(),
      source: 'cached',
      sourceRunId: hit.runId,
      ...(cacheKey !== undefined ? { cacheKey } : {}),
      inputDigests,
    };
  }
  if (status !== 'FINISHED' || !agent) {
    throw ApplicationFailure.nonRetryable(`stage '${input.stage}' failed: ${error ?? 'unknown error'}`, 'StageFailed');
  }
  return {
    exitCode: agent.exit_code,
    outputs: agent.outputs,
    outputDigests: agent.output_digests ?? {},
    startedAt: agent.started_at,
    endedAt: agent.ended_at,
    source: 'ran',
    ...(cacheKey !== undefined ? { cacheKey } : {}),
    inputDigests,
  };
}

/** Where a placed stage ran and why there, as the stage run's `mlfleet.*` tags. */
function placementTags(report: PlacementReport): Record<string, string> {
  const { offer, spot, price_per_hour, expected_cost_usd } = report.ranked!;
  return {
    'mlfleet.cloud': offer.cloud,
    'mlfleet.region': offer.region,
    ...(offer.zone ? { 'mlfleet.zone': offer.zone } : {}),
    'mlfleet.instance_type': offer.instance_type,
    'mlfleet.spot': String(spot),
    'mlfleet.price_per_hour': String(price_per_hour),
    'mlfleet.expected_cost_usd': String(expected_cost_usd),
    ...(report.failovers.length > 0 ? { 'mlfleet.failovers': report.failovers.join('; ') } : {}),
  };
}

const digestsOf = (prepared: Record<string, PreparedInput>): Record<string, string> =>
  Object.fromEntries(Object.entries(prepared).map(([name, p]) => [name, p.digest]));

const agentInputs = (prepared: Record<string, PreparedInput>): RunStageInput['inputs'] =>
  Object.fromEntries(Object.entries(prepared).map(([name, { digest: _digest, ...agentInput }]) => [name, agentInput]));
