import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  type ScheduleHandle,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { LaunchInput } from '../domain/launch';
import {
  type BackfillInput,
  cronFirings,
  DEFAULT_CATCHUP_WINDOW,
  durationMs,
  formatDuration,
  MAX_BACKFILL_LAUNCHES,
  type OverlapPolicy,
  parseCron,
  type ScheduleInput,
  scheduledLaunchInput,
  type ScheduleUpdate,
  type ScheduleView,
} from '../domain/schedule';
import { launchIdFromWorkflowId, launchWorkflowId } from '../workflows/ids';
import { MlfleetExperiment, MlfleetTrigger } from '../workflows/search-attributes';

/** Schedule ids are `schedule/<name>`; only those (starting launchExperiment) are mlfleet's. */
const SCHEDULE_PREFIX = 'schedule/';
export const scheduleId = (name: string): string => `${SCHEDULE_PREFIX}${name}`;
/** Temporal appends `-<nominal time>` to this for each launch, e.g. `launch/sched-nightly-2026-01-31T00:00:00Z`. */
export const scheduledWorkflowIdPrefix = (name: string): string => launchWorkflowId(`sched-${name}`);

const WORKFLOW_TYPE = 'launchExperiment';
/** The action memo key holding how the schedule was written (Temporal keeps cron only compiled). */
const TIMING_MEMO = 'mlfleetSchedule';

interface TimingMemo {
  name: string;
  cron?: string;
  every?: string;
}

const TO_TEMPORAL: Record<OverlapPolicy, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  // CANCEL_OTHER requests cancellation (never terminates), so the previous launch's stages clean up.
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};
const FROM_TEMPORAL = new Map<ScheduleOverlapPolicy, OverlapPolicy>(Object.entries(TO_TEMPORAL).map(([k, v]) => [v, k as OverlapPolicy]));

export class ScheduleNotFound extends Error {
  override readonly name = 'ScheduleNotFound';
  constructor(readonly scheduleName: string) {
    super(`Schedule '${scheduleName}' not found`);
  }
}

export class ScheduleAlreadyExists extends Error {
  override readonly name = 'ScheduleAlreadyExists';
  constructor(readonly scheduleName: string) {
    super(`Schedule '${scheduleName}' already exists`);
  }
}

/** A request that is well-formed but cannot be done (e.g. a backfill that would start too many launches). */
export class ScheduleRequestInvalid extends Error {
  override readonly name = 'ScheduleRequestInvalid';
}

/** Runs `fn`, turning Temporal's schedule errors into ours. */
async function mapErrors<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new ScheduleNotFound(name);
    if (err instanceof ScheduleAlreadyRunning) throw new ScheduleAlreadyExists(name);
    throw err;
  }
}

function scheduleSpecOf(timing: { cron?: string; every?: string }): ScheduleSpec {
  // Validated input: exactly one of them is set.
  if (timing.cron !== undefined) return { cronExpressions: [timing.cron] };
  return { intervals: [{ every: durationMs(timing.every ?? '') ?? 60_000 }] };
}

function searchAttributesOf(launch: LaunchInput): SearchAttributePair[] {
  return [
    { key: MlfleetTrigger, value: 'schedule' },
    ...(launch.spec ? [{ key: MlfleetExperiment, value: launch.spec.experiment }] : []),
  ] as SearchAttributePair[];
}

/** Client-side service over `client.schedule`: what the API's /api/v1/schedules routes do. */
export class ScheduleService {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  private handle(name: string): ScheduleHandle {
    return this.temporal.schedule.getHandle(scheduleId(name));
  }

  async create(input: ScheduleInput): Promise<ScheduleView> {
    const launch = scheduledLaunchInput(input);
    const timing: TimingMemo = { name: input.name, ...(input.cron !== undefined ? { cron: input.cron } : { every: input.every }) };
    await mapErrors(input.name, () =>
      this.temporal.schedule.create({
        scheduleId: scheduleId(input.name),
        spec: scheduleSpecOf(timing),
        action: {
          type: 'startWorkflow',
          workflowType: WORKFLOW_TYPE,
          workflowId: scheduledWorkflowIdPrefix(input.name),
          args: [launch],
          taskQueue: this.taskQueue,
          typedSearchAttributes: searchAttributesOf(launch),
          memo: { [TIMING_MEMO]: timing },
          staticSummary: `${launch.spec?.experiment ?? launch.pipeline ?? 'pipeline'} launch (schedule ${input.name})`,
        },
        policies: {
          overlap: TO_TEMPORAL[input.overlap ?? 'skip'],
          catchupWindow: durationMs(input.catchup_window ?? DEFAULT_CATCHUP_WINDOW),
          pauseOnFailure: input.pause_on_failure ?? false,
        },
        memo: { mlfleet: true },
      }),
    );
    return this.describe(input.name);
  }

