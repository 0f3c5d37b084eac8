import { ApplicationFailure } from '@temporalio/activity';
import { canonicalJson } from '../domain/canonical-json';
import { isDeclaredCodePath } from '../domain/cache-key';
import type { CodeSource, LaunchTrigger, StageSource } from '../domain/launch';
import type { ParamValue } from '../domain/param-value';
import type { PipelineSpec } from '../domain/pipeline-spec';
import { getCodeBundle } from '../store/code-bundles';
import { getOrCreateExperiment } from '../store/experiments';
import { COST_METRIC, DURATION_METRIC, LaunchNotFoundError, insertLaunch, setLaunchStatus, upsertStageRun } from '../store/launches';
import { logMetrics } from '../store/metrics';
import type { TerminalRunStatus } from '../store/run-record';
import { createRun, endRunWithDuration, logParams, setTags } from '../store/run-writes';
import { type CodeFile, CodeBundleError, codeBundleUri, packCodeBundle } from '../storage/code-bundle';
import { leaseTotals } from '../store/vm-leases';
import { joinUri } from '../storage/object-store';
import { digestOf } from '../storage/digest';
import { readStoredText } from '../storage/snapshots';
import type { ActivityDeps } from './deps';

export interface PrepareLaunchInput {
  launchId: string;
  workflowId: string;
  runId: string;
  spec: PipelineSpec;
  params: Record<string, ParamValue>;
  code?: CodeSource;
  trigger: LaunchTrigger;
  /** The registered pipeline version launched, `name@version`. */
  pipeline?: string;
  /** The schedule that started the launch, and the time it was due. */
  schedule?: { id: string; nominalTime: string };
  /** A re-execution from `from`, on the upstream results of launch `reuse`. */
  from?: string;
  reuse?: string;
}

export interface PreparedLaunch {
  experimentId: string;
  codeDigest?: string;
  codeBundleUri?: string;
  /** Stage → the digest of just the files its `code:` paths declare (stages without them use codeDigest). */
  stageCodeDigests: Record<string, string>;
  /** Whether stages are placed (the worker has clouds configured); otherwise all run on the local provider. */
  placement?: boolean;
}

export interface StartStageRunInput {
  launchId: string;
  stage: string;
  runId: string;
  parentRunId: string;
  experimentId: string;
  workflowId: string;
  params: Record<string, ParamValue>;
}

export interface FinishRunInput {
  launchId: string;
  runId: string;
  status: TerminalRunStatus;
  error?: string;
}

export interface FinishStageRunInput extends FinishRunInput {
  stage: string;
  exitCode?: number;
  outputs?: Record<string, string>;
  outputDigests?: Record<string, string>;
  /** ran (the default), cached (sourceRunId's memoized result) or reused (sourceRunId's result, by a re-execution). */
  source?: StageSource;
  sourceRunId?: string;
  cacheKey?: string;
  inputDigests?: Record<string, string>;
  /** A placed stage's `mlfleet.cloud`, `mlfleet.region`, … tags: where it ran and why there. */
  placement?: Record<string, string>;
}

/** A launch's code bundle: digest, where it is stored, its file list when just packed, its git facts. */
interface LaunchBundle {
  digest: string;
  uri: string;
  files?: CodeFile[];
  git?: { commit: string; branch?: string; dirty: boolean };
}

/** `run artifacts` of a run, by MLflow's layout: `<root>/<experiment>/<run>/artifacts`. */
export const runArtifactUri = (artifactRoot: string, experimentId: string, runId: string): string =>
  joinUri(artifactRoot, experimentId, runId, 'artifacts');

/** Whom launch and stage runs are recorded as (mlflow.user): the worker's user. */
export const RUN_USER = process.env.USER ?? 'mlfleet';

/** The tags every stage run starts with: its launch, stage, workflow and where it was placed first. */
export const stageRunTags = (
  input: Pick<StartStageRunInput, 'parentRunId' | 'launchId' | 'stage' | 'workflowId'>,
  providerName: string,
): Record<string, string> => ({
  'mlflow.parentRunId': input.parentRunId,
  'mlfleet.launch_id': input.launchId,
  'mlfleet.stage': input.stage,
  'mlfleet.workflow_id': input.workflowId,
  'mlfleet.cloud': providerName,
});

/** MLflow params are strings. */
export const stringParams = (params: Record<string, ParamValue>): Record<string, string> =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));

