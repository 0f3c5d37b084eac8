import { formatSpecIssues, specErrorMap } from '../../domain/pipeline-spec';
import {
  BackfillInput,
  cronFirings,
  cronMatches,
  durationMs,
  formatDuration,
  parseCron,
  ScheduleInput,
  scheduledLaunchInput,
  ScheduleUpdate,
} from '../../domain/schedule';

const spec = { experiment: 'churn', stages: { train: { command: 'true', params: { epochs: 3 } } } };

/** Every problem with a request body, as the API reports it. */
function problems(schema: typeof ScheduleInput | typeof ScheduleUpdate | typeof BackfillInput, raw: unknown): string[] {
  const parsed = schema.safeParse(raw, { error: specErrorMap });
  return parsed.success ? [] : formatSpecIssues(parsed.error, [], raw, 'body');
}

const cronProblem = (cron: string): string[] => problems(ScheduleInput, { name: 'n', spec, cron });
const everyProblem = (every: string): string[] => problems(ScheduleInput, { name: 'n', spec, every });

describe('cron expressions', () => {
  test.each([
    '* * * * *',
    '0 3 * * *',
    '*/15 * * * *',
    '0 9-17/2 * * MON-FRI',
    '30 2 1,15 * *',
    '0 0 1 jan,Jul *',
    '5/10 * * * *',
    '0 0 * * 7',
    '59 23 31 12 6',
    '  0  3  *  *  *  ',
  ])('%s is valid', (cron) => {
    expect(cronProblem(cron)).toEqual([]);
  });

  test.each([
    ['61 * * * *', "cron: invalid minute field '61' (0-59)"],
    ['* 24 * * *', "cron: invalid hour field '24' (0-23)"],
    ['* * 0 * *', "cron: invalid day-of-month field '0' (1-31)"],
    ['* * 32 * *', "cron: invalid day-of-month field '32' (1-31)"],
    ['* * * 13 *', "cron: invalid month field '13' (1-12 or JAN-DEC)"],
    ['* * * FOO *', "cron: invalid month field 'FOO' (1-12 or JAN-DEC)"],
    ['* * * * 8', "cron: invalid day-of-week field '8' (0-7 or SUN-SAT)"],
    ['* * * * MONDAY', "cron: invalid day-of-week field 'MONDAY' (0-7 or SUN-SAT)"],
    ['1,61 * * * *', "cron: invalid minute field '1,61' (0-59)"],
    ['30-10 * * * *', "cron: invalid minute field '30-10' (range 30-10 ends before it starts)"],
    ['*/0 * * * *', "cron: invalid minute field '*/0' (step must be 1-60)"],
    ['* */25 * * *', "cron: invalid hour field '*/25' (step must be 1-24)"],
    ['*/ * * * *', "cron: invalid minute field '*/' (0-59)"],
    ['1,,2 * * * *', "cron: invalid minute field '1,,2' (0-59)"],
    ['-5 * * * *', "cron: invalid minute field '-5' (0-59)"],
    ['? * * * *', "cron: invalid minute field '?' (0-59)"],
    ['* * * *', "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4 in '* * * *'"],
    ['0 * * * * *', "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 6 in '0 * * * * *'"],
    ['', "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 0 in ''"],
    ['@daily', "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 1 in '@daily'"],
    // croner would take these, but Temporal refuses them or reads them otherwise (# starts a comment there).
    ['0 0 L * *', "cron: invalid day-of-month field 'L' (1-31)"],
    ['0 0 15W * *', "cron: invalid day-of-month field '15W' (1-31)"],
    ['0 0 ? * MON', "cron: invalid day-of-month field '?' (1-31)"],
    ['0 0 * * 5#2', "cron: invalid day-of-week field '5#2' (0-7 or SUN-SAT)"],
    ['0 0 * * 5L', "cron: invalid day-of-week field '5L' (0-7 or SUN-SAT)"],
    ['/10 * * * *', "cron: invalid minute field '/10' (0-59)"],
    ['0 0 * * MON-SUN', "cron: invalid day-of-week field 'MON-SUN' (range MON-SUN ends before it starts)"],
    // Changed with croner: it takes day-of-week steps up to 7 only (*/8 matched Sundays alone).
    ['0 0 * * */8', "cron: invalid day-of-week field '*/8' (step must be 1-7)"],
    // croner alone would take a stepped range that ends out of bounds.
    ['15-61/12 * * * *', "cron: invalid minute field '15-61/12' (0-59)"],
    ['0 23-30/9 * * *', "cron: invalid hour field '23-30/9' (0-23)"],
    // Changed with croner: a range with an end out of bounds says so, rather than that it runs backwards.
    ['61-10 * * * *', "cron: invalid minute field '61-10' (0-59)"],
  ])('%j: %s', (cron, message) => {
    expect(cronProblem(cron)).toEqual([message]);
  });

  test('matching follows cron rules, in UTC', () => {
    const weekdays = parseCron('0 9-17/2 * * MON-FRI');
    if ('problem' in weekdays) throw new Error(weekdays.problem);
    expect(cronMatches(weekdays, new Date('2026-01-05T09:00:00Z'))).toBe(true); // a Monday
    expect(cronMatches(weekdays, new Date('2026-01-05T10:00:00Z'))).toBe(false);
    expect(cronMatches(weekdays, new Date('2026-01-04T09:00:00Z'))).toBe(false); // a Sunday
    const sunday = parseCron('0 0 * * 7');
    if ('problem' in sunday) throw new Error(sunday.problem);
    expect(cronMatches(sunday, new Date('2026-01-04T00:00:00Z'))).toBe(true);
    // Both day fields restricted: both must match, as in Temporal (classic cron takes either).
    const both = parseCron('0 0 1 * MON');
    if ('problem' in both) throw new Error(both.problem);
    expect(cronMatches(both, new Date('2026-01-01T00:00:00Z'))).toBe(false); // the 1st, a Thursday
    expect(cronMatches(both, new Date('2026-01-05T00:00:00Z'))).toBe(false); // a Monday
    expect(cronMatches(both, new Date('2026-06-01T00:00:00Z'))).toBe(true); // the 1st and a Monday
    expect(cronMatches(both, new Date('2026-06-01T00:00:42Z'))).toBe(true); // seconds do not count
  });

  const firings = (cron: string, start: string, end: string, limit = 1_000): string[] => {
    const parsed = parseCron(cron);
    if ('problem' in parsed) throw new Error(parsed.problem);
    return cronFirings(parsed, new Date(start), new Date(end), limit).map((d) => d.toISOString().replace(':00.000Z', 'Z'));
  };

  test('firings in a window, both ends included, up to a limit', () => {
    expect(firings('*/15 * * * *', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z')).toEqual([
      '2026-01-01T00:00Z',
      '2026-01-01T00:15Z',
      '2026-01-01T00:30Z',
      '2026-01-01T00:45Z',
      '2026-01-01T01:00Z',
    ]);
    expect(firings('*/15 * * * *', '2026-01-01T00:00:00.500Z', '2026-01-01T00:59:59Z')).toEqual(['2026-01-01T00:15Z', '2026-01-01T00:30Z', '2026-01-01T00:45Z']);
    expect(firings('0 3 * * 1-5', '2020-01-04T00:00:00Z', '2020-01-12T00:00:00Z')).toHaveLength(5);
    expect(firings('* * * * *', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 10)).toHaveLength(10);
    expect(firings('0 0 30 2 *', '2026-01-01T00:00:00Z', '2030-01-01T00:00:00Z')).toEqual([]);
  });

  test('firings do not skip the first days of a month after a day the month before lacks', () => {
    expect(firings('0 0 */10 * *', '2026-02-15T00:00:00Z', '2026-03-15T00:00:00Z')).toEqual(['2026-02-21T00:00Z', '2026-03-01T00:00Z', '2026-03-11T00:00Z']);
    expect(firings('0 0 1,31 * *', '2026-01-15T00:00:00Z', '2026-04-02T00:00:00Z')).toEqual([
      '2026-01-31T00:00Z',
      '2026-02-01T00:00Z',
      '2026-03-01T00:00Z',
      '2026-03-31T00:00Z',
      '2026-04-01T00:00Z',
    ]);
  });

  test('a step from a day of the week runs through Sunday as 7, as in Temporal', () => {
    // 2026-01-05 is a Monday: MON/2 is Monday, Wednesday, Friday and Sunday.
    expect(firings('0 0 * * MON/2', '2026-01-05T00:00:00Z', '2026-01-11T23:59:00Z')).toEqual([
      '2026-01-05T00:00Z',
      '2026-01-07T00:00Z',
      '2026-01-09T00:00Z',
      '2026-01-11T00:00Z',
    ]);
    expect(firings('0 0 * * 7/2', '2026-01-05T00:00:00Z', '2026-01-11T23:59:00Z')).toEqual(['2026-01-11T00:00Z']);
  });
});

