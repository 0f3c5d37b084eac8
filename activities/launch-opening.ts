import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { type LaunchInput, type LaunchTrigger, parseLaunchInput, type ResolvedLaunch, resolveLaunch, reuseOf } from '../domain/launch';
import { SpecError } from '../domain/pipeline-spec';
import { launchTriggerOf, readsData, type StagePlan, stagePlans } from '../domain/stage-plan';
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

/** A launch, opened: its plan, which the workflow runs as it is, and the stages that need no run. */
export interface OpenedLaunch {
  /** The experiment the launch writes into (its spec's). */
  experiment: string;
  trigger: LaunchTrigger;
  prepared: PreparedLaunch;
  /** The stages' names as the spec lists them, which is how the launch's progress lists them. */
  listed: string[];
  /** Every stage in DAG order, planned. */
  stages: StagePlan[];
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
     * input, resolve a registered pipeline and a re-execution's earlier results, record the launch,
     * plan its stages and settle every stage that needs no run; a launch left with nothing to run
     * is recorded as ended too. Checking the input here keeps its schemas out of the workflow
     * sandbox, which keeps no module between executions. Nothing is written before the input is checked.
     */
    async openLaunch(opening: OpenLaunchInput): Promise<OpenedLaunch> {
      const { launchId, workflowId, runId } = opening;
      const { input, spec, code } = await checkedLaunch(opening.input, steps.resolvePipeline);
      try {
        const reuse = reuseOf(spec, input);
        const reused = reuse ? await steps.resolveReuse(reuse) : {};
        const trigger = launchTriggerOf(input);
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
          trigger,
        };
        const listed = Object.keys(spec.stages);
        const stageRunIds = Object.fromEntries(listed.map((name) => [name, stageRunIdOf(runId, name)]));
        const opened = { experiment: spec.experiment, trigger, listed };
        if (readsData(spec)) {
          const prepared = await steps.prepareLaunch(record);
          return { ...opened, prepared, stages: stagePlans(spec, input, prepared, stageRunIds), reused, finished: false };
        }
        const plan = await steps.planLaunch(record);
        const { prepared } = plan;
        const stages = stagePlans(spec, input, prepared, stageRunIds);
        const settling = { launchId, workflowId, parentRunId: runId, experimentId: prepared.experimentId, reused, stages };
        // Looking the stages up needs only the plan: it runs while the launch is recorded.
        const [, found] = await Promise.all([steps.recordLaunch(plan), steps.findSettled(settling)]);
        await steps.recordSettled(settling, found);
        const { settled } = found;
        const finished = listed.every((name) => settled[name] !== undefined);
        if (finished) await steps.finishLaunch({ launchId, runId, status: 'FINISHED' });
        return { ...opened, prepared, stages, settled, finished };
      } catch (err) {
        // A launch that cannot go on once its spec is known still lists its stages (as skipped).
        if (!(err instanceof ApplicationFailure) || !err.nonRetryable) throw err;
        const details: OpeningFailureDetails = { stages: Object.keys(spec.stages) };
        throw ApplicationFailure.create({ ...(err.type ? { type: err.type } : {}), message: err.message, nonRetryable: true, details: [details] });
      }
    },
  };
}

/** The input checked, and what it launches: its spec (overrides applied) and code. */
async function checkedLaunch(raw: unknown, resolvePipeline: OpeningSteps['resolvePipeline']): Promise<ResolvedLaunch & { input: LaunchInput }> {
  try {
    const input = parseLaunchInput(raw);
    return { input, ...(await resolveLaunch(input, (ref) => resolvePipeline({ ref }))) };
  } catch (err) {
    // Permanent: the same input cannot pass on a retry, and nothing has been recorded yet.
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(`invalid launch input:\n${err.message}`, 'InvalidLaunchInput');
    throw err;
  }
}

/** A stage's run id, derived from its launch's so that a retried opening writes the same runs. */
const stageRunIdOf = (launchRunId: string, stage: string): string =>
  createHash('sha256').update(`${launchRunId}/${stage}`).digest('hex').slice(0, 32);
