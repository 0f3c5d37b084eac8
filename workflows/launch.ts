import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowCancellationType,
  condition,
  ParentClosePolicy,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlannedInputRef, SettledStage, StageInputRef, StageOutputs } from '../activities/memo';
import { descendants, stageDependencies, topologicalOrder, upstreamOf } from '../domain/dag';
import { copiesInput, type InputSpec, inputValue, parseInputRef } from '../domain/input-ref';
import {
  checkStageOptions,
  type CodeSource,
  type LaunchInput,
  type LaunchProgress,
  parseLaunchInput,
  type StageProgress,
} from '../domain/launch';
import type { CacheKeyMaterial } from '../domain/cache-key';
import { applyParamOverrides } from '../domain/params';
import { parsePipelineSpec, type PipelineSpec, SpecError } from '../domain/pipeline-spec';
import { launchBegunUpdate, launchProgressQuery } from './definitions';
import { bookkeepingOptions, pinningOptions } from './activity-options';
import { failureMessage } from './failure-message';
import { launchIdFromWorkflowId, stageWorkflowId } from './ids';
import {
  MlfleetExperiment,
  MlfleetLaunch,
  MlfleetStage,
  MlfleetTrigger,
  TemporalScheduledById,
  TemporalScheduledStartTime,
} from './search-attributes';
import { type StageCachePolicy, type StageResult, stageRun } from './stage';

// Launches started before stages could be settled without a child workflow replay without it.
const SETTLE_STAGES_PATCH = 'settle-stages';

const tracking = proxyActivities<Activities>(bookkeepingOptions);

const settling = proxyActivities<Activities>(pinningOptions);

// Packing a large code folder can take a while; it is still bounded.
const preparationOptions = {
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
} as const;
const preparation = proxyActivities<Activities>(preparationOptions);

// The launch's own bookkeeping as local activities: run inside the workflow task that schedules
// them, so a fully cached launch completes in one workflow task instead of four, each a round trip
// through the server. Launches started before this replay them as activity tasks.
const LOCAL_BOOKKEEPING_PATCH = 'local-launch-bookkeeping';
const localTracking = proxyLocalActivities<Activities>(bookkeepingOptions);
const localPreparation = proxyLocalActivities<Activities>(preparationOptions);

/**
 * A launch: one execution of a pipeline, recorded as a parent MLflow run. Stages run as child
 * workflows in DAG order, independent branches in parallel. The first stage failure cancels the
 * stages still running and skips those not started; cancelling the launch does the same.
 */