describe('durations', () => {
  test.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1d2h3m4s', 93_784_000],
    ['90m', 5_400_000],
  ])('%s = %d ms', (text, ms) => {
    expect(everyProblem(text)).toEqual([]);
    expect(durationMs(text)).toBe(ms);
  });

  test.each([
    ['5 minutes', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '5 minutes'"],
    ['90', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '90'"],
    ['30m1h', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '30m1h'"],
    ['1.5h', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '1.5h'"],
    ['1w', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '1w'"],
    ['', "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got ''"],
    ['0s', "every: must be longer than 0s, got '0s'"],
    ['0h0m', "every: must be longer than 0s, got '0h0m'"],
  ])('%j: %s', (text, message) => {
    expect(everyProblem(text)).toEqual([message]);
  });

  test('formatDuration gives the shortest form back', () => {
    expect([30_000, 900_000, 5_400_000, 86_400_000, 93_784_000, 0].map(formatDuration)).toEqual(['30s', '15m', '1h30m', '1d', '1d2h3m4s', '0s']);
  });
});

describe('schedule requests', () => {
  test.each<[string, unknown, string[]]>([
    ['neither spec nor pipeline', { name: 'n', every: '1h' }, ['spec: required (or give pipeline: <name>@<version>)']],
    ['both spec and pipeline', { name: 'n', spec, pipeline: 'churn@2', every: '1h' }, ['pipeline: give spec or pipeline, not both']],
    ['neither cron nor every', { name: 'n', spec }, ['cron: required (or give every: <duration>)']],
    ['both cron and every', { name: 'n', spec, cron: '0 3 * * *', every: '1h' }, ['every: give cron or every, not both']],
    ['no name', { spec, every: '1h' }, ['name: required (expected a string)']],
    [
      'a bad name',
      { name: '-x', spec, every: '1h' },
      ["name: invalid schedule name '-x': use at most 100 letters, digits, _, . and -, starting with a letter or digit"],
    ],
    [
      'a name too long',
      { name: 'a'.repeat(101), spec, every: '1h' },
      [`name: invalid schedule name '${'a'.repeat(101)}': use at most 100 letters, digits, _, . and -, starting with a letter or digit`],
    ],
    ['an unknown field', { name: 'n', spec, every: '1h', timezone: 'UTC' }, ["body: unknown field 'timezone'"]],
    [
      'an unknown overlap policy',
      { name: 'n', spec, every: '1h', overlap: 'terminate-other' },
      ["overlap: expected 'skip', 'buffer-one', 'buffer-all', 'cancel-other' or 'allow-all', got 'terminate-other'"],
    ],
    ['a short catch-up window', { name: 'n', spec, every: '1h', catchup_window: '9s' }, ["catchup_window: must be at least 10s, got '9s'"]],
    ['pause_on_failure as text', { name: 'n', spec, every: '1h', pause_on_failure: 'true' }, ['pause_on_failure: expected a boolean, got string']],
    ['a bad pipeline ref', { name: 'n', pipeline: 'churn', every: '1h' }, ['pipeline: expected <pipeline name>@<version number>, e.g. churn@3']],
    ['a relative code dir', { name: 'n', spec, every: '1h', code: { dir: 'src' } }, ['code.dir: expected an absolute path the worker can read']],
    [
      'a bad spec, with the launch messages',
      { name: 'n', spec: { experiment: 'x', stages: { a: { command: 'true', inputs: { t: 'stages.b.outputs.t' } } } }, every: '1h' },
      ["spec.stages.a.inputs.t: unknown stage 'b'"],
    ],
    [
      'several problems at once, in document order',
      { name: 'bad name', spec, cron: '0 25 * * *', overlap: 'never' },
      [
        "name: invalid schedule name 'bad name': use at most 100 letters, digits, _, . and -, starting with a letter or digit",
        "cron: invalid hour field '25' (0-23)",
        "overlap: expected 'skip', 'buffer-one', 'buffer-all', 'cancel-other' or 'allow-all', got 'never'",
      ],
    ],
  ])('%s', (_what, raw, expected) => {
    expect(problems(ScheduleInput, raw)).toEqual(expected);
  });

  test('a valid request becomes the launch input each scheduled launch starts with', () => {
    const input = ScheduleInput.parse({ name: 'nightly.v2', spec, params: { 'train.epochs': 5 }, cron: '0 3 * * *', code: { bundle: `sha256:${'a'.repeat(64)}` } });
    expect(scheduledLaunchInput(input)).toEqual({ spec, params: { 'train.epochs': 5 }, code: { bundle: `sha256:${'a'.repeat(64)}` }, trigger: 'schedule' });
    expect(scheduledLaunchInput(ScheduleInput.parse({ name: 'p', pipeline: 'churn@3', every: '1d' }))).toEqual({ pipeline: 'churn@3', trigger: 'schedule' });
  });

  test('an update needs what to launch, but timing only where it changes', () => {
    expect(problems(ScheduleUpdate, { spec })).toEqual([]);
    expect(problems(ScheduleUpdate, { spec, every: '2h', overlap: 'cancel-other' })).toEqual([]);
    expect(problems(ScheduleUpdate, { every: '2h' })).toEqual(['spec: required (or give pipeline: <name>@<version>)']);
    expect(problems(ScheduleUpdate, { name: 'n', spec })).toEqual(["body: unknown field 'name'"]);
    expect(problems(ScheduleUpdate, { spec, cron: '* * * * *', every: '1m' })).toEqual(['every: give cron or every, not both']);
  });

  test('backfill windows', () => {
    expect(problems(BackfillInput, { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00+01:00' })).toEqual([]);
    expect(problems(BackfillInput, { start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' })).toEqual(['end: must be after start']);
    expect(problems(BackfillInput, { start: '2026-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' })).toEqual(['end: must be after start']);
    // A missing field sorts before the fields given.
    expect(problems(BackfillInput, { start: 'yesterday' })).toEqual([
      'end: required (expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z)',
      "start: expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z, got 'yesterday'",
    ]);
    expect(problems(BackfillInput, { start: 5, end: '2026-01-01T00:00:00Z', extra: 1 })).toEqual([
      "body: unknown field 'extra'",
      'start: expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z, got number',
    ]);
  });
});
