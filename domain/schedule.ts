import { Cron } from 'croner';
import { z } from 'zod';
import { CodeSource, LaunchInput, PipelineRef } from './launch';
import { ParamValue } from './param-value';
import { PipelineSpec } from './pipeline-spec';

/**
 * Schedules: recurring launches backed by Temporal Schedules. The schedule stores the launch input
 * (the spec itself, or a registered pipeline version), so editing the pipeline file later changes
 * nothing until `schedule update` says so.
 */

const quote = (text: string): string => `'${text}'`;

export const ScheduleName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, {
    error: (issue) =>
      `invalid schedule name ${quote(String(issue.input))}: use at most 100 letters, digits, _, . and -, starting with a letter or digit`,
  });
export type ScheduleName = z.infer<typeof ScheduleName>;

/** What happens when a launch is due while the previous one still runs (Temporal's overlap policies). */
export const OverlapPolicy = z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'allow-all']);
export type OverlapPolicy = z.infer<typeof OverlapPolicy>;

// ---------------------------------------------------------------------------------------------
// Durations: 30s, 15m, 1h, 1d, 1h30m (units largest first, each at most once); a regex, since the
// small duration libraries (ms, parse-duration, ...) also take 1.5h, 30m1h or words and say less.

const DURATION_PATTERN = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/;
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

/** Milliseconds of a duration string, or undefined if it is not one (or is zero). */
export function durationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match || text === '') return undefined;
  const [, d, h, m, s] = match;
  const ms = Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(m ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s;
  return ms > 0 ? ms : undefined;
}

/** The shortest duration string for a whole number of seconds, e.g. 5400000 → '1h30m'. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  if (rest <= 0) return '0s';
  let out = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

export const Duration = z.string().superRefine((text, ctx) => {
  if (!DURATION_PATTERN.test(text) || text === '') {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got ${quote(text)}`,
    });
  } else if (durationMs(text) === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be longer than 0s, got ${quote(text)}` });
  }
});
export type Duration = z.infer<typeof Duration>;

// ---------------------------------------------------------------------------------------------
// Cron: five fields, minute hour day-of-month month day-of-week, in UTC; croner checks the values
// and computes the firings.

interface CronField {
  name: string;
  max: number;
  allowed: string;
  /** The largest step croner takes in this field. */
  maxStep: number;
  /** Names for values, the first meaning `nameBase`. */
  names?: readonly string[];
  nameBase?: number;
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', max: 59, allowed: '0-59', maxStep: 60 },
  { name: 'hour', max: 23, allowed: '0-23', maxStep: 24 },
  { name: 'day-of-month', max: 31, allowed: '1-31', maxStep: 31 },
  { name: 'month', max: 12, allowed: '1-12 or JAN-DEC', maxStep: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], nameBase: 1 },
  // 7 is Sunday too, as in Temporal.
  { name: 'day-of-week', max: 7, allowed: '0-7 or SUN-SAT', maxStep: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], nameBase: 0 },
];

// Both day fields must match, as in Temporal (not classic cron's either-or); a UTC offset rather
// than a time zone keeps croner fast.
const CRON_OPTIONS = { mode: '5-part', utcOffset: 0, domAndDow: true } as const;

/**
 * One part of a field as croner should read it (`*`, `n` or `a-b`, each maybe with `/step`), or
 * undefined outside the plain grammar Temporal shares (croner would take ?, L, W and # too).
 */
function numericCronPart(part: string, field: CronField): string | undefined {
  const match = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d{1,3}))?$/.exec(part);
  if (!match) return undefined;
  const [, range = '', step] = match;
  const ends = range === '*' ? ['*'] : range.split('-').map((v) => {
    const index = field.names?.indexOf(v.toUpperCase()) ?? -1;
    return /^\d{1,2}$/.test(v) ? v : index >= 0 ? String(index + (field.nameBase ?? 0)) : undefined;
  });
  if (ends.includes(undefined)) return undefined;
  // `5/15` means 5 through the maximum in steps of 15, as in Temporal (croner's reading drops day-of-week 7).
  if (step !== undefined && ends[0] !== '*') ends[1] ??= String(field.max);
  return ends.join('-') + (step !== undefined ? `/${step}` : '');
}

