import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { upstreamOf } from '../domain/dag';
import { type CodeSource, type LaunchInput, parseLaunchInput, registeredPipelineSpec } from '../domain/launch';
import { type PipelineSpec, SpecError } from '../domain/pipeline-spec';
import { launchTriggerOf, readsData, stagePlans } from '../domain/stage-plan';
import type { createMemoActivities, createStageSettling, SettledStage, StageOutputs } from './memo';
import type { createPipelineActivities } from './pipelines';
import type { createLaunchRecords, createTrackingActivities, PreparedLaunch, PrepareLaunchInput } from './tracking';

export interface OpenLaunchInput {
  /** The workflow's input as its caller gave it (REST, CLI, Temporal CLI/UI, schedules): checked here. */
  input: unknown;
  launchId: string;
  workflowId: string;
  /** The launch run's id, chosen by the workflow; its stages' run ids are derived from it. */
  runId: string;
  /** The schedule that started the launch, and the time it was due. */
  schedule?: { id: string; nominalTime: string };
}

export interface OpenedLaunch {
  /** The checked input, less its spec: the launch's options. */
  options: Omit<LaunchInput, 'spec'>;
  /** The spec launched (registered or inline), param overrides applied. */
  spec: PipelineSpec;
  prepared: PreparedLaunch;
  /** Stage → its run id. */
  stageRunIds: Record<string, string>;
  /** The stages that need no run. Absent when stages read data: the workflow settles them in an activity that heartbeats. */
  settled?: Record<string, SettledStage>;
  /** What a re-execution takes from the earlier launch, for that later settling (set when `settled` is not). */
  reused?: Record<string, StageOutputs>;
  /** Every stage was settled, and the launch's end is recorded as FINISHED. */
  finished: boolean;
}

/** What a permanent failure of an opening that knew its spec carries: the stages it would have run. */
export interface OpeningFailureDetails {
  stages: string[];
}

/** The activities, and the steps of activities, an opening is made of. */
type OpeningSteps = Pick<ReturnType<typeof createTrackingActivities>, 'prepareLaunch' | 'finishLaunch'> &
  ReturnType<typeof createLaunchRecords> &
  Pick<ReturnType<typeof createPipelineActivities>, 'resolvePipeline'> &
  Pick<ReturnType<typeof createMemoActivities>, 'resolveReuse'> &
  Pick<ReturnType<typeof createStageSettling>, 'findSettled' | 'recordSettled'>;

/** The launch's opening as one activity, over the activities it is made of. */
export function createLaunchOpeningActivities(steps: OpeningSteps) {
  return {
    /**
     * Everything a launch does before its first stage can start, in one local activity: check the
     * input, resolve a registered pipeline and a re-execution's earlier results, record the launch
     * and settle every stage that needs no run; a launch left with nothing to run is recorded as
     * ended too. Each step was a workflow turn of its own, and checking the input in the workflow
     * meant evaluating its schemas there, for every launch (the workflow sandbox keeps no module
     * between executions). Nothing is written before the input is checked.
     */
    async openLaunch(opening: OpenLaunchInput): Promise<OpenedLaunch> {
      const { launchId, workflowId, runId } = opening;
      const { input, spec, code } = await checkedLaunch(opening.input, steps.resolvePipeline);
      try {
        const { spec: _inline, ...options } = input;
        const reused = input.from && input.reuse ? await steps.resolveReuse({ launchId: input.reuse, stages: upstreamOf(spec, input.from) }) : {};
        const record: PrepareLaunchInput = {
          launchId,
          workflowId,
          runId,
          spec,
          params: input.params ?? {},
          ...(code ? { code } : {}),
          ...(input.pipeline ? { pipeline: input.pipeline } : {}),
          ...(opening.schedule ? { schedule: opening.schedule } : {}),
          ...(input.from && input.reuse ? { from: input.from, reuse: input.reuse } : {}),
          trigger: launchTriggerOf(input),
        };
        const stageRunIds = Object.fromEntries(Object.keys(spec.stages).map((name) => [name, stageRunIdOf(runId, name)]));
        if (readsData(spec)) {
          const prepared = await steps.prepareLaunch(record);
          return { options, spec, prepared, stageRunIds, reused, finished: false };
        }
        const plan = await steps.planLaunch(record);
        const { prepared } = plan;
        const settling = {
          launchId,
          workflowId,
          parentRunId: runId,
          experimentId: prepared.experimentId,
          reused,
          stages: stagePlans(spec, options, prepared, stageRunIds),
        };
        // Looking the stages up needs only the plan: it runs while the launch is recorded.
        const [, found] = await Promise.all([steps.recordLaunch(plan), steps.findSettled(settling)]);
        await steps.recordSettled(settling, found);
        const { settled } = found;
        const finished = Object.keys(spec.stages).every((name) => settled[name] !== undefined);
        if (finished) await steps.finishLaunch({ launchId, runId, status: 'FINISHED' });
        return { options, spec, prepared, stageRunIds, settled, finished };
      } catch (err) {
        // A launch that cannot go on once its spec is known still lists its stages (as skipped).
        if (!(err instanceof ApplicationFailure) || !err.nonRetryable) throw err;
        const details: OpeningFailureDetails = { stages: Object.keys(spec.stages) };
        throw ApplicationFailure.create({ ...(err.type ? { type: err.type } : {}), message: err.message, nonRetryable: true, details: [details] });
      }
    },
  };
}

/** The input checked, and the spec it launches: inline, or the registered version it names. */
async function checkedLaunch(
  raw: unknown,
  resolvePipeline: OpeningSteps['resolvePipeline'],
): Promise<{ input: LaunchInput; spec: PipelineSpec; code?: CodeSource }> {
  try {
    const { input, spec } = parseLaunchInput(raw);
    if (spec) return { input, spec, ...(input.code ? { code: input.code } : {}) };
    const resolved = await resolvePipeline({ ref: input.pipeline! });
    // A registered version brings its code unless the launch names other code.
    const code = input.code ?? (resolved.codeBundle ? { bundle: resolved.codeBundle } : undefined);
    return { input, spec: registeredPipelineSpec(resolved.spec, input), ...(code ? { code } : {}) };
  } catch (err) {
    // Permanent: the same input cannot pass on a retry, and nothing has been recorded yet.
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(`invalid launch input:\n${err.message}`, 'InvalidLaunchInput');
    throw err;
  }
}

/** A stage's run id, derived from its launch's so that a retried opening writes the same runs. */
const stageRunIdOf = (launchRunId: string, stage: string): string =>
  createHash('sha256').update(`${launchRunId}/${stage}`).digest('hex').slice(0, 32);