  /** Replaces the stored launch input; timing and policies change only where `update` gives them. */
  async update(name: string, update: ScheduleUpdate): Promise<ScheduleView> {
    const launch = scheduledLaunchInput(update);
    await mapErrors(name, async () => {
      // Only mlfleet's schedules, and a clear 404 rather than a failed update.
      this.viewOf(name, await this.handle(name).describe());
      await this.handle(name).update((previous) => {
        const before = timingOf(previous);
        const timing: TimingMemo =
          update.cron !== undefined ? { name, cron: update.cron } : update.every !== undefined ? { name, every: update.every } : before;
        return {
          spec: timing.cron === before.cron && timing.every === before.every ? previous.spec : scheduleSpecOf(timing),
          action: {
            type: 'startWorkflow',
            workflowType: WORKFLOW_TYPE,
            workflowId: scheduledWorkflowIdPrefix(name),
            args: [launch],
            taskQueue: previous.action.taskQueue,
            typedSearchAttributes: searchAttributesOf(launch),
            memo: { [TIMING_MEMO]: timing },
            staticSummary: `${launch.spec?.experiment ?? launch.pipeline ?? 'pipeline'} launch (schedule ${name})`,
          },
          policies: {
            overlap: update.overlap !== undefined ? TO_TEMPORAL[update.overlap] : previous.policies.overlap,
            catchupWindow: update.catchup_window !== undefined ? durationMs(update.catchup_window) : previous.policies.catchupWindow,
            pauseOnFailure: update.pause_on_failure ?? previous.policies.pauseOnFailure,
          },
          state: { paused: previous.state.paused, ...(previous.state.note !== undefined ? { note: previous.state.note } : {}) },
        };
      });
    });
    return this.describe(name);
  }

  async describe(name: string): Promise<ScheduleView> {
    return this.viewOf(name, await mapErrors(name, () => this.handle(name).describe()));
  }

