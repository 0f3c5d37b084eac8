import { z } from 'zod';
import { upstreamOf } from './dag';
import { ParamValue } from './param-value';
import { applyParamOverrides } from './params';
import { formatSpecIssues, parsePipelineSpec, PipelineSpec, SpecError, specErrorMap } from './pipeline-spec';

/** Where a launch's code comes from: an uploaded bundle by digest, or a folder the worker can read. */
export const CodeSource = z.union([
  z.object({ bundle: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits>') }).strict(),
  z.object({ dir: z.string().min(1) }).strict(),
]);
export type CodeSource = z.infer<typeof CodeSource>;

/** A registered pipeline version, `name@version` (see `POST /api/v1/pipelines`). */
export const PipelineRef = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}@[1-9][0-9]{0,8}$/, 'expected <pipeline name>@<version number>, e.g. churn@3');
export type PipelineRef = z.infer<typeof PipelineRef>;

/** Launch ids: hex from the CLI and API, `sched-<name>-<time>` for scheduled launches. */
export const LaunchId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'invalid launch id');

export const LaunchTrigger = z.enum(['cli', 'api', 'schedule', 'temporal']);
export type LaunchTrigger = z.infer<typeof LaunchTrigger>;

/**
 * The one input of the `launchExperiment` workflow, and the body of `POST /api/v1/launches`:
 * plain JSON, so the REST API, the CLI, the Temporal CLI/UI and schedules all start launches alike.
 */