/** A stage's run and stage row as it starts and ends (settled stages are written in bulk: store/settled-stages.ts). */
export function createStageRecords(deps: ActivityDeps) {
  const { artifactRoot, pool: db } = deps;

  /**
   * Ends a run and logs its duration. Returns the run's recorded end time (the first one, on a
   * replay), or undefined when the run was never recorded (cancelled first).
   */
  async function finishRun(runId: string, status: TerminalRunStatus): Promise<number | undefined> {
    return (await endRunWithDuration(db, runId, status, Date.now(), DURATION_METRIC))?.endTime;
  }

  return {
    finishRun,

    async startStage(input: StartStageRunInput): Promise<{ artifactUri: string }> {
      const artifactUri = runArtifactUri(artifactRoot, input.experimentId, input.runId);
      // The run and the stage row share their times, so every view of the stage reads the same duration.
      const startTime = Date.now();
      await createRun(db, {
        runId: input.runId,
        experimentId: input.experimentId,
        name: input.stage,
        userId: RUN_USER,
        startTime,
        artifactUri,
        tags: stageRunTags(input, deps.provider.name),
      });
      await logParams(db, input.runId, stringParams(input.params));
      await upsertStageRun(db, { launchId: input.launchId, stage: input.stage, runId: input.runId, workflowId: input.workflowId, status: 'RUNNING', startedAt: startTime });
      return { artifactUri };
    },

    async finishStage(input: FinishStageRunInput): Promise<void> {
      const endTime = await finishRun(input.runId, input.status);
      if (endTime === undefined) return;
      if (input.source === 'cached' || input.source === 'reused') {
        // A stage that did not run cost nothing; its run says whose result it took.
        await setTags(db, input.runId, { [`mlfleet.${input.source}_from`]: input.sourceRunId ?? '' });
        await logMetrics(db, input.runId, [{ key: COST_METRIC, value: 0, timestamp: endTime, step: 0 }]);
      } else if (input.placement) {
        // Every attempt's billed seconds × price, preempted ones included.
        const totals = (await leaseTotals(db, input.launchId)).get(input.stage) ?? { costUsd: 0, preemptions: 0 };
        await setTags(db, input.runId, input.placement);
        await logMetrics(db, input.runId, [
          { key: COST_METRIC, value: totals.costUsd, timestamp: endTime, step: 0 },
          { key: 'mlfleet.preemptions', value: totals.preemptions, timestamp: endTime, step: 0 },
        ]);
      }
      await upsertStageRun(db, {
        launchId: input.launchId,
        stage: input.stage,
        runId: input.runId,
        status: input.status,
        endedAt: endTime,
        ...(input.exitCode !== undefined ? { exitCode: input.exitCode } : {}),
        ...(input.error !== undefined ? { error: input.error } : {}),
        ...(input.outputs ? { outputs: input.outputs } : {}),
        ...(input.outputDigests ? { outputDigests: input.outputDigests } : {}),
        ...(input.source ? { source: input.source } : {}),
        ...(input.sourceRunId ? { sourceRunId: input.sourceRunId } : {}),
        ...(input.cacheKey ? { cacheKey: input.cacheKey } : {}),
        ...(input.inputDigests ? { inputDigests: input.inputDigests } : {}),
      });
    },
  };
}

/** A launch's record, before it is written: what `recordLaunch` writes and the launch's code facts. */
export interface LaunchPlan {
  input: PrepareLaunchInput;
  prepared: PreparedLaunch;
  tags: Record<string, string>;
}

/**
 * A launch's record in two steps: `planLaunch` reads what it needs (the experiment, the code) and
 * writes nothing of the launch; `recordLaunch` writes its run and row. Between them a launch's
 * opening looks up its memoized stages, which need only the plan.
 */