/** Why croner refuses `part` as field `index` of a cron expression, or undefined if it takes it. */
function cronerRefusal(part: string, index: number, field: CronField, written: string): string | undefined {
  // The ends of a range alone first, since croner checks only the values a stepped range reaches.
  for (const probe of [...(part.split('/')[0] ?? '').split('-'), part]) {
    try {
      new Cron(CRON_FIELDS.map((_, i) => (i === index ? probe : '*')).join(' '), CRON_OPTIONS);
    } catch (err) {
      const message = err instanceof Error ? err.message : '';
      if (message.includes('larger than')) return `range ${written.split('/')[0] ?? ''} ends before it starts`;
      return message.includes('step') ? `step must be 1-${field.maxStep}` : field.allowed;
    }
  }
  return undefined;
}

/** A valid cron expression; `cronFirings` lists its firings. */
export type ParsedCron = Cron;

/** Parses a five-field cron expression, or returns the first problem (without a path). */
export function parseCron(expression: string): ParsedCron | { problem: string } {
  const fields = expression.trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5) {
    return { problem: `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length} in ${quote(expression)}` };
  }
  const numeric: string[] = [];
  for (const [i, field] of CRON_FIELDS.entries()) {
    const text = fields[i] ?? '';
    const parts = text.split(',').map((written) => ({ written, part: numericCronPart(written, field) }));
    for (const { written, part } of parts) {
      const problem = part === undefined ? field.allowed : cronerRefusal(part, i, field, written);
      if (problem !== undefined) return { problem: `invalid ${field.name} field ${quote(text)} (${problem})` };
    }
    numeric.push(parts.map(({ part }) => part).join(','));
  }
  return new Cron(numeric.join(' '), CRON_OPTIONS);
}

/** True when `cron` fires at `date` (UTC, minute precision). */
export function cronMatches(cron: ParsedCron, date: Date): boolean {
  return cron.match(new Date(Math.floor(date.getTime() / 60_000) * 60_000));
}

/** The first time `cron` fires after `after` (croner looks strictly after it, in whole seconds). */
const nextFiring = (cron: ParsedCron, after: Date): Date | null => cron.nextRun(after);

/** The times `cron` fires in [start, end], at most `limit` of them (none from the year 3000 on, where croner stops). */
export function cronFirings(cron: ParsedCron, start: Date, end: Date, limit: number): Date[] {
  const firings: Date[] = [];
  for (let at = nextFiring(cron, new Date(start.getTime() - 1_000)); at && at.getTime() <= end.getTime() && firings.length < limit; at = nextFiring(cron, at)) {
    if (at.getTime() >= start.getTime()) firings.push(at);
  }
  return firings;
}

export const CronExpression = z.string().superRefine((text, ctx) => {
  const parsed = parseCron(text);
  if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
});
export type CronExpression = z.infer<typeof CronExpression>;

// ---------------------------------------------------------------------------------------------
// Requests

/** Temporal does not catch up less than 10 s late anyway (its minimum catch-up window). */
export const MIN_CATCHUP_WINDOW_MS = 10_000;
/** Missed launches up to this late still start after an outage; older ones need a backfill. */
export const DEFAULT_CATCHUP_WINDOW = '1h';
/** The most launches one backfill may start. */
export const MAX_BACKFILL_LAUNCHES = 1_000;

const launchFields = {
  spec: PipelineSpec.optional(),
  pipeline: PipelineRef.optional(),
  params: z.record(z.string(), ParamValue).optional(),
  code: CodeSource.optional(),
};

const policyFields = {
  overlap: OverlapPolicy.optional(),
  catchup_window: Duration.optional(),
  pause_on_failure: z.boolean().optional(),
};

interface ScheduleFields {
  spec?: unknown;
  pipeline?: unknown;
  code?: CodeSource;
  cron?: string;
  every?: string;
  catchup_window?: string;
}

/** The checks across fields shared by create and update. */
function checkFields(input: ScheduleFields, ctx: z.RefinementCtx, timingRequired: boolean): void {
  if (input.spec === undefined && input.pipeline === undefined) {
    ctx.addIssue({ code: 'custom', path: ['spec'], message: 'required (or give pipeline: <name>@<version>)' });
  } else if (input.spec !== undefined && input.pipeline !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['pipeline'], message: 'give spec or pipeline, not both' });
  }
  if (input.cron === undefined && input.every === undefined) {
    if (timingRequired) ctx.addIssue({ code: 'custom', path: ['cron'], message: 'required (or give every: <duration>)' });
  } else if (input.cron !== undefined && input.every !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['every'], message: 'give cron or every, not both' });
  }
  const window = input.catchup_window === undefined ? undefined : durationMs(input.catchup_window);
  if (window !== undefined && window < MIN_CATCHUP_WINDOW_MS) {
    ctx.addIssue({ code: 'custom', path: ['catchup_window'], message: `must be at least 10s, got ${quote(input.catchup_window ?? '')}` });
  }
  if (input.code && 'dir' in input.code && !input.code.dir.startsWith('/')) {
    ctx.addIssue({ code: 'custom', path: ['code', 'dir'], message: 'expected an absolute path the worker can read' });
  }
}

