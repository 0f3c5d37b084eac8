import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunStageInput } from '../activities/compute';
import type { PreparedInput, StageInputRef } from '../activities/memo';
import type { AgentStatus } from '../domain/agent-job';
import type { CacheKeyMaterial } from '../domain/cache-key';
import type { StageSource, StageStatus } from '../domain/launch';
import type { Resources } from '../domain/pipeline-spec';
import { bookkeepingOptions, pinningOptions, stageComputeOptions } from './activity-options';
import { failureMessage } from './failure-message';
import { runPlaced, type PlacementReport } from './placed-run';

/**
 * How a stage uses the memo: `lookup` takes an earlier result with the same key instead of running;
 * `register` records this run's result for later launches (`replace` swaps out an existing one,
 * as --refresh, --no-cache and re-executions do; `never` for a stage with `cache: {enabled: false}`).
 */
export interface StageCachePolicy {
  lookup: boolean;
  register: 'never' | 'first' | 'replace';
}

/** What the launch hands each stage: the compute activity's input, less what the stage derives. */
export type StageRunInput = Omit<RunStageInput, 'key' | 'artifactUri' | 'inputs'> & {
  parentRunId: string;
  inputs: Record<string, StageInputRef>;
  /** What the stage's cache key is made of, less its inputs' digests (known once they are pinned). */
  material: Omit<CacheKeyMaterial, 'inputs'>;
  cache: StageCachePolicy;
  /** Set when the worker places stages (clouds configured): the stage's resources, for ranking offers. */
  placement?: { resources: Resources };
};

export interface StageResult {
  status: 'FINISHED';
  exit_code: number;
  outputs: Record<string, string>;
  output_digests: Record<string, string>;
  started_at: number;
  ended_at: number;
  source: StageSource;
  cache_key?: string;
  /** The run whose memoized result a cached stage took. */
  cached_from?: string;
  input_digests: Record<string, string>;
}

// Stages started before inputs were pinned and results memoized replay without either step.
const MEMOIZED_STAGES_PATCH = 'memoized-stages';

// Stages started before their teardown ran beside the end's record released first, then recorded.
const PARALLEL_TEARDOWN_PATCH = 'parallel-teardown';

const tracking = proxyActivities<Activities>(bookkeepingOptions);

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
  const start = {
    launchId: input.launchId,
    stage: input.stage,
    runId: input.runId,
    parentRunId: input.parentRunId,
    experimentId: input.experimentId,
    workflowId: key,
    params: input.params,
  };
  // Stages started before inputs were pinned and results memoized replay the steps they took.
  const memoized = patched(MEMOIZED_STAGES_PATCH);
  try {
    let artifactUri: string;
    if (memoized) {
      // One activity records the run, pins its inputs and looks its cache key up.
      // Pinning data can take long and heartbeats; a stage that reads only upstream outputs pins nothing.
      const pins = Object.values(input.inputs).some((ref) => ref.digest === undefined);
      const begun = await (pins ? pinning : bookkeeping).beginStage({ start, inputs: input.inputs, material: input.material, lookup: input.cache.lookup });
      ({ artifactUri, prepared, cacheKey, materialDigest } = begun);
      hit = begun.hit;
    } else {
      ({ artifactUri } = await tracking.startStageRun(start));
      prepared = Object.fromEntries(Object.entries(input.inputs).map(([name, ref]) => [name, { uri: ref.uri, digest: ref.digest ?? '' }]));
    }
    if (hit) {
      status = 'FINISHED';
    } else {
      const { parentRunId: _parent, inputs: _refs, material: _material, cache: _cache, placement, ...stage } = input;
      const run: RunStageInput = { ...stage, inputs: agentInputs(prepared), key, artifactUri };
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
      // once under the patch (a short stage saves a local activity's turn), one after the other before it.
      const released = hit ? undefined : (memoized ? bookkeeping : compute).releaseStage({ key });
      if (released && !patched(PARALLEL_TEARDOWN_PATCH)) await released;
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
      if (!memoized) return Promise.all([released, tracking.finishStageRun(finish)]);
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
      status: 'FINISHED',
      exit_code: 0,
      outputs: hit.outputs,
      output_digests: hit.outputDigests,
      started_at: startedAt,
      ended_at: Date.now(),
      source: 'cached',
      ...(cacheKey !== undefined ? { cache_key: cacheKey } : {}),
      cached_from: hit.runId,
      input_digests: inputDigests,
    };
  }
  if (status !== 'FINISHED' || !agent) {
    throw ApplicationFailure.nonRetryable(`stage '${input.stage}' failed: ${error ?? 'unknown error'}`, 'StageFailed');
  }
  return {
    status,
    exit_code: agent.exit_code,
    outputs: agent.outputs,
    output_digests: agent.output_digests ?? {},
    started_at: agent.started_at,
    ended_at: agent.ended_at,
    source: 'ran',
    ...(cacheKey !== undefined ? { cache_key: cacheKey } : {}),
    input_digests: inputDigests,
  };
}

/** Where a placed stage ran and why there, as the stage run's tags (DESIGN.md, Data model). */
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