export const LaunchInput = z
  .object({
    /** The pipeline itself, or … */
    spec: PipelineSpec.optional(),
    /** … a registered version of it (which also brings its code unless `code` is given). */
    pipeline: PipelineRef.optional(),
    /** Overrides as `stage.param` → value; each must name a param the stage declares. */
    params: z.record(z.string(), ParamValue).optional(),
    code: CodeSource.optional(),
    trigger: LaunchTrigger.optional(),
    /** Run every stage, reading no memoized result (results are still recorded for later launches). */
    no_cache: z.boolean().optional(),
    /** Stages to run again even when a memoized result exists; their new results replace the old. */
    refresh: z.array(z.string().min(1)).optional(),
    /** Re-execute from this stage: it and its descendants run, on `reuse`'s outputs of every stage upstream of it. */
    from: z.string().min(1).optional(),
    /** The earlier launch whose upstream outputs a `from` launch takes. */
    reuse: LaunchId.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if ((input.spec === undefined) === (input.pipeline === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of spec or pipeline' });
    }
    if ((input.from === undefined) !== (input.reuse === undefined)) {
      ctx.addIssue({ code: 'custom', path: [input.from === undefined ? 'from' : 'reuse'], message: 'from and reuse go together' });
    }
  });
export type LaunchInput = z.infer<typeof LaunchInput>;

/**
 * Validates a launch input from any caller (the API checks its body with the same schema): throws
 * SpecError with every problem, in document order. Its spec is checked; overrides are applied by
 * launchSpec.
 */
export function parseLaunchInput(raw: unknown): LaunchInput {
  const parsed = LaunchInput.safeParse(raw, { error: specErrorMap });
  // Problems with the input itself (not its spec) are named `input: …`.
  if (!parsed.success) throw new SpecError(formatSpecIssues(parsed.error, [], raw, 'input'));
  return parsed.data;
}

/**
 * The spec a launch runs: `spec` with the launch's param overrides applied, once its stage options
 * are checked against it. The one place a launch's params are applied, whoever checks them (the
 * CLI, the API, the launch's opening). Throws SpecError.
 */
export function launchSpec(spec: PipelineSpec, input: Pick<LaunchInput, 'params' | 'refresh' | 'from'>): PipelineSpec {
  checkStageOptions(spec, input);
  return applyParamOverrides(spec, input.params ?? {});
}

/** A registered pipeline version as stored: its spec (checked again when launched) and the code bundle it brings. */
export interface RegisteredVersion {
  spec: unknown;
  codeBundle?: string;
}

/** What a launch input launches: the spec (overrides applied) and its code. */
export interface ResolvedLaunch {
  spec: PipelineSpec;
  code?: CodeSource;
}

/**
 * What a checked launch input launches: its inline spec, or the registered version it names, which
 * `registered` looks up (and reports absent in its caller's terms); a registered version brings its
 * code unless the input names other code. The launch's opening resolves with it, and the API with
 * it checks an input before anything starts. Throws SpecError.
 */
export async function resolveLaunch(input: LaunchInput, registered: (ref: string) => Promise<RegisteredVersion>): Promise<ResolvedLaunch> {
  if (input.spec) return { spec: launchSpec(input.spec, input), ...(input.code ? { code: input.code } : {}) };
  const version = await registered(input.pipeline!);
  const code = input.code ?? (version.codeBundle ? { bundle: version.codeBundle } : undefined);
  return { spec: launchSpec(parsePipelineSpec(version.spec), input), ...(code ? { code } : {}) };
}

/** What a re-execution takes from its earlier launch: the results of every stage upstream of `from`. */
export function reuseOf(spec: PipelineSpec, input: Pick<LaunchInput, 'from' | 'reuse'>): { launchId: string; stages: string[] } | undefined {
  if (input.from === undefined || input.reuse === undefined) return undefined;
  return { launchId: input.reuse, stages: upstreamOf(spec, input.from) };
}

/** `refresh` and `from` must name stages of the spec. Throws SpecError. */
export function checkStageOptions(spec: PipelineSpec, input: Pick<LaunchInput, 'refresh' | 'from'>): void {
  const known = (name: string): boolean => Object.prototype.hasOwnProperty.call(spec.stages, name);
  const problems: string[] = [];
  (input.refresh ?? []).forEach((name, i) => {
    if (!known(name)) problems.push(`refresh[${i}]: unknown stage '${name}'`);
  });
  if (input.from !== undefined && !known(input.from)) problems.push(`from: unknown stage '${input.from}'`);
  if (problems.length > 0) throw new SpecError(problems);
}

/** MLflow run statuses, which launches and stages share. */
export const RunStatus = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
export type RunStatus = z.infer<typeof RunStatus>;

/** A stage that never started (its launch failed or was cancelled first) is SKIPPED and has no run. */
export const StageStatus = z.enum(['PENDING', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SKIPPED']);
export type StageStatus = z.infer<typeof StageStatus>;

/** Where a stage's result came from in a launch. */
export const StageSource = z.enum(['ran', 'cached', 'reused']);
export type StageSource = z.infer<typeof StageSource>;

export const StageProgress = z.object({
  name: z.string(),
  run_id: z.string(),
  status: StageStatus,
  started_at: z.number().optional(),
  ended_at: z.number().optional(),
  duration_s: z.number().optional(),
  exit_code: z.number().optional(),
  error: z.string().optional(),
  /** ran, cached (a memoized result of `cached_from`) or reused (a `from` launch took `reused_from`'s result). */
  source: StageSource.optional(),
  cached_from: z.string().optional(),
  reused_from: z.string().optional(),
  cache_key: z.string().optional(),
  /** Input name → the snapshot or output digest the stage read. */
  input_digests: z.record(z.string(), z.string()).optional(),
});
export type StageProgress = z.infer<typeof StageProgress>;

/** One placement attempt of a stage: where it ran (a cloud VM, or this machine), how it ended, what it cost. */
export const StageAttemptView = z.object({
  stage: z.string(),
  attempt: z.number().int(),
  provider: z.string(),
  status: z.enum(['RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'PREEMPTED']),
  started_at: z.number().optional(),
  ended_at: z.number().optional(),
  error: z.string().optional(),
  cloud: z.string().optional(),
  region: z.string().optional(),
  zone: z.string().nullable().optional(),
  instance_type: z.string().optional(),
  spot: z.boolean().optional(),
  price_per_hour: z.number().optional(),
  cost_usd: z.number().optional(),
});
export type StageAttemptView = z.infer<typeof StageAttemptView>;

export const StageAttemptList = z.object({ launch_id: z.string(), attempts: z.array(StageAttemptView) });
export type StageAttemptList = z.infer<typeof StageAttemptList>;

/** What `mlfleet status`, `GET /api/v1/launches/:id` and the launch workflow's query all answer. */
export const LaunchProgress = z.object({
  launch_id: z.string(),
  experiment_id: z.string().optional(),
  run_id: z.string(),
  status: RunStatus,
  stages: z.array(StageProgress),
  error: z.string().optional(),
});
export type LaunchProgress = z.infer<typeof LaunchProgress>;

export const isTerminalStatus = (status: RunStatus | StageStatus): boolean =>
  status === 'FINISHED' || status === 'FAILED' || status === 'KILLED' || status === 'SKIPPED';