  /** mlfleet's schedules, by name. Listing is eventually consistent: a new schedule may take a moment to appear. */
  async list(): Promise<ScheduleView[]> {
    const names: string[] = [];
    for await (const summary of this.temporal.schedule.list()) {
      if (summary.scheduleId.startsWith(SCHEDULE_PREFIX) && (summary.action === undefined || summary.action.workflowType === WORKFLOW_TYPE)) {
        names.push(summary.scheduleId.slice(SCHEDULE_PREFIX.length));
      }
    }
    const views = await Promise.all(
      names.map((name) =>
        this.describe(name).catch((err: unknown) => {
          // Deleted since the listing, or not one of ours after all.
          if (err instanceof ScheduleNotFound) return undefined;
          throw err;
        }),
      ),
    );
    return views.filter((v): v is ScheduleView => v !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  }

  async pause(name: string, note?: string): Promise<ScheduleView> {
    await this.describe(name);
    await mapErrors(name, () => this.handle(name).pause(note ?? 'paused through mlfleet'));
    return this.describe(name);
  }

  async unpause(name: string): Promise<ScheduleView> {
    await this.describe(name);
    await mapErrors(name, () => this.handle(name).unpause('unpaused through mlfleet'));
    return this.describe(name);
  }

  /** Starts one launch now, under the schedule's overlap policy (so `skip` starts nothing while one runs). */
  async trigger(name: string): Promise<ScheduleView> {
    const { overlap } = await this.describe(name);
    // The SDK's trigger() defaults to ALLOW_ALL, which would run beside (and not track) a running launch.
    await mapErrors(name, () => this.handle(name).trigger(TO_TEMPORAL[overlap]));
    return this.describe(name);
  }

  /**
   * Starts one launch per time the schedule would have fired in [start, end], one after another
   * (BUFFER_ALL), whatever the schedule's overlap policy.
   */
  async backfill(name: string, window: BackfillInput): Promise<ScheduleView & { backfill_launches: number }> {
    const view = await this.describe(name);
    const start = new Date(window.start);
    const end = new Date(window.end);
    const count = countFirings(view, start, end);
    if (count === 0) throw new ScheduleRequestInvalid(`the schedule does not fire between ${window.start} and ${window.end}; nothing to backfill`);
    await mapErrors(name, () => this.handle(name).backfill({ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL }));
    return { ...(await this.describe(name)), backfill_launches: count };
  }

  async delete(name: string): Promise<void> {
    await this.describe(name);
    await mapErrors(name, () => this.handle(name).delete());
  }

  private viewOf(name: string, d: ScheduleDescription): ScheduleView {
    if (d.action.workflowType !== WORKFLOW_TYPE) throw new ScheduleNotFound(name);
    const parsed = LaunchInput.safeParse(d.action.args?.[0]);
    const launch: LaunchInput = parsed.success ? parsed.data : { trigger: 'schedule' };
    const timing = timingOf(d);
    const iso = (date: Date): string => date.toISOString();
    // The SDK drops each action's workflow status; the raw answer has it (and some servers leave runningWorkflows empty).
    const rawStatuses = (d.raw.info?.recentActions ?? []).map((a) => workflowStatusName(a.startWorkflowStatus));
    const recent = d.info.recentActions.map((a, i) => {
      const status = rawStatuses[i];
      return {
        scheduled_at: iso(a.scheduledAt),
        taken_at: iso(a.takenAt),
        launch_id: launchIdFromWorkflowId(a.action.workflow.workflowId),
        ...(status !== undefined ? { status } : {}),
      };
    });
    const running = new Set(d.info.runningActions.map((a) => launchIdFromWorkflowId(a.workflow.workflowId)));
    for (const action of recent) if (action.status === 'RUNNING') running.add(action.launch_id);
    return {
      name,
      schedule_id: d.scheduleId,
      ...(launch.spec ? { experiment: launch.spec.experiment, stages: Object.keys(launch.spec.stages) } : {}),
      ...(launch.pipeline !== undefined ? { pipeline: launch.pipeline } : {}),
      ...(timing.cron !== undefined ? { cron: timing.cron } : {}),
      ...(timing.every !== undefined ? { every: timing.every } : {}),
      overlap: FROM_TEMPORAL.get(d.policies.overlap) ?? 'skip',
      catchup_window: formatDuration(d.policies.catchupWindow),
      pause_on_failure: d.policies.pauseOnFailure,
      paused: d.state.paused,
      // The note says why it is paused (Temporal keeps the last one after unpausing, too).
      ...(d.state.paused && d.state.note ? { note: d.state.note } : {}),
      next_action_times: d.info.nextActionTimes.map(iso),
      recent_actions: recent,
      running_launches: [...running],
      actions_taken: d.info.numActionsTaken,
      skipped_overlap: d.info.numActionsSkippedOverlap,
      created_at: iso(d.info.createdAt),
      ...(d.info.lastUpdatedAt ? { updated_at: iso(d.info.lastUpdatedAt) } : {}),
      launch,
    };
  }
}

const WORKFLOW_STATUSES = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED'];

/** `RUNNING`, `COMPLETED`, … from the proto enum (a number, or its `WORKFLOW_EXECUTION_STATUS_*` name). */
function workflowStatusName(status: unknown): string | undefined {
  const name = typeof status === 'number' ? WORKFLOW_STATUSES[status] : typeof status === 'string' ? status.replace(/^WORKFLOW_EXECUTION_STATUS_/, '') : undefined;
  return name === undefined || name === 'UNSPECIFIED' ? undefined : name;
}

/** How the schedule was written, from the action memo, or rebuilt from its compiled spec. */
function timingOf(d: ScheduleDescription): TimingMemo {
  const memo = d.action.memo?.[TIMING_MEMO] as TimingMemo | undefined;
  if (memo && (memo.cron !== undefined || memo.every !== undefined)) return memo;
  const every = d.spec.intervals?.[0]?.every;
  return { name: d.scheduleId.slice(SCHEDULE_PREFIX.length), ...(every !== undefined ? { every: formatDuration(every) } : {}) };
}

/**
 * How many times the schedule fires in [start, end] (Temporal's backfill range), up to one more than
 * MAX_BACKFILL_LAUNCHES; throws if that is more than a backfill may start.
 */
function countFirings(view: ScheduleView, start: Date, end: Date): number {
  let count = 0;
  if (view.every !== undefined) {
    // Intervals count from the Unix epoch (no offset).
    const every = durationMs(view.every) ?? 60_000;
    const first = Math.ceil(start.getTime() / every) * every;
    count = first > end.getTime() ? 0 : Math.floor((end.getTime() - first) / every) + 1;
  } else if (view.cron !== undefined) {
    const cron = parseCron(view.cron);
    if ('problem' in cron) return 0;
    count = cronFirings(cron, start, end, MAX_BACKFILL_LAUNCHES + 1).length;
  }
  if (count > MAX_BACKFILL_LAUNCHES) {
    throw new ScheduleRequestInvalid(`the backfill would start more than ${MAX_BACKFILL_LAUNCHES} launches; use a shorter window`);
  }
  return count;
}