export async function launchExperiment(rawInput: LaunchInput): Promise<LaunchProgress> {
  const { spec: inlineSpec, input } = validate(rawInput);
  const info = workflowInfo();
  const launchId = launchIdFromWorkflowId(info.workflowId);
  const trigger = input.trigger ?? 'temporal';
  const schedule = scheduledBy();
  const local = patched(LOCAL_BOOKKEEPING_PATCH);
  const bookkeeping = local ? localTracking : tracking;

  // Run ids are chosen here (uuid4 is replay-safe), so every write that names them is idempotent.
  const progress: LaunchProgress = { launch_id: launchId, run_id: newRunId(), status: 'RUNNING', stages: [] };
  const stageProgress = (name: string): StageProgress => progress.stages.find((s) => s.name === name)!;
  setHandler(launchProgressQuery, () => progress);
  let begun = false;
  let ended = false;
  setHandler(launchBegunUpdate, async () => {
    await condition(() => begun || ended);
    return progress;
  });

  let status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FAILED';
  let error: string | undefined;
  let title = input.pipeline ?? inlineSpec?.experiment ?? '';
  try {
    const { spec, code } = inlineSpec ? { spec: inlineSpec, code: input.code } : await resolvePipeline(input, bookkeeping);
    title = spec.experiment;
    const order = topologicalOrder(spec);
    const deps = stageDependencies(spec);
    // A re-execution takes every stage upstream of `from` from the earlier launch, checked before anything starts.
    const reused: Record<string, StageOutputs> =
      input.from && input.reuse ? await bookkeeping.resolveReuse({ launchId: input.reuse, stages: upstreamOf(spec, input.from) }) : {};
    // The `from` stage and everything downstream of it run whatever the memo holds.
    const rerunFrom = new Set(input.from ? descendants(spec, input.from) : []);
    // Listed as the spec lists them, as the database does once the launch is over.
    progress.stages = Object.keys(spec.stages).map((name) => ({ name, run_id: newRunId(), status: 'PENDING' }));
    upsertSearchAttributes([
      { key: MlfleetExperiment, value: spec.experiment },
      { key: MlfleetLaunch, value: launchId },
      { key: MlfleetTrigger, value: trigger },
    ]);
    showDetails(title, progress);

    const launch = await (local ? localPreparation : preparation).prepareLaunch({
      launchId,
      workflowId: info.workflowId,
      runId: progress.run_id,
      spec,
      params: input.params ?? {},
      ...(code ? { code } : {}),
      ...(input.pipeline ? { pipeline: input.pipeline } : {}),
      ...(schedule ? { schedule } : {}),
      ...(input.from && input.reuse ? { from: input.from, reuse: input.reuse } : {}),
      trigger,
    });
    progress.experiment_id = launch.experimentId;

    /** --no-cache, --refresh and a re-execution's `from` stage and descendants run and replace what is memoized. */
    const cachePolicy = (name: string): StageCachePolicy => {
      if (spec.stages[name]?.cache?.enabled === false) return { lookup: false, register: 'never' };
      const rerun =
        input.no_cache === true ||
        (input.refresh ?? []).includes(name) ||
        rerunFrom.has(name);
      return rerun ? { lookup: false, register: 'replace' } : { lookup: true, register: 'first' };
    };

    /** The stage's cache key material, less its inputs' digests (known once its inputs are). */
    const material = (name: string): Omit<CacheKeyMaterial, 'inputs'> => {
      const stage = spec.stages[name]!;
      const codeDigest = launch.stageCodeDigests?.[name] ?? launch.codeDigest;
      return {
        command: stage.command,
        ...(stage.image !== undefined ? { image: stage.image } : {}),
        ...(codeDigest !== undefined ? { code: codeDigest } : {}),
        params: stage.params ?? {},
        env: stage.env ?? {},
        ...(stage.cache?.version !== undefined ? { version: stage.cache.version } : {}),
      };
    };

    // Reused stages and every memo hit reachable from the roots are settled in one activity, without
    // a child workflow each. (Launches started before this existed replay without it.) Pinning data
    // can take long and heartbeats; a launch whose stages read only upstream outputs pins nothing.
    const pins = Object.values(spec.stages).some((stage) => Object.values(plannedInputs(stage.inputs ?? {})).some((ref) => 'uri' in ref));
    // Pinning can take long: the launch has begun before it, not once it is done.
    begun = pins;
    const settled: Record<string, SettledStage> = patched(SETTLE_STAGES_PATCH)
      ? await (local && !pins ? localTracking : settling).settleStages({
          launchId,
          workflowId: info.workflowId,
          parentRunId: progress.run_id,
          experimentId: launch.experimentId,
          reused,
          stages: order.map((name) => ({
            name,
            runId: stageProgress(name).run_id,
            lookup: cachePolicy(name).lookup,
            inputs: plannedInputs(spec.stages[name]!.inputs ?? {}),
            material: material(name),
          })),
        })
      : {};
    const settledAt = Date.now();

    // Settled stages' results are plain values: every promise a workflow makes costs a stack trace
    // (the SDK's promise hook), which a fully cached launch of many stages felt.
    const settledResults: Record<string, StageResult> = {};
    const results: Record<string, Promise<StageResult>> = {};
    let firstFailure: unknown;
    const dagScope = new CancellationScope();
    await dagScope.run(async () => {
      for (const name of order) {
        const stage = spec.stages[name]!;
        const current = stageProgress(name);
        let started = false;
        const done = settled[name];
        if (done) {
          Object.assign(current, {
            status: 'FINISHED',
            source: done.source,
            [done.source === 'cached' ? 'cached_from' : 'reused_from']: done.sourceRunId,
            ...(done.cacheKey !== undefined ? { cache_key: done.cacheKey } : {}),
            input_digests: done.inputDigests,
            started_at: settledAt,
            ended_at: settledAt,
            duration_s: 0,
          });
          settledResults[name] = {
            status: 'FINISHED',
            exit_code: 0,
            outputs: done.outputs,
            output_digests: done.outputDigests,
            started_at: settledAt,
            ended_at: settledAt,
            source: done.source,
            input_digests: done.inputDigests,
          };
          continue;
        }
        results[name] = (async () => {
          const upstream = await Promise.all((deps[name] ?? []).map((d) => results[d] ?? Promise.resolve(settledResults[d]!)));
          const upstreamResults = Object.fromEntries((deps[name] ?? []).map((d, i) => [d, upstream[i]!]));
          const child = await startChild(stageRun, {
            workflowId: stageWorkflowId(launchId, name),
            args: [
              {
                launchId,
                stage: name,
                runId: current.run_id,
                parentRunId: progress.run_id,
                experimentId: launch.experimentId,
                command: stage.command,
                params: stage.params ?? {},
                env: stage.env ?? {},
                ...(launch.codeBundleUri ? { codeBundleUri: launch.codeBundleUri } : {}),
                inputs: resolveInputs(plannedInputs(stage.inputs ?? {}), upstreamResults),
                outputs: stage.outputs ?? {},
                material: material(name),
                cache: cachePolicy(name),
                ...(launch.placement ? { placement: { resources: stage.resources ?? {} } } : {}),
              },
            ],
            // A cancelled launch lets each stage tear down its process (never TERMINATE, which skips that).
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            typedSearchAttributes: [
              { key: MlfleetExperiment, value: spec.experiment },
              { key: MlfleetLaunch, value: launchId },
              { key: MlfleetStage, value: name },
              { key: MlfleetTrigger, value: trigger },
            ],
            staticSummary: `stage ${name} of ${spec.experiment} launch ${launchId}`,
          });
          started = true;
          current.status = 'RUNNING';
          current.started_at = Date.now();
          showDetails(title, progress);
          return child.result();
        })();
        void results[name].then(
          (result) => {
            Object.assign(current, {
              status: 'FINISHED',
              exit_code: result.exit_code,
              ended_at: Date.now(),
              source: result.source,
              input_digests: result.input_digests,
              ...(result.cache_key !== undefined ? { cache_key: result.cache_key } : {}),
              ...(result.cached_from !== undefined ? { cached_from: result.cached_from } : {}),
            });
            current.duration_s = (result.ended_at - result.started_at) / 1000;
            showDetails(title, progress);
          },
          (err: unknown) => {
            if (!started) {
              Object.assign(current, { status: 'SKIPPED', run_id: '' });
              return;
            }
            current.ended_at = Date.now();
            if (isCancellation(err)) {
              current.status = 'KILLED';
            } else {
              current.status = 'FAILED';
              current.error = failureMessage(err);
              if (firstFailure === undefined) {
                firstFailure = err;
                dagScope.cancel();
              }
            }
            showDetails(title, progress);
          },
        );
      }
      // A launch with nothing left to run has begun when it ends: that is the answer it owes.
      begun = order.some((name) => !settled[name]);
      await Promise.allSettled(Object.values(results));
    });

    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('launch cancelled');
    if (firstFailure !== undefined) {
      throw ApplicationFailure.nonRetryable(`launch ${launchId} failed: ${failureMessage(firstFailure)}`, 'LaunchFailed');
    }
    status = 'FINISHED';
    return progress;
  } catch (err) {
    status = isCancellation(err) ? 'KILLED' : 'FAILED';
    error = failureMessage(err);
    for (const stage of progress.stages) {
      if (stage.status === 'PENDING') Object.assign(stage, { status: 'SKIPPED', run_id: '' });
    }
    throw err;
  } finally {
    // Safe even if preparation failed half-way: it ends only what was recorded.
    await CancellationScope.nonCancellable(() =>
      bookkeeping.finishLaunch({ launchId, runId: progress.run_id, status, ...(error !== undefined ? { error } : {}) }),
    );
    // Only now, so a query that sees the launch ended can rely on the database having its final state.
    progress.status = status;
    if (error !== undefined) progress.error = error;
    showDetails(title, progress);
    ended = true;
    // A launch-begun update still waiting gets the end as its answer before the workflow closes.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}

/** The input as given by any caller (REST, CLI, Temporal CLI/UI, schedules), checked once more. */
function validate(rawInput: unknown): { spec?: PipelineSpec; input: LaunchInput } {
  try {
    return parseLaunchInput(rawInput);
  } catch (err) {
    // Permanent: retrying the same input cannot succeed, and nothing has been recorded yet.
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(`invalid launch input:\n${err.message}`, 'InvalidLaunchInput');
    throw err;
  }
}

/** A registered pipeline version: its spec (checked like any spec) and, unless overridden, its code. */
async function resolvePipeline(input: LaunchInput, bookkeeping: typeof tracking): Promise<{ spec: PipelineSpec; code?: CodeSource }> {
  const resolved = await bookkeeping.resolvePipeline({ ref: input.pipeline! });
  let spec: PipelineSpec;
  try {
    spec = applyParamOverrides(parsePipelineSpec(resolved.spec), input.params ?? {});
    checkStageOptions(spec, input);
  } catch (err) {
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(`invalid launch input:\n${err.message}`, 'InvalidLaunchInput');
    throw err;
  }
  const code = input.code ?? (resolved.codeBundle ? { bundle: resolved.codeBundle } : undefined);
  return code ? { spec, code } : { spec };
}

/** The schedule that started this launch, if one did (Temporal sets these search attributes). */
function scheduledBy(): { id: string; nominalTime: string } | undefined {
  const attributes = workflowInfo().typedSearchAttributes;
  const id = attributes.get(TemporalScheduledById);
  const time = attributes.get(TemporalScheduledStartTime);
  return id ? { id, nominalTime: time ? time.toISOString() : '' } : undefined;
}

/** The Temporal UI's "current details" of a launch (titled by its experiment): one line per stage. */
function showDetails(title: string, progress: LaunchProgress): void {
  const lines = progress.stages.map((s) => `| ${s.name} | ${s.status} | ${s.error ?? ''} |`);
  setCurrentDetails(
    [`**${title}** launch \`${progress.launch_id}\` — ${progress.status}`, '', '| stage | status | error |', '|---|---|---|', ...lines].join('\n'),
  );
}

/** A stage's inputs as upstream references or data URIs, for planning before anything ran. */
function plannedInputs(inputs: Record<string, InputSpec>): Record<string, PlannedInputRef> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, spec]): [string, PlannedInputRef] => {
      const ref = parseInputRef(inputValue(spec));
      if (ref?.kind === 'upstream') return [name, { stage: ref.stage, output: ref.output }];
      return [name, { uri: inputValue(spec), ...(copiesInput(spec) ? { copy: true } : {}) }];
    }),
  );
}

/** Upstream references become the upstream stage's output URI and digest; data URIs are pinned by the stage. */
function resolveInputs(planned: Record<string, PlannedInputRef>, upstream: Record<string, StageResult>): Record<string, StageInputRef> {
  return Object.fromEntries(
    Object.entries(planned).map(([name, ref]): [string, StageInputRef] => {
      if ('uri' in ref) return [name, ref];
      const result = upstream[ref.stage]!;
      const digest = result.output_digests?.[ref.output];
      return [name, { uri: result.outputs[ref.output]!, ...(digest !== undefined ? { digest } : {}) }];
    }),
  );
}

const newRunId = (): string => uuid4().replace(/-/g, '');
