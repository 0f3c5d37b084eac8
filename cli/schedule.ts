import { Command, Option } from 'commander';
import type { z } from 'zod';
import { launchSpec, type LaunchInput } from '../domain/launch';
import { parseParamAssignment } from '../domain/params';
import { formatSpecIssues, specErrorMap } from '../domain/pipeline-spec';
import { BackfillInput, OverlapPolicy, ScheduleInput, ScheduleUpdate, type ScheduleView } from '../domain/schedule';
import { MlfleetApi } from './api-client';
import { uploadCode } from './code-upload';
import { loadPipelineFile } from './pipeline-file';
import { SchedulesApi } from './schedules-client';

interface TimingOptions {
  cron?: string;
  every?: string;
  overlap?: string;
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  param: string[];
  pipeline?: string;
  json: boolean;
  url: string;
}

/** A request the API would refuse, reported before anything is sent (exit code 2), naming the flags. */
class ScheduleUsageError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
  }
}

const FLAG_OF: Readonly<Record<string, string>> = {
  name: 'NAME',
  cron: '--cron',
  every: '--every',
  overlap: '--overlap',
  catchup_window: '--catchup-window',
  pause_on_failure: '--pause-on-failure',
  pipeline: '--pipeline',
  spec: 'FILE',
  start: '--start',
  end: '--end',
};

/** `cron: …` → `--cron: …`, so a message names what the user typed. */
const asFlags = (issues: string[]): string[] =>
  issues.map((issue) => {
    const field = /^([a-z_]+)(?=[:.[])/.exec(issue)?.[1];
    const flag = field === undefined ? undefined : FLAG_OF[field];
    return flag === undefined || (field === 'spec' && issue.startsWith('spec.')) ? issue : flag + issue.slice(field?.length ?? 0);
  });

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value, { error: specErrorMap });
  if (!parsed.success) throw new ScheduleUsageError(asFlags(formatSpecIssues(parsed.error, [], value, 'schedule')));
  return parsed.data;
}

/** What the schedule launches: the file's spec (its folder uploaded as a code bundle) or a registered version. */
async function launchPart(file: string | undefined, opts: TimingOptions): Promise<Omit<LaunchInput, 'trigger'>> {
  if ((file === undefined) === (opts.pipeline === undefined)) {
    throw new ScheduleUsageError(['give a pipeline FILE or --pipeline <name>@<version>, not both']);
  }
  const params = Object.fromEntries(opts.param.map(parseParamAssignment));
  if (file === undefined) return { pipeline: opts.pipeline, ...(opts.param.length > 0 ? { params } : {}) };
  const { spec, dir } = loadPipelineFile(file);
  launchSpec(spec, { params }); // bad params fail here, before the upload
  const code = await uploadCode(new MlfleetApi(opts.url), dir);
  return { spec, ...(opts.param.length > 0 ? { params } : {}), code };
}

/** A valid stand-in for what FILE holds, to check the flags before reading and uploading anything. */
const placeholder = (file: string | undefined, opts: TimingOptions) => ({
  ...(file !== undefined ? { spec: { experiment: 'placeholder', stages: { s: { command: 'true' } } } } : {}),
  ...(opts.pipeline !== undefined ? { pipeline: opts.pipeline } : {}),
});

const timingPart = (opts: TimingOptions) => ({
  ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
  ...(opts.every !== undefined ? { every: opts.every } : {}),
  ...(opts.overlap !== undefined ? { overlap: opts.overlap } : {}),
  ...(opts.catchupWindow !== undefined ? { catchup_window: opts.catchupWindow } : {}),
  ...(opts.pauseOnFailure !== undefined ? { pause_on_failure: opts.pauseOnFailure } : {}),
});

// ---------------------------------------------------------------------------------------------
// Output

const timing = (s: ScheduleView): string => (s.cron !== undefined ? `cron '${s.cron}' (UTC)` : `every ${s.every ?? '?'}`);
const what = (s: ScheduleView): string => (s.pipeline !== undefined ? `pipeline ${s.pipeline}` : `experiment ${s.experiment ?? '?'}`);
const state = (s: ScheduleView): string => (s.paused ? 'PAUSED' : 'ACTIVE');

