import { z } from 'zod';
import { LaunchTrigger, RunStatus, StageSource, StageStatus, type LaunchProgress, type StageProgress } from '../domain/launch';
import { named, type Queryable } from './pool';
import { type ExperimentViewer, readableBy } from './permissions';
import { isTerminalRunStatus, TERMINAL_RUN_STATUSES } from './run-record';

const TERMINAL_STAGE_STATUSES: readonly StageStatus[] = ['FINISHED', 'FAILED', 'KILLED', 'SKIPPED'];

export const StageAttemptStatus = z.enum(['RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'PREEMPTED']);
export type StageAttemptStatus = z.infer<typeof StageAttemptStatus>;
const TERMINAL_ATTEMPT_STATUSES: readonly StageAttemptStatus[] = ['FINISHED', 'FAILED', 'KILLED', 'PREEMPTED'];

/** The stage run metric whose value, when logged, is a stage's reported duration. */
export const DURATION_METRIC = 'mlfleet.duration_s';

/** What a stage or launch cost in USD (0 for a stage that did not run). */
export const COST_METRIC = 'mlfleet.cost_usd';

export interface Launch {
  launchId: string;
  workflowId: string;
  experimentId: string;
  runId?: string;
  status: RunStatus;
  trigger: LaunchTrigger;
  spec: unknown;
  /** spec.stages' names in the order the spec lists them (jsonb does not keep key order). */
  stageNames: string[];
  params: Record<string, unknown>;
  codeDigest?: string;
  /** A re-execution: the stage it started from and the launch whose upstream results it took. */
  fromStage?: string;
  reusedLaunch?: string;
  createdAt: number;
  endedAt?: number;
  error?: string;
}

export interface StageRun {
  launchId: string;
  stage: string;
  runId: string;
  workflowId?: string;
  status: StageStatus;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
  error?: string;
  /** Output name → URI. */
  outputs: Record<string, string>;
  /** Output name → digest of its files. */
  outputDigests: Record<string, string>;
  /** Whether the stage ran, took a memoized result (of sourceRunId) or reused an earlier launch's (sourceRunId). */
  source: StageSource;
  sourceRunId?: string;
  cacheKey?: string;
  /** Input name → the snapshot or output digest the stage read. */
  inputDigests: Record<string, string>;
  attempts: number;
}

export interface StageAttempt {
  launchId: string;
  stage: string;
  attempt: number;
  provider: string;
  status: StageAttemptStatus;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
  error?: string;
  /** Where a cloud attempt ran, and what it cost (billed seconds × price); absent for local ones. */
  placement?: AttemptPlacement;
  costUsd?: number;
}

export interface AttemptPlacement {
  cloud: string;
  region: string;
  zone: string | null;
  instanceType: string;
  spot: boolean;
  pricePerHour: number;
}

export interface LaunchWithStages extends Launch {
  stages: StageRun[];
}

/** A new launch row: what the launch knows at its start (status RUNNING and spec order by default). */
export type InsertLaunchInput = Omit<Launch, 'status' | 'stageNames' | 'params' | 'endedAt' | 'error'> &
  Partial<Pick<Launch, 'status' | 'stageNames' | 'params'>>;

/** A stage run's new state; fields left out keep their stored values. */
export type UpsertStageRunInput = Omit<StageRun, 'outputs' | 'outputDigests' | 'inputDigests' | 'source' | 'attempts'> &
  Partial<Pick<StageRun, 'outputs' | 'outputDigests' | 'inputDigests' | 'source'>>;

/** An attempt as recorded: the stored row itself, keyed by launch, stage and attempt number. */
export type RecordStageAttemptInput = StageAttempt;

export class LaunchNotFoundError extends Error {
  override readonly name = 'LaunchNotFoundError';
  constructor(readonly launchId: string) {
    super(`Launch with id=${launchId} not found`);
  }
}

const LaunchRow = z.object({
  launch_id: z.string(),
  workflow_id: z.string(),
  experiment_id: z.number().int(),
  run_id: z.string().nullable(),
  status: RunStatus,
  trigger: LaunchTrigger,
  spec: z.unknown(),
  stage_names: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  code_digest: z.string().nullable(),
  from_stage: z.string().nullable(),
  reused_launch: z.string().nullable(),
  created_at: z.number(),
  ended_at: z.number().nullable(),
  error: z.string().nullable(),
});

const StageRunRow = z.object({
  launch_id: z.string(),
  stage: z.string(),
  run_id: z.string(),
  workflow_id: z.string().nullable(),
  status: StageStatus,
  started_at: z.number().nullable(),
  ended_at: z.number().nullable(),
  exit_code: z.number().int().nullable(),
  error: z.string().nullable(),
  outputs: z.record(z.string(), z.string()),
  output_digests: z.record(z.string(), z.string()),
  source: StageSource,
  source_run_id: z.string().nullable(),
  cache_key: z.string().nullable(),
  input_digests: z.record(z.string(), z.string()),
  attempts: z.number().int(),
});

const StageAttemptRow = z.object({
  launch_id: z.string(),
  stage: z.string(),
  attempt: z.number().int(),
  provider: z.string(),
  status: StageAttemptStatus,
  started_at: z.number().nullable(),
  ended_at: z.number().nullable(),
  exit_code: z.number().int().nullable(),
  error: z.string().nullable(),
  cloud: z.string().nullable(),
  region: z.string().nullable(),
  zone: z.string().nullable(),
  instance_type: z.string().nullable(),
  spot: z.boolean().nullable(),
  price_per_hour: z.number().nullable(),
  cost_usd: z.number().nullable(),
});

// z.number() refuses ±Infinity, which a metric may hold; such a duration is ignored below.
const DurationRow = z.object({ stage: z.string(), value: z.custom<number>((v) => typeof v === 'number'), is_nan: z.boolean() });
const StatusRow = z.object({ status: RunStatus });

/** `{ [key]: value }` when value is set, `{}` when it is null: keeps unset fields absent. */
const opt = <K extends string, V>(key: K, value: V | null): { [P in K]?: V } =>
  (value === null ? {} : { [key]: value }) as { [P in K]?: V };

function toLaunch(raw: unknown): Launch {
  const row = LaunchRow.parse(raw);
  return {
    launchId: row.launch_id,
    workflowId: row.workflow_id,
    experimentId: String(row.experiment_id),
    ...opt('runId', row.run_id),
    status: row.status,
    trigger: row.trigger,
    spec: row.spec,
    stageNames: row.stage_names,
    params: row.params,
    ...opt('codeDigest', row.code_digest),
    ...opt('fromStage', row.from_stage),
    ...opt('reusedLaunch', row.reused_launch),
    createdAt: row.created_at,
    ...opt('endedAt', row.ended_at),
    ...opt('error', row.error),
  };
}

function toStageRun(raw: unknown): StageRun {
  const row = StageRunRow.parse(raw);
  return {
    launchId: row.launch_id,
    stage: row.stage,
    runId: row.run_id,
    ...opt('workflowId', row.workflow_id),
    status: row.status,
    ...opt('startedAt', row.started_at),
    ...opt('endedAt', row.ended_at),
    ...opt('exitCode', row.exit_code),
    ...opt('error', row.error),
    outputs: row.outputs,
    outputDigests: row.output_digests,
    source: row.source,
    ...opt('sourceRunId', row.source_run_id),
    ...opt('cacheKey', row.cache_key),
    inputDigests: row.input_digests,
    attempts: row.attempts,
  };
}

function toStageAttempt(raw: unknown): StageAttempt {
  const row = StageAttemptRow.parse(raw);
  return {
    launchId: row.launch_id,
    stage: row.stage,
    attempt: row.attempt,
    provider: row.provider,
    status: row.status,
    ...opt('startedAt', row.started_at),
    ...opt('endedAt', row.ended_at),
    ...opt('exitCode', row.exit_code),
    ...opt('error', row.error),
    ...(row.cloud !== null && row.region !== null && row.instance_type !== null
      ? {
          placement: {
            cloud: row.cloud,
            region: row.region,
            zone: row.zone,
            instanceType: row.instance_type,
            spot: row.spot ?? false,
            pricePerHour: row.price_per_hour ?? 0,
          },
        }
      : {}),
    ...opt('costUsd', row.cost_usd),
  };
}

/** Stage names in spec order, for a spec whose `stages` is a mapping or a list of `{name}`. */
export function stageNamesOf(spec: unknown): string[] {
  const stages = typeof spec === 'object' && spec !== null ? (spec as { stages?: unknown }).stages : undefined;
  if (Array.isArray(stages)) {
    return stages.flatMap((stage: unknown) => {
      const name = typeof stage === 'object' && stage !== null ? (stage as { name?: unknown }).name : undefined;
      return typeof name === 'string' ? [name] : [];
    });
  }
  return typeof stages === 'object' && stages !== null ? Object.keys(stages) : [];
}

/**
 * Records a launch. Idempotent on launch_id: a replay returns the stored row, only filling in the
 * parent run id if the first attempt did not know it yet.
 */
export async function insertLaunch(db: Queryable, input: InsertLaunchInput): Promise<Launch> {
  const { rows } = await db.query(named('mlfleet_insert_launch',
    `INSERT INTO launches AS l (launch_id, workflow_id, experiment_id, run_id, status, trigger, spec, stage_names,
                                params, code_digest, created_at, from_stage, reused_launch)
     VALUES ($1, $2, $3::bigint, $4, $5, $6, $7::jsonb, $8::text[], $9::jsonb, $10, $11, $12, $13)
     ON CONFLICT (launch_id) DO UPDATE SET run_id = COALESCE(l.run_id, EXCLUDED.run_id)
     RETURNING *`,
    [
      input.launchId,
      input.workflowId,
      input.experimentId,
      input.runId ?? null,
      input.status ?? 'RUNNING',
      input.trigger,
      // Stringified by hand: pg would turn a top-level array into a PostgreSQL array literal.
      JSON.stringify(input.spec),
      input.stageNames ?? stageNamesOf(input.spec),
      JSON.stringify(input.params ?? {}),
      input.codeDigest ?? null,
      input.createdAt,
      input.fromStage ?? null,
      input.reusedLaunch ?? null,
    ],
  ));
  return toLaunch(rows[0]);
}

/**
 * Sets the launch's status (and end time / error when given) unless it already ended: a replayed or
 * late update never overwrites the real outcome. Returns the status the launch has afterwards.
 */
export async function setLaunchStatus(
  db: Queryable,
  launchId: string,
  status: RunStatus,
  endedAt?: number,
  error?: string,
): Promise<RunStatus> {
  const { rows } = await db.query(named('mlfleet_set_launch_status',
    `WITH updated AS (
       UPDATE launches SET status = $2, ended_at = COALESCE($3, ended_at), error = COALESCE($4, error)
       WHERE launch_id = $1 AND status <> ALL($5::text[])
       RETURNING status
     )
     SELECT status FROM updated
     UNION ALL
     SELECT status FROM launches WHERE launch_id = $1 AND NOT EXISTS (SELECT 1 FROM updated)`,
    [launchId, status, endedAt ?? null, error ?? null, TERMINAL_RUN_STATUSES],
  ));
  if (rows.length === 0) throw new LaunchNotFoundError(launchId);
  return StatusRow.parse(rows[0]).status;
}

/**
 * Creates or updates a stage's row. Once the stage has ended its status is frozen and its fields
 * are only filled where still empty, so a replayed "started" never moves it back to RUNNING; a
 * RUNNING stage does not go back to PENDING either. Returns the stored row.
 */
export async function upsertStageRun(db: Queryable, input: UpsertStageRunInput): Promise<StageRun> {
  const { rows } = await db.query(
    `INSERT INTO stage_runs AS s (launch_id, stage, run_id, workflow_id, status, started_at, ended_at, exit_code,
                                  error, outputs, output_digests, source, source_run_id, cache_key, input_digests)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10::jsonb, '{}'::jsonb), COALESCE($12::jsonb, '{}'::jsonb),
             COALESCE($13, 'ran'), $14, $15, COALESCE($16::jsonb, '{}'::jsonb))
     ON CONFLICT (launch_id, stage) DO UPDATE SET
       status = CASE
         WHEN s.status = ANY($11::text[]) THEN s.status
         WHEN s.status = 'RUNNING' AND EXCLUDED.status = 'PENDING' THEN s.status
         ELSE EXCLUDED.status
       END,
       workflow_id = COALESCE(s.workflow_id, EXCLUDED.workflow_id),
       started_at = COALESCE(s.started_at, EXCLUDED.started_at),
       ended_at = CASE WHEN s.status = ANY($11::text[]) THEN COALESCE(s.ended_at, EXCLUDED.ended_at)
                       ELSE COALESCE(EXCLUDED.ended_at, s.ended_at) END,
       exit_code = CASE WHEN s.status = ANY($11::text[]) THEN COALESCE(s.exit_code, EXCLUDED.exit_code)
                        ELSE COALESCE(EXCLUDED.exit_code, s.exit_code) END,
       error = CASE WHEN s.status = ANY($11::text[]) THEN COALESCE(s.error, EXCLUDED.error)
                    ELSE COALESCE(EXCLUDED.error, s.error) END,
       -- $10 rather than EXCLUDED: "no outputs given" must not read as "outputs are now empty".
       outputs = CASE WHEN s.status = ANY($11::text[]) AND s.outputs <> '{}'::jsonb THEN s.outputs
                      ELSE COALESCE($10::jsonb, s.outputs) END,
       output_digests = CASE WHEN s.status = ANY($11::text[]) AND s.output_digests <> '{}'::jsonb THEN s.output_digests
                             ELSE COALESCE($12::jsonb, s.output_digests) END,
       source = CASE WHEN s.status = ANY($11::text[]) THEN s.source ELSE COALESCE($13, s.source) END,
       source_run_id = COALESCE(s.source_run_id, $14),
       cache_key = COALESCE(s.cache_key, $15),
       input_digests = CASE WHEN s.input_digests <> '{}'::jsonb THEN s.input_digests ELSE COALESCE($16::jsonb, s.input_digests) END
     RETURNING *`,
    [
      input.launchId,
      input.stage,
      input.runId,
      input.workflowId ?? null,
      input.status,
      input.startedAt ?? null,
      input.endedAt ?? null,
      input.exitCode ?? null,
      input.error ?? null,
      input.outputs === undefined ? null : JSON.stringify(input.outputs),
      TERMINAL_STAGE_STATUSES,
      input.outputDigests === undefined ? null : JSON.stringify(input.outputDigests),
      input.source ?? null,
      input.sourceRunId ?? null,
      input.cacheKey ?? null,
      input.inputDigests === undefined ? null : JSON.stringify(input.inputDigests),
    ],
  );
  return toStageRun(rows[0]);
}

/**
 * Creates or updates one placement attempt (same freeze-once-ended rule as stage runs) and raises
 * the stage's attempt count to it. Returns the stored attempt.
 */
export async function recordStageAttempt(db: Queryable, input: RecordStageAttemptInput): Promise<StageAttempt> {
  const { rows } = await db.query(
    `WITH counted AS (
       UPDATE stage_runs SET attempts = GREATEST(attempts, $3)
       WHERE launch_id = $1 AND stage = $2
     )
     INSERT INTO stage_attempts AS a (launch_id, stage, attempt, provider, status, started_at, ended_at, exit_code, error,
                                      cloud, region, zone, instance_type, spot, price_per_hour, cost_usd)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (launch_id, stage, attempt) DO UPDATE SET
       status = CASE WHEN a.status = ANY($10::text[]) THEN a.status ELSE EXCLUDED.status END,
       started_at = COALESCE(a.started_at, EXCLUDED.started_at),
       ended_at = CASE WHEN a.status = ANY($10::text[]) THEN COALESCE(a.ended_at, EXCLUDED.ended_at)
                       ELSE COALESCE(EXCLUDED.ended_at, a.ended_at) END,
       exit_code = CASE WHEN a.status = ANY($10::text[]) THEN COALESCE(a.exit_code, EXCLUDED.exit_code)
                        ELSE COALESCE(EXCLUDED.exit_code, a.exit_code) END,
       error = CASE WHEN a.status = ANY($10::text[]) THEN COALESCE(a.error, EXCLUDED.error)
                    ELSE COALESCE(EXCLUDED.error, a.error) END,
       cloud = COALESCE(a.cloud, EXCLUDED.cloud),
       region = COALESCE(a.region, EXCLUDED.region),
       zone = COALESCE(EXCLUDED.zone, a.zone),
       instance_type = COALESCE(a.instance_type, EXCLUDED.instance_type),
       spot = COALESCE(a.spot, EXCLUDED.spot),
       price_per_hour = COALESCE(a.price_per_hour, EXCLUDED.price_per_hour),
       cost_usd = COALESCE(a.cost_usd, EXCLUDED.cost_usd)
     RETURNING *`,
    [
      input.launchId,
      input.stage,
      input.attempt,
      input.provider,
      input.status,
      input.startedAt ?? null,
      input.endedAt ?? null,
      input.exitCode ?? null,
      input.error ?? null,
      TERMINAL_ATTEMPT_STATUSES,
      input.placement?.cloud ?? null,
      input.placement?.region ?? null,
      input.placement?.zone ?? null,
      input.placement?.instanceType ?? null,
      input.placement?.spot ?? null,
      input.placement?.pricePerHour ?? null,
      input.costUsd ?? null,
    ],
  );
  return toStageAttempt(rows[0]);
}

/** Ends earlier attempts still marked RUNNING: their worker died without recording how they ended. */
export async function closeAbandonedAttempts(db: Queryable, launchId: string, stage: string, beforeAttempt: number, endedAt: number): Promise<void> {
  await db.query(
    `UPDATE stage_attempts SET status = 'FAILED', ended_at = $4, error = 'abandoned: its worker stopped without recording an outcome'
      WHERE launch_id = $1 AND stage = $2 AND attempt < $3 AND status = 'RUNNING'`,
    [launchId, stage, beforeAttempt, endedAt],
  );
}

export async function listStageAttempts(db: Queryable, launchId: string, stage?: string): Promise<StageAttempt[]> {
  const { rows } = await db.query(
    `SELECT * FROM stage_attempts
     WHERE launch_id = $1 AND ($2::text IS NULL OR stage = $2)
     ORDER BY stage, attempt`,
    [launchId, stage ?? null],
  );
  return rows.map(toStageAttempt);
}

async function getLaunchRow(db: Queryable, launchId: string): Promise<Launch | undefined> {
  const { rows } = await db.query('SELECT * FROM launches WHERE launch_id = $1', [launchId]);
  return rows.length === 0 ? undefined : toLaunch(rows[0]);
}

async function listStageRuns(db: Queryable, launchId: string): Promise<StageRun[]> {
  const { rows } = await db.query('SELECT * FROM stage_runs WHERE launch_id = $1 ORDER BY stage', [launchId]);
  return rows.map(toStageRun);
}

/** The launch and the stages that have a row (stages not yet started have none), or undefined. */
export async function getLaunch(db: Queryable, launchId: string): Promise<LaunchWithStages | undefined> {
  const launch = await getLaunchRow(db, launchId);
  if (!launch) return undefined;
  return { ...launch, stages: await listStageRuns(db, launchId) };
}

/**
 * The launch's progress in the shape `mlfleet status`, the API and the workflow query share: every
 * stage of the spec in spec order, the ones without a row as PENDING (SKIPPED once the launch ended).
 */
export async function getLaunchProgress(db: Queryable, launchId: string): Promise<LaunchProgress | undefined> {
  const launch = await getLaunchRow(db, launchId);
  if (!launch) return undefined;
  const stageRuns = await listStageRuns(db, launchId);
  const durations = await db.query(
    `SELECT s.stage, m.value, m.is_nan
     FROM stage_runs s JOIN latest_metrics m ON m.run_uuid = s.run_id AND m.key = $2
     WHERE s.launch_id = $1`,
    [launchId, DURATION_METRIC],
  );
  const reported = new Map(
    durations.rows
      .map((row) => DurationRow.parse(row))
      .filter((row) => !row.is_nan && Number.isFinite(row.value))
      .map((row) => [row.stage, row.value]),
  );
  const byStage = new Map(stageRuns.map((s) => [s.stage, s]));
  // Spec order first; rows for stages the spec does not list (should not happen) after them.
  const names = [...launch.stageNames, ...stageRuns.map((s) => s.stage).filter((name) => !launch.stageNames.includes(name))];
  const launchEnded = isTerminalRunStatus(launch.status);

  const stages = names.map((name): StageProgress => {
    const run = byStage.get(name);
    if (!run) return { name, run_id: '', status: launchEnded ? 'SKIPPED' : 'PENDING' };
    const measured =
      run.startedAt !== undefined && run.endedAt !== undefined ? (run.endedAt - run.startedAt) / 1000 : undefined;
    const duration = reported.get(name) ?? measured;
    return {
      name,
      run_id: run.runId,
      status: run.status,
      ...(run.startedAt !== undefined && { started_at: run.startedAt }),
      ...(run.endedAt !== undefined && { ended_at: run.endedAt }),
      ...(duration !== undefined && { duration_s: duration }),
      ...(run.exitCode !== undefined && { exit_code: run.exitCode }),
      ...(run.error !== undefined && { error: run.error }),
      // Whether it ran or took a stored result is known once it ended.
      ...(TERMINAL_STAGE_STATUSES.includes(run.status) && run.status !== 'SKIPPED' && { source: run.source }),
      ...(run.sourceRunId !== undefined && (run.source === 'reused' ? { reused_from: run.sourceRunId } : { cached_from: run.sourceRunId })),
      ...(run.cacheKey !== undefined && { cache_key: run.cacheKey }),
      ...(Object.keys(run.inputDigests).length > 0 && { input_digests: run.inputDigests }),
    };
  });

  return {
    launch_id: launch.launchId,
    experiment_id: launch.experimentId,
    run_id: launch.runId ?? '',
    status: launch.status,
    stages,
    ...(launch.error !== undefined && { error: launch.error }),
  };
}

/** A launch as `GET /api/v1/launches` lists it. */
export interface LaunchSummary {
  launchId: string;
  experimentId: string;
  runId?: string;
  status: RunStatus;
  trigger: LaunchTrigger;
  createdAt: number;
  endedAt?: number;
}

/** Where a page of `listLaunches` ends: the next page starts after this launch. */
export interface LaunchCursor {
  createdAt: number;
  launchId: string;
}

export interface ListLaunchesOptions {
  /** An experiment name, or its numeric id when no experiment has that name. */
  experiment?: string;
  status?: RunStatus;
  /** Page size (at least 1). */
  limit: number;
  after?: LaunchCursor;
  /** Only launches of experiments this user may read. */
  viewer?: ExperimentViewer | undefined;
}

const LaunchSummaryRow = LaunchRow.pick({
  launch_id: true,
  experiment_id: true,
  run_id: true,
  status: true,
  trigger: true,
  created_at: true,
  ended_at: true,
});

/**
 * One page of launches, newest first (created_at, then launch_id, both descending), in one query.
 * `next` is set when there are more: pass it back as `after` for the following page.
 */
export async function listLaunches(db: Queryable, opts: ListLaunchesOptions): Promise<{ launches: LaunchSummary[]; next?: LaunchCursor }> {
  const numericId = opts.experiment !== undefined && /^[0-9]{1,18}$/.test(opts.experiment) ? opts.experiment : null;
  const params: unknown[] = [opts.experiment ?? null, numericId, opts.status ?? null, opts.after?.createdAt ?? null, opts.after?.launchId ?? null, opts.limit + 1];
  const param = (value: unknown, cast: string): string => `$${params.push(value)}${cast}`;
  const readable = opts.viewer ? `AND ${readableBy(opts.viewer, 'launches.experiment_id', param)}` : '';
  const { rows } = await db.query(
    `SELECT launch_id, experiment_id, run_id, status, trigger, created_at, ended_at
     FROM launches
     WHERE ($1::text IS NULL
            OR experiment_id = COALESCE((SELECT experiment_id FROM experiments WHERE name = $1), $2::bigint))
       AND ($3::text IS NULL OR status = $3)
       AND ($4::bigint IS NULL OR (created_at, launch_id) < ($4::bigint, $5::text))
       ${readable}
     ORDER BY created_at DESC, launch_id DESC
     LIMIT $6`,
    params,
  );
  const launches = rows.slice(0, opts.limit).map((raw): LaunchSummary => {
    const row = LaunchSummaryRow.parse(raw);
    return {
      launchId: row.launch_id,
      experimentId: String(row.experiment_id),
      ...opt('runId', row.run_id),
      status: row.status,
      trigger: row.trigger,
      createdAt: row.created_at,
      ...opt('endedAt', row.ended_at),
    };
  });
  const last = launches.at(-1);
  return rows.length > opts.limit && last ? { launches, next: { createdAt: last.createdAt, launchId: last.launchId } } : { launches };
}
