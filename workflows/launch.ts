// mlfleet is unreleased (no launch runs older workflow code); from the first release on, workflow
// changes are versioned as Temporal prescribes (patched()), so launches still running replay.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowCancellationType,
  condition,
  ParentClosePolicy,
  isCancellation,
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
import type { OpenedLaunch, OpeningFailureDetails } from '../activities/launch-opening';
import type { StageInputRef } from '../activities/memo';
import type { LaunchInput, LaunchProgress, StageProgress } from '../domain/launch';
import type { PlannedInputRef } from '../domain/stage-plan';
import { launchBegunUpdate, launchProgressQuery } from './definitions';
import { bookkeepingOptions, pinningOptions } from './activity-options';
import { failureMessage } from './failure-message';
import { launchIdFromWorkflowId, stageWorkflowId } from './ids';
import { launchSearchAttributes, MlfleetStage, TemporalScheduledById, TemporalScheduledStartTime } from './search-attributes';
import { type StageResult, stageRun, type StageRunInput } from './stage';

const settling = proxyActivities<Activities>(pinningOptions);

// The launch's own bookkeeping as local activities: run inside the workflow task that schedules
// them, so a fully cached launch completes in one workflow task, not a round trip through the
// server per step.
const bookkeeping = proxyLocalActivities<Activities>(bookkeepingOptions);

// Packing a large code folder can take a while; it is still bounded.
const preparation = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/**
 * A launch: one execution of a pipeline, recorded as a parent MLflow run. Stages run as child
 * workflows in DAG order, independent branches in parallel. The first stage failure cancels the
 * stages still running and skips those not started; cancelling the launch does the same.
 */
