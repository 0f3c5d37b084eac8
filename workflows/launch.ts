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
import type { OpeningFailureDetails } from '../activities/launch-opening';
import type { SettledStage, StageInputRef, StageOutputs } from '../activities/memo';
import type { PreparedLaunch } from '../activities/tracking';
import { stageDependencies, topologicalOrder, upstreamOf } from '../domain/dag';
import type { CodeSource, LaunchInput, LaunchProgress, StageProgress } from '../domain/launch';
import type { PipelineSpec } from '../domain/pipeline-spec';
import { cachePolicies, launchTriggerOf, type PlannedInputRef, plannedInputs, readsData, stageMaterial, stagePlans } from '../domain/stage-plan';
import { launchBegunUpdate, launchProgressQuery } from './definitions';
import { bookkeepingOptions, pinningOptions } from './activity-options';
import { failureMessage } from './failure-message';
import { launchIdFromWorkflowId, stageWorkflowId } from './ids';
import { launchSearchAttributes, MlfleetStage, TemporalScheduledById, TemporalScheduledStartTime } from './search-attributes';
import { type StageResult, stageRun } from './stage';

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

// Launches started before their opening was one local activity (openLaunch) replay it step by
// step, with their input checked in the workflow.
const OPEN_LAUNCH_PATCH = 'open-launch';

/**
 * A launch: one execution of a pipeline, recorded as a parent MLflow run. Stages run as child
 * workflows in DAG order, independent branches in parallel. The first stage failure cancels the
 * stages still running and skips those not started; cancelling the launch does the same.
 */
export async function launchExperiment(rawInput: LaunchInput): Promise<LaunchProgress> {
  const opensInActivity = patched(OPEN_LAUNCH_PATCH);
  const checked = opensInActivity ? undefined : await checkInWorkflow(rawInput);
  const info = workflowInfo();
  const launchId = launchIdFromWorkflowId(info.workflowId);
  const schedule = scheduledBy();
  const local = opensInActivity || patched(LOCAL_BOOKKEEPING_PATCH);
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
  let title = checked ? (checked.input.pipeline ?? checked.spec?.experiment ?? '') : '';
  let endRecorded = false;
  try {
    const opening: Opening = {
      launchId,
      workflowId: info.workflowId,
      progress,
      ...(schedule ? { schedule } : {}),
      announce: (spec, trigger) => {
        title = spec.experiment;
        const attributes = launchSearchAttributes(spec.experiment, launchId, trigger);
        // A launch the API started carries them already: upserting them again would cost an event
        // and a visibility write. (Replay-safe: the attributes at start are in the history.)
        const current = workflowInfo().typedSearchAttributes;
        if (attributes.some(({ key, value }) => current.get(key) !== value)) upsertSearchAttributes(attributes);
        showDetails(title, progress);
      },
      // Pinning can take long: the launch has begun before it, not once it is done.
      beginPinning: () => {
        begun = true;
      },
    };
    const { spec, options, launch, settled, finished } = checked
      ? await openInWorkflow(checked, opening, local, bookkeeping)
      : await openInActivity(rawInput, opening);
    endRecorded = finished;
    const trigger = launchTriggerOf(options);
    const order = topologicalOrder(spec);
    const deps = stageDependencies(spec);
    const cachePolicy = cachePolicies(spec, options);
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
                material: stageMaterial(spec, name, launch),
                cache: cachePolicy(name),
                ...(launch.placement ? { placement: { resources: stage.resources ?? {} } } : {}),
              },
            ],
            // A cancelled launch lets each stage tear down its process (never TERMINATE, which skips that).
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            typedSearchAttributes: [...launchSearchAttributes(spec.experiment, launchId, trigger), { key: MlfleetStage, value: name }],
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

    // A launch whose opening recorded its end has nothing a cancellation could stop: it finished.
    if (!endRecorded && CancellationScope.current().consideredCancelled) throw new CancelledFailure('launch cancelled');
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
    // Safe even if the opening failed half-way: it ends only what was recorded. An opening that
    // settled every stage has recorded the end already.
    if (!endRecorded) {
      await CancellationScope.nonCancellable(() =>
        bookkeeping.finishLaunch({ launchId, runId: progress.run_id, status, ...(error !== undefined ? { error } : {}) }),
      );
    }
    // Only now, so a query that sees the launch ended can rely on the database having its final state.
    progress.status = status;
    if (error !== undefined) progress.error = error;
    showDetails(title, progress);
    ended = true;
    // A launch-begun update still waiting gets the end as its answer before the workflow closes.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}

/** What opening a launch needs from the workflow, and tells it back. */
interface Opening {
  launchId: string;
  workflowId: string;
  /** Its stages are listed (with their run ids) once the spec is known. */
  progress: LaunchProgress;
  schedule?: { id: string; nominalTime: string };
  /** The spec is known: title the launch and set its search attributes. */
  announce(spec: PipelineSpec, trigger: string): void;
  /** Stages are about to be settled in an activity that pins data. */
  beginPinning(): void;
}

/** A launch, opened (by either path): what it launches and which stages need no run. */
interface Opened {
  spec: PipelineSpec;
  options: Omit<LaunchInput, 'spec'>;
  launch: PreparedLaunch;
  settled: Record<string, SettledStage>;
  /** The launch's end (FINISHED) is recorded: it has nothing left to run. */
  finished: boolean;
}