function table(header: string[], rows: string[][], indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `${indent}${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderScheduleList(schedules: ScheduleView[]): string {
  if (schedules.length === 0) return 'no schedules';
  return table(
    ['NAME', 'STATE', 'TIMING', 'LAUNCHES', 'OVERLAP', 'NEXT', 'TAKEN'],
    schedules.map((s) => [s.name, state(s), timing(s), what(s), s.overlap, s.paused ? '-' : (s.next_action_times[0] ?? '-'), String(s.actions_taken)]),
  ).join('\n');
}

export function renderSchedule(s: ScheduleView): string {
  const lines = [
    `schedule ${s.name}  ${state(s)}${s.note ? ` (${s.note})` : ''}  id ${s.schedule_id}`,
    `  launches  ${what(s)}${s.stages ? ` (stages ${s.stages.join(', ')})` : ''}${s.launch.params ? `, params ${Object.entries(s.launch.params).map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : ''}`,
    `  code      ${s.launch.code ? ('bundle' in s.launch.code ? s.launch.code.bundle : s.launch.code.dir) : s.pipeline !== undefined ? "the registered version's" : 'none'}`,
    `  timing    ${timing(s)}; overlap ${s.overlap}; catch-up window ${s.catchup_window}; pause on failure ${s.pause_on_failure ? 'yes' : 'no'}`,
    `  next      ${s.paused ? '- (paused)' : s.next_action_times.slice(0, 3).join(', ') || '-'}`,
    `  taken     ${s.actions_taken} launches (${s.skipped_overlap} skipped because one was running)`,
  ];
  if (s.running_launches.length > 0) lines.push(`  running   ${s.running_launches.join(', ')}`);
  if (s.recent_actions.length > 0) {
    lines.push('  recent:');
    lines.push(...table(['LAUNCH ID', 'SCHEDULED FOR', 'STATUS'], s.recent_actions.map((a) => [a.launch_id, a.scheduled_at, a.status ?? '-']), '    '));
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Commands

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function timingOptions(command: Command, forUpdate: boolean): Command {
  return command
    .option('--cron <expr>', 'five-field cron expression, in UTC (e.g. "0 3 * * 1-5")')
    .option('--every <duration>', 'fixed interval from the Unix epoch: 30s, 15m, 1h, 1d, 1h30m')
    .addOption(new Option('--overlap <policy>', 'when a launch is due while the previous one runs' + (forUpdate ? '' : ' (default skip)')).choices(OverlapPolicy.options))
    .option('--catchup-window <duration>', `launch missed times up to this late after an outage${forUpdate ? '' : ' (default 1h)'}`)
    .option('--pause-on-failure', 'pause the schedule when a launch fails')
    .option('--pipeline <name@version>', 'a registered pipeline version instead of FILE')
    .option('-p, --param <stage.key=value>', 'override a stage param (repeatable)', collect, [])
    .option('--json', 'print the schedule as JSON', false);
}

/** Prints a schedule, or reports a usage error with exit code 2. */
async function output(run: () => Promise<unknown>, render: (value: never) => string, json: boolean): Promise<void> {
  try {
    const value = await run();
    console.log(json ? JSON.stringify(value) : render(value as never));
  } catch (err) {
    if (!(err instanceof ScheduleUsageError)) throw err;
    console.error(`invalid schedule:\n${err.issues.map((i) => `  ${i}`).join('\n')}`);
    process.exitCode = 2;
  }
}

/** `mlfleet schedule …`: recurring launches backed by Temporal Schedules, through the API. */
export function scheduleCommand(defaultUrl: string): Command {
  const schedule = new Command('schedule').description('recurring launches (Temporal Schedules): create, list, describe, update, pause, unpause, trigger, backfill, delete');
  const withUrl = (command: Command): Command => command.option('--url <url>', 'mlfleet API (or MLFLEET_URL)', defaultUrl);

  withUrl(
    timingOptions(
      schedule
        .command('create <name> [file]')
        .description('store a pipeline (FILE, or --pipeline) and launch it on --cron or --every; later edits to the file change nothing until `schedule update`'),
      false,
    ),
  ).action((name: string, file: string | undefined, opts: TimingOptions) =>
    output(
      async () => {
        validate(ScheduleInput, { name, ...placeholder(file, opts), ...timingPart(opts) }); // the flags first, before any upload
        const body = validate<ScheduleInput>(ScheduleInput, { name, ...(await launchPart(file, opts)), ...timingPart(opts) });
        return new SchedulesApi(opts.url).create(body);
      },
      renderSchedule,
      opts.json,
    ),
  );

  withUrl(
    timingOptions(
      schedule
        .command('update <name> [file]')
        .description('replace what the schedule launches with FILE (or --pipeline) as it is now; timing and policies change only where given'),
      true,
    ),
  )
    .option('--no-pause-on-failure', 'stop pausing the schedule when a launch fails')
    .action((name: string, file: string | undefined, opts: TimingOptions) =>
      output(
        async () => {
          validate(ScheduleUpdate, { ...placeholder(file, opts), ...timingPart(opts) });
          const body = validate<ScheduleUpdate>(ScheduleUpdate, { ...(await launchPart(file, opts)), ...timingPart(opts) });
          return new SchedulesApi(opts.url).update(name, body);
        },
        renderSchedule,
        opts.json,
      ),
    );

  withUrl(schedule.command('list').description("list mlfleet's schedules").option('--json', 'print as JSON', false)).action((opts: { json: boolean; url: string }) =>
    output(async () => ({ schedules: await new SchedulesApi(opts.url).list() }), (v: { schedules: ScheduleView[] }) => renderScheduleList(v.schedules), opts.json),
  );

  withUrl(schedule.command('describe <name>').description('show a schedule: what it launches, timing, state, recent and next launches').option('--json', 'print as JSON', false)).action(
    (name: string, opts: { json: boolean; url: string }) => output(() => new SchedulesApi(opts.url).describe(name), renderSchedule, opts.json),
  );

  withUrl(schedule.command('pause <name>').description('pause: no launches start until unpaused').option('--note <text>', 'why (shown by describe)').option('--json', 'print as JSON', false)).action(
    (name: string, opts: { note?: string; json: boolean; url: string }) =>
      output(() => new SchedulesApi(opts.url).pause(name, opts.note), (s: ScheduleView) => `paused ${s.name}${s.note ? ` (${s.note})` : ''}`, opts.json),
  );

  withUrl(schedule.command('unpause <name>').description('resume launching on schedule').option('--json', 'print as JSON', false)).action((name: string, opts: { json: boolean; url: string }) =>
    output(() => new SchedulesApi(opts.url).unpause(name), (s: ScheduleView) => `unpaused ${s.name}; next launch ${s.next_action_times[0] ?? '-'}`, opts.json),
  );

  withUrl(
    schedule.command('trigger <name>').description("start one launch now, under the schedule's overlap policy (skip: nothing while one runs)").option('--json', 'print as JSON', false),
  ).action((name: string, opts: { json: boolean; url: string }) =>
    output(() => new SchedulesApi(opts.url).trigger(name), (s: ScheduleView) => `triggered ${s.name} (overlap ${s.overlap}); see: mlfleet schedule describe ${s.name}`, opts.json),
  );

  withUrl(
    schedule
      .command('backfill <name>')
      .description('start one launch per time the schedule would have fired in [--start, --end], one after another')
      .requiredOption('--start <time>', 'ISO 8601 time, e.g. 2026-01-01T00:00:00Z')
      .requiredOption('--end <time>', 'ISO 8601 time')
      .option('--json', 'print as JSON', false),
  ).action((name: string, opts: { start: string; end: string; json: boolean; url: string }) =>
    output(
      () => new SchedulesApi(opts.url).backfill(name, validate<BackfillInput>(BackfillInput, { start: opts.start, end: opts.end })),
      (s: ScheduleView & { backfill_launches: number }) => `backfilling ${s.name}: ${s.backfill_launches} launches between ${opts.start} and ${opts.end}`,
      opts.json,
    ),
  );

  withUrl(schedule.command('delete <name>').description('delete a schedule (launches it started keep running)').option('--json', 'print as JSON', false)).action(
    (name: string, opts: { json: boolean; url: string }) =>
      output(
        async () => {
          await new SchedulesApi(opts.url).delete(name);
          return { deleted: name };
        },
        (v: { deleted: string }) => `deleted ${v.deleted}`,
        opts.json,
      ),
  );

  return schedule;
}