export async function launchExperiment(rawInput: LaunchInput): Promise<LaunchProgress> {
  const info = workflowInfo();
  const launchId = launchIdFromWorkflowId(info.workflowId);

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
  let title = '';
  let endRecorded = false;
  try {
    const opened = await openLaunch(rawInput, info.workflowId, progress);
    const { prepared } = opened;
    title = opened.experiment;
    const attributes = launchSearchAttributes(opened.experiment, launchId, opened.trigger);
    // A launch the API started carries them already: upserting them again would cost an event and
    // a visibility write. (Replay-safe: the attributes at start are in the history.)
    const current = workflowInfo().typedSearchAttributes;
    if (attributes.some(({ key, value }) => current.get(key) !== value)) upsertSearchAttributes(attributes);
    showDetails(title, progress);

    // Stages that read data are settled here, in an activity that heartbeats while it pins.
    let { settled } = opened;
    if (!settled) {
      // Pinning can take long: the launch has begun before it, not once it is done.
      begun = true;
      settled = await settling.settleStages({
        launchId,
        workflowId: info.workflowId,
        parentRunId: progress.run_id,
        experimentId: prepared.experimentId,
        reused: opened.reused ?? {},
        stages: opened.stages,
      });
    }
    endRecorded = opened.finished;
    const settledAt = Date.now();

    // Settled stages' results are plain values: every promise a workflow makes costs a stack trace
    // (the SDK's promise hook), which a fully cached launch of many stages felt.
    const settledResults: Record<string, StageResult> = {};
    const results: Record<string, Promise<StageResult>> = {};
    let firstFailure: unknown;
    const dagScope = new CancellationScope();
    await dagScope.run(async () => {
      for (const stage of opened.stages) {
        const current = stageProgress(stage.name);
        let started = false;
        const done = settled[stage.name];
        if (done) {
          const result: StageResult = { ...done, startedAt: settledAt, endedAt: settledAt };
          settledResults[stage.name] = result;
          Object.assign(current, finishedProgress(result), { started_at: settledAt, ended_at: settledAt });
          continue;
        }
        const running = (results[stage.name] = (async () => {
          const upstream = await Promise.all(stage.upstream.map((name) => results[name] ?? Promise.resolve(settledResults[name]!)));
          const upstreamResults = Object.fromEntries(stage.upstream.map((name, i) => [name, upstream[i]!]));
          const run: StageRunInput = {
            launchId,
            stage: stage.name,
            runId: stage.runId,
            parentRunId: progress.run_id,
            experimentId: prepared.experimentId,
            ...(prepared.codeBundleUri ? { codeBundleUri: prepared.codeBundleUri } : {}),
            inputs: resolveInputs(stage.inputs, upstreamResults),
            outputs: stage.outputs,
            material: stage.material,
            cache: { lookup: stage.lookup, register: stage.register },
            ...(prepared.placement ? { placement: { resources: stage.resources } } : {}),
          };
          const child = await startChild(stageRun, {
            workflowId: stageWorkflowId(launchId, stage.name),
            args: [run],
            // A cancelled launch lets each stage tear down its process (never TERMINATE, which skips that).
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            typedSearchAttributes: [...attributes, { key: MlfleetStage, value: stage.name }],
            staticSummary: `stage ${stage.name} of ${opened.experiment} launch ${launchId}`,
          });
          started = true;
          current.status = 'RUNNING';
          current.started_at = Date.now();
          showDetails(title, progress);
          return child.result();
        })());
        void running.then(
          (result) => {
            Object.assign(current, finishedProgress(result), { ended_at: Date.now() });
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
      begun = opened.stages.some((stage) => !settled[stage.name]);
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

/**
 * Opens the launch in one local activity (openLaunch), which checks the input with the schema the
 * API uses, keeping schemas out of the workflow sandbox, and plans every stage; its stages are
 * listed in the progress, with their run ids, as soon as they are known.
 */
async function openLaunch(rawInput: unknown, workflowId: string, progress: LaunchProgress): Promise<OpenedLaunch> {
  const schedule = scheduledBy();
  let opened: OpenedLaunch;
  try {
    opened = await preparation.openLaunch({
      input: rawInput,
      launchId: progress.launch_id,
      workflowId,
      runId: progress.run_id,
      ...(schedule ? { schedule } : {}),
    });
  } catch (err) {
    // A local activity's failure arrives as the activity's own ApplicationFailure, with no ActivityFailure around it.
    if (!(err instanceof ApplicationFailure)) throw err;
    // Stages it would have run are listed (and then skipped) when the opening knew them.
    const { stages } = (err.details?.[0] ?? {}) as Partial<OpeningFailureDetails>;
    if (Array.isArray(stages)) progress.stages = stages.map((name) => ({ name: String(name), run_id: '', status: 'PENDING' }));
    throw err;
  }
  const runIds = new Map(opened.stages.map((stage) => [stage.name, stage.runId]));
  // Listed as the spec lists them, as the database does once the launch is over.
  progress.stages = opened.listed.map((name) => ({ name, run_id: runIds.get(name)!, status: 'PENDING' }));
  progress.experiment_id = opened.prepared.experimentId;
  return opened;
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

/**
 * A finished stage's progress, in the wire names the query (and so the API) answers with: the one
 * place a stage's result is converted to them.
 */
function finishedProgress(result: StageResult): Partial<StageProgress> {
  return {
    status: 'FINISHED',
    ...(result.exitCode !== undefined ? { exit_code: result.exitCode } : {}),
    source: result.source,
    ...(result.sourceRunId === undefined ? {} : result.source === 'reused' ? { reused_from: result.sourceRunId } : { cached_from: result.sourceRunId }),
    ...(result.cacheKey !== undefined ? { cache_key: result.cacheKey } : {}),
    input_digests: result.inputDigests,
    duration_s: (result.endedAt - result.startedAt) / 1000,
  };
}

/** Upstream references become the upstream stage's output URI and digest; data URIs are pinned by the stage. */
function resolveInputs(planned: Record<string, PlannedInputRef>, upstream: Record<string, StageResult>): Record<string, StageInputRef> {
  return Object.fromEntries(
    Object.entries(planned).map(([name, ref]): [string, StageInputRef] => {
      if ('uri' in ref) return [name, ref];
      const result = upstream[ref.stage]!;
      const digest = result.outputDigests[ref.output];
      return [name, { uri: result.outputs[ref.output]!, ...(digest !== undefined ? { digest } : {}) }];
    }),
  );
}

const newRunId = (): string => uuid4().replace(/-/g, '');