export function createLaunchRecords(deps: ActivityDeps) {
  const { pool, artifactRoot, store } = deps;

  /** The code bundle a launch runs: its folder packed, or an uploaded bundle checked to be stored. */
  async function launchBundle(code: CodeSource | undefined): Promise<LaunchBundle | undefined> {
    if (code && 'dir' in code) {
      try {
        return await packCodeBundle(code.dir, artifactRoot, store);
      } catch (err) {
        if (err instanceof CodeBundleError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw ApplicationFailure.nonRetryable(`cannot pack code from ${code.dir}: ${(err as Error).message}`, 'InvalidCode');
        }
        throw err;
      }
    }
    if (!code) return undefined;
    const uri = codeBundleUri(artifactRoot, code.bundle);
    if (!(await store.exists(uri))) {
      throw ApplicationFailure.nonRetryable(`code bundle ${code.bundle} is not in the artifact store`, 'InvalidCode');
    }
    // An uploaded bundle: its git facts are those its first upload reported.
    const record = await getCodeBundle(pool, code.bundle);
    const git = record?.gitCommit
      ? { commit: record.gitCommit, dirty: record.gitDirty ?? false, ...(record.gitBranch ? { branch: record.gitBranch } : {}) }
      : undefined;
    return { digest: code.bundle, uri, ...(git ? { git } : {}) };
  }

  return {
    async planLaunch(input: PrepareLaunchInput): Promise<LaunchPlan> {
      // Independent reads: the experiment, and the code (packing a folder is the slow one).
      const [experiment, bundle] = await Promise.all([getOrCreateExperiment(pool, input.spec.experiment, artifactRoot), launchBundle(input.code)]);
      const tags: Record<string, string> = {
        'mlfleet.launch_id': input.launchId,
        'mlfleet.trigger': input.trigger,
        'mlfleet.pipeline_digest': digestOf(canonicalJson(input.spec)),
        'mlfleet.workflow_id': input.workflowId,
        'mlflow.source.type': 'PROJECT',
      };
      if (input.pipeline) tags['mlfleet.pipeline'] = input.pipeline;
      if (input.schedule) {
        tags['mlfleet.schedule_id'] = input.schedule.id;
        tags['mlfleet.scheduled_time'] = input.schedule.nominalTime;
      }
      if (input.reuse) tags['mlfleet.reused_launch'] = input.reuse;
      if (input.from) tags['mlfleet.from_stage'] = input.from;
      if (bundle) tags['mlfleet.code_digest'] = bundle.digest;
      if (bundle?.git) {
        tags['mlflow.source.git.commit'] = bundle.git.commit;
        tags['mlfleet.git_dirty'] = String(bundle.git.dirty);
        if (bundle.git.branch) tags['mlflow.source.git.branch'] = bundle.git.branch;
      }
      const stageCodeDigests: Record<string, string> = {};
      const narrowed = Object.entries(input.spec.stages).filter(([, stage]) => stage.code !== undefined);
      if (bundle && narrowed.length > 0) {
        // The bundle's file list is stored beside it (storage/code-bundle.ts).
        const files = bundle.files ?? (JSON.parse(await readStoredText(store, bundle.uri.replace(/\.tar\.gz$/, '.json'))) as CodeFile[]);
        for (const [name, stage] of narrowed) {
          stageCodeDigests[name] = digestOf(canonicalJson(files.filter((file) => isDeclaredCodePath(file.path, stage.code ?? []))));
        }
      }
      const prepared: PreparedLaunch = {
        experimentId: experiment.experiment_id,
        ...(bundle ? { codeDigest: bundle.digest, codeBundleUri: bundle.uri } : {}),
        stageCodeDigests,
        ...(deps.clouds ? { placement: true } : {}),
      };
      return { input, prepared, tags };
    },

    /** Writes the launch's run, then its row (which names the run). */
    async recordLaunch({ input, prepared, tags }: LaunchPlan): Promise<void> {
      await createRun(pool, {
        runId: input.runId,
        experimentId: prepared.experimentId,
        name: `launch-${input.launchId.slice(0, 12)}`,
        userId: RUN_USER,
        startTime: Date.now(),
        artifactUri: runArtifactUri(artifactRoot, prepared.experimentId, input.runId),
        tags,
      });
      await insertLaunch(pool, {
        launchId: input.launchId,
        workflowId: input.workflowId,
        experimentId: prepared.experimentId,
        runId: input.runId,
        status: 'RUNNING',
        trigger: input.trigger,
        spec: input.spec,
        params: input.params,
        codeDigest: prepared.codeDigest,
        ...(input.from ? { fromStage: input.from } : {}),
        ...(input.reuse ? { reusedLaunch: input.reuse } : {}),
        createdAt: Date.now(),
      });
    },
  };
}

/** Tracking activities: every write is keyed by ids the workflow chose, so replays are no-ops. */
export function createTrackingActivities(deps: ActivityDeps) {
  const { pool } = deps;
  const records = createStageRecords(deps);
  const launches = createLaunchRecords(deps);

  return {
    /** Records the launch (its run and row) and answers what its stages need to know of it. */
    async prepareLaunch(input: PrepareLaunchInput): Promise<PreparedLaunch> {
      const plan = await launches.planLaunch(input);
      await launches.recordLaunch(plan);
      return plan.prepared;
    },

    /** Ends what was recorded of the launch: nothing at all when it failed before prepareLaunch did. */
    async finishLaunch(input: FinishRunInput): Promise<void> {
      // The run's end (with its cost) and the launch row's are independent writes.
      const endRun = async (): Promise<void> => {
        const endTime = await records.finishRun(input.runId, input.status);
        // Only a worker with clouds leases VMs: a local launch skips the query.
        const totals = deps.clouds ? [...(await leaseTotals(pool, input.launchId)).values()] : [];
        if (endTime === undefined || totals.length === 0) return;
        await logMetrics(pool, input.runId, [
          { key: COST_METRIC, value: totals.reduce((sum, t) => sum + t.costUsd, 0), timestamp: endTime, step: 0 },
          { key: 'mlfleet.preemptions', value: totals.reduce((sum, t) => sum + t.preemptions, 0), timestamp: endTime, step: 0 },
        ]);
      };
      const endLaunch = async (): Promise<void> => {
        try {
          await setLaunchStatus(pool, input.launchId, input.status, Date.now(), input.error);
        } catch (err) {
          if (!(err instanceof LaunchNotFoundError)) throw err;
        }
      };
      await Promise.all([endRun(), endLaunch()]);
    },
  };
}