/** `POST /api/v1/schedules`: what to launch (exactly one of spec/pipeline) and when (exactly one of cron/every). */
export const ScheduleInput = z
  .strictObject({
    name: ScheduleName,
    ...launchFields,
    cron: CronExpression.optional(),
    every: Duration.optional(),
    ...policyFields,
  })
  .superRefine((input, ctx) => checkFields(input, ctx, true));
export type ScheduleInput = z.infer<typeof ScheduleInput>;

/**
 * `PUT /api/v1/schedules/:name`: replaces what the schedule launches (spec or pipeline, params,
 * code) whole; timing and policies change only where given.
 */
export const ScheduleUpdate = z
  .strictObject({
    ...launchFields,
    cron: CronExpression.optional(),
    every: Duration.optional(),
    ...policyFields,
  })
  .superRefine((input, ctx) => checkFields(input, ctx, false));
export type ScheduleUpdate = z.infer<typeof ScheduleUpdate>;

/** The launch input a schedule stores and starts each time (tagged trigger=schedule). */
export function scheduledLaunchInput(input: ScheduleInput | ScheduleUpdate): LaunchInput {
  const { spec, pipeline, params, code } = input;
  return {
    ...(spec !== undefined ? { spec } : {}),
    ...(pipeline !== undefined ? { pipeline } : {}),
    ...(params !== undefined && Object.keys(params).length > 0 ? { params } : {}),
    ...(code !== undefined ? { code } : {}),
    trigger: 'schedule',
  };
}

const IsoTime = z.iso.datetime({
  offset: true,
  error: (issue) =>
    issue.input === undefined
      ? 'required (expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z)'
      : `expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z, got ${typeof issue.input === 'string' ? quote(issue.input) : typeof issue.input}`,
});

/** `POST /api/v1/schedules/:name/backfill`: launch once per time the schedule would have fired in [start, end]. */
export const BackfillInput = z
  .strictObject({ start: IsoTime, end: IsoTime })
  .superRefine((input, ctx) => {
    if (Date.parse(input.end) <= Date.parse(input.start)) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
  });
export type BackfillInput = z.infer<typeof BackfillInput>;

export const PauseInput = z.strictObject({ note: z.string().max(1000).optional() });
export type PauseInput = z.infer<typeof PauseInput>;

export const ScheduleNameParams = z.strictObject({ name: ScheduleName });
export type ScheduleNameParams = z.infer<typeof ScheduleNameParams>;

// ---------------------------------------------------------------------------------------------
// Answers

export const ScheduleAction = z.object({
  /** The nominal time the launch was for (ISO). */
  scheduled_at: z.string(),
  taken_at: z.string(),
  launch_id: z.string(),
  /** The launch workflow's status as the schedule last saw it (RUNNING, COMPLETED, FAILED, CANCELED, …). */
  status: z.string().optional(),
});
export type ScheduleAction = z.infer<typeof ScheduleAction>;

/** A schedule as the API shows it. */
export const ScheduleView = z.object({
  name: z.string(),
  schedule_id: z.string(),
  experiment: z.string().optional(),
  pipeline: z.string().optional(),
  stages: z.array(z.string()).optional(),
  cron: z.string().optional(),
  every: z.string().optional(),
  overlap: OverlapPolicy,
  catchup_window: z.string(),
  pause_on_failure: z.boolean(),
  paused: z.boolean(),
  note: z.string().optional(),
  next_action_times: z.array(z.string()),
  recent_actions: z.array(ScheduleAction),
  running_launches: z.array(z.string()),
  actions_taken: z.number(),
  skipped_overlap: z.number(),
  created_at: z.string(),
  updated_at: z.string().optional(),
  /** What each launch starts with. */
  launch: LaunchInput,
});
export type ScheduleView = z.infer<typeof ScheduleView>;

export const ScheduleList = z.object({ schedules: z.array(ScheduleView) });
export type ScheduleList = z.infer<typeof ScheduleList>;