/**
 * The opening as one local activity (openLaunch), which checks the input with the same schema the
 * API does. When stages read data, they are settled after it, in an activity that heartbeats while
 * it pins.
 */
async function openInActivity(rawInput: unknown, opening: Opening): Promise<Opened> {
  const { progress } = opening;
  let opened;
  try {
    opened = await localPreparation.openLaunch({
      input: rawInput,
      launchId: opening.launchId,
      workflowId: opening.workflowId,
      runId: progress.run_id,
      ...(opening.schedule ? { schedule: opening.schedule } : {}),
    });
  } catch (err) {
    // A local activity's failure arrives as the activity's own ApplicationFailure, with no ActivityFailure around it.
    if (!(err instanceof ApplicationFailure)) throw err;
    // Stages it would have run are listed (and then skipped) when the opening knew them.
    const { stages } = (err.details?.[0] ?? {}) as Partial<OpeningFailureDetails>;
    if (Array.isArray(stages)) progress.stages = stages.map((name) => ({ name: String(name), run_id: '', status: 'PENDING' }));
    throw err;
  }
  const { spec, options, prepared, stageRunIds } = opened;
  // Listed as the spec lists them, as the database does once the launch is over.
  progress.stages = Object.keys(spec.stages).map((name) => ({ name, run_id: stageRunIds[name]!, status: 'PENDING' }));
  progress.experiment_id = prepared.experimentId;
  opening.announce(spec, launchTriggerOf(options));
  let { settled } = opened;
  if (!settled) {
    opening.beginPinning();
    settled = await settling.settleStages({
      launchId: opening.launchId,
      workflowId: opening.workflowId,
      parentRunId: progress.run_id,
      experimentId: prepared.experimentId,
      reused: opened.reused ?? {},
      stages: stagePlans(spec, options, prepared, stageRunIds),
    });
  }
  return { spec, options, launch: prepared, settled, finished: opened.finished };
}

/**
 * The input as given by any caller, checked in the workflow: how launches started before openLaunch
 * replay. The schemas are loaded only here, so other launches never evaluate them.
 */
async function checkInWorkflow(rawInput: unknown): Promise<{ spec?: PipelineSpec; input: LaunchInput }> {
  const [{ parseLaunchInput }, { SpecError }] = await Promise.all([
    import(/* webpackMode: "eager" */ '../domain/launch'),
    import(/* webpackMode: "eager" */ '../domain/pipeline-spec'),
  ]);
  try {
    return parseLaunchInput(rawInput);
  } catch (err) {
    // Permanent: retrying the same input cannot succeed, and nothing has been recorded yet.
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(`invalid launch input:\n${err.message}`, 'InvalidLaunchInput');
    throw err;
  }
}

/** The opening step by step, each step its own activity, as launches started before openLaunch replay it. */
async function openInWorkflow(
  checked: { spec?: PipelineSpec; input: LaunchInput },
  opening: Opening,
  local: boolean,
  bookkeeping: typeof tracking,
): Promise<Opened> {
  const { input } = checked;
  const { launchId, progress, schedule } = opening;
  const trigger = launchTriggerOf(input);
  const { spec, code } = checked.spec ? { spec: checked.spec, code: input.code } : await resolvePipeline(input, bookkeeping);
  // A re-execution takes every stage upstream of `from` from the earlier launch, checked before anything starts.
  const reused: Record<string, StageOutputs> =
    input.from && input.reuse ? await bookkeeping.resolveReuse({ launchId: input.reuse, stages: upstreamOf(spec, input.from) }) : {};
  // Listed as the spec lists them, as the database does once the launch is over.
  progress.stages = Object.keys(spec.stages).map((name) => ({ name, run_id: newRunId(), status: 'PENDING' }));
  opening.announce(spec, trigger);

  const launch = await (local ? localPreparation : preparation).prepareLaunch({
    launchId,
    workflowId: opening.workflowId,
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

  // Reused stages and every memo hit reachable from the roots are settled in one activity, without
  // a child workflow each. (Launches started before this existed replay without it.) Pinning data
  // can take long and heartbeats; a launch whose stages read only upstream outputs pins nothing.
  const pins = readsData(spec);
  if (pins) opening.beginPinning();
  const runIds = Object.fromEntries(progress.stages.map((stage) => [stage.name, stage.run_id]));
  const settled: Record<string, SettledStage> = patched(SETTLE_STAGES_PATCH)
    ? await (local && !pins ? localTracking : settling).settleStages({
        launchId,
        workflowId: opening.workflowId,
        parentRunId: progress.run_id,
        experimentId: launch.experimentId,
        reused,
        stages: stagePlans(spec, input, launch, runIds),
      })
    : {};
  const { spec: _inline, ...options } = input;
  return { spec, options, launch, settled, finished: false };
}

/** A registered pipeline version: its spec (checked like any spec) and, unless overridden, its code. */
async function resolvePipeline(input: LaunchInput, bookkeeping: typeof tracking): Promise<{ spec: PipelineSpec; code?: CodeSource }> {
  const resolved = await bookkeeping.resolvePipeline({ ref: input.pipeline! });
  const [{ registeredPipelineSpec }, { SpecError }] = await Promise.all([
    import(/* webpackMode: "eager" */ '../domain/launch'),
    import(/* webpackMode: "eager" */ '../domain/pipeline-spec'),
  ]);
  let spec: PipelineSpec;
  try {
    spec = registeredPipelineSpec(resolved.spec, input);
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
