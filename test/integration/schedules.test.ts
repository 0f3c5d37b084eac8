import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LaunchProgress } from '../../domain/launch';
import { ScheduleList, ScheduleView } from '../../domain/schedule';
import { getLaunchProgress } from '../../store/launches';
import { getRun } from '../../store/run-reads';
import { launchWorkflowId } from '../../workflows/ids';
import { makeCodeDir, uniqueId } from '../helpers/launches';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

let ctx: WorkflowTestContext;
let baseUrl: string;
let codeDir: string;
const taskQueue = uniqueId('schedules');
const created: string[] = [];

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  baseUrl = await ctx.startApi(taskQueue);
  codeDir = makeCodeDir(ctx.dataDir);
});

afterAll(async () => {
  // Schedules first (so nothing new starts), then every launch they left running.
  for (const name of created) await call('DELETE', `/api/v1/schedules/${name}`);
  const running = ctx.client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` });
  for await (const wf of running) await ctx.client.workflow.getHandle(wf.workflowId).cancel().catch(() => undefined);
  await ctx.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

async function call(method: Method, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const scheduleName = (prefix: string): string => {
  const name = uniqueId(prefix);
  created.push(name);
  return name;
};

async function describe(name: string): Promise<ScheduleView> {
  const { status, json } = await call('GET', `/api/v1/schedules/${name}`);
  expect(status).toBe(200);
  return ScheduleView.parse(json);
}

async function createSchedule(body: Record<string, unknown>): Promise<ScheduleView> {
  const { status, json } = await call('POST', '/api/v1/schedules', body);
  expect({ status, json }).toEqual({ status: 201, json: expect.objectContaining({ name: body.name }) as unknown });
  return ScheduleView.parse(json);
}

const quickSpec = (experiment: string) => ({ experiment, stages: { ok: { command: 'true' } } });
const sleepSpec = (experiment: string, seconds: number) => ({ experiment, stages: { wait: { command: `sleep ${seconds}` } } });

/** The stored progress of a launch once it has ended. */
const ended = (launchId: string, timeoutMs = 30_000): Promise<LaunchProgress> =>
  eventually(
    async () => {
      const progress = await getLaunchProgress(ctx.pool, launchId);
      return progress && progress.status !== 'RUNNING' ? progress : undefined;
    },
    timeoutMs,
    `launch ${launchId} to end`,
  );

/** The launch's first stage is running (its process started). */
const stageRunning = (launchId: string): Promise<true> =>
  eventually(
    async () => ((await ctx.client.workflow.getHandle(launchWorkflowId(launchId)).query<LaunchProgress>('launchProgress')).stages[0]?.status === 'RUNNING' ? true : undefined),
    30_000,
    `a running stage in ${launchId}`,
  );

async function triggerTag(runId: string): Promise<string | undefined> {
  const tags = await ctx.pool.query<{ value: string }>("SELECT value FROM tags WHERE run_uuid = $1 AND key = 'mlfleet.trigger'", [runId]);
  return tags.rows[0]?.value;
}

test('an every schedule: create, describe, list, trigger, backfill, update, pause, delete', async () => {
  const name = scheduleName('every');
  const experiment = uniqueId('sched-exp');
  const view = await createSchedule({ name, spec: quickSpec(experiment), every: '1m', code: { dir: codeDir } });
  expect(view).toMatchObject({
    name,
    schedule_id: `schedule/${name}`,
    experiment,
    stages: ['ok'],
    every: '1m',
    overlap: 'skip',
    catchup_window: '1h',
    pause_on_failure: false,
    paused: false,
    actions_taken: 0,
    launch: { spec: quickSpec(experiment), code: { dir: codeDir }, trigger: 'schedule' },
  });
  expect(view.next_action_times.length).toBeGreaterThan(0);
  expect(new Date(view.next_action_times[0] ?? '').getUTCSeconds()).toBe(0);

  // The same name again is refused, and the first schedule is unchanged.
  const again = await call('POST', '/api/v1/schedules', { name, spec: quickSpec('other'), cron: '0 0 * * *' });
  expect(again).toEqual({ status: 400, json: { error_code: 'RESOURCE_ALREADY_EXISTS', message: `Schedule '${name}' already exists` } });
  expect((await describe(name)).experiment).toBe(experiment);

  // Listing is eventually consistent.
  await eventually(async () => {
    const list = ScheduleList.parse((await call('GET', '/api/v1/schedules')).json);
    return list.schedules.some((s) => s.name === name && s.experiment === experiment) ? true : undefined;
  });

  // trigger: one launch now, tagged trigger=schedule, grouped under the experiment.
  const trigger = async (): Promise<void> => expect((await call('POST', `/api/v1/schedules/${name}/trigger`, {})).status).toBe(200);
  let skipped = (await describe(name)).skipped_overlap;
  await trigger();
  // (A real every-1m firing may happen meanwhile, at a whole minute; the trigger's nominal time is now.
  // A trigger takes the schedule's overlap policy, skip: one that meets such a firing's launch still
  // running is skipped, and is sent again.)
  const triggered = await eventually(async () => {
    const view = await describe(name);
    const action = view.recent_actions.find((a) => !a.scheduled_at.endsWith(':00.000Z'));
    if (action || view.skipped_overlap === skipped) return action;
    skipped = view.skipped_overlap;
    await trigger();
    return undefined;
  });
  expect(triggered.launch_id.startsWith(`sched-${name}-`)).toBe(true);
  const first = await ended(triggered.launch_id);
  expect(first.status).toBe('FINISHED');
  expect(await triggerTag(first.run_id)).toBe('schedule');

  // backfill: every 1m over three missed minutes → three launches, one per nominal time.
  const backfill = await call('POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-01T00:00:00Z', end: '2020-01-01T00:02:59Z' });
  expect(backfill.status).toBe(200);
  expect(backfill.json.backfill_launches).toBe(3);
  const expectedIds = ['00:00', '00:01', '00:02'].map((hm) => `sched-${name}-2020-01-01T${hm}:00Z`);
  const backfilled = await eventually(async () => {
    const rows = await ctx.pool.query<{ launch_id: string; status: string; run_id: string }>(
      "SELECT launch_id, status, run_id FROM launches WHERE launch_id LIKE $1 || '%' ORDER BY launch_id",
      [`sched-${name}-2020-`],
    );
    return rows.rows.length === 3 && rows.rows.every((r) => r.status === 'FINISHED') ? rows.rows : undefined;
  }, 45_000, 'three backfilled launches');
  expect(backfilled.map((r) => r.launch_id)).toEqual(expectedIds);
  for (const row of backfilled) expect(await triggerTag(row.run_id)).toBe('schedule');
  // Each run names its schedule and the nominal time it stood for.
  const scheduleTags = await ctx.pool.query<{ key: string; value: string }>(
    "SELECT key, value FROM tags WHERE run_uuid = $1 AND key IN ('mlfleet.schedule_id', 'mlfleet.scheduled_time') ORDER BY key",
    [backfilled[1]!.run_id],
  );
  expect(scheduleTags.rows).toEqual([
    { key: 'mlfleet.schedule_id', value: `schedule/${name}` },
    { key: 'mlfleet.scheduled_time', value: '2020-01-01T00:01:00.000Z' },
  ]);
  // Scheduled launch ids carry the nominal time (with colons); the launch API reads them like any other.
  const viaApi = await call('GET', `/api/v1/launches/${expectedIds[1]!}`);
  expect(viaApi.status).toBe(200);
  expect(viaApi.json).toMatchObject({ launch_id: expectedIds[1], status: 'FINISHED' });
  const experimentIds = await ctx.pool.query<{ n: unknown }>('SELECT count(DISTINCT experiment_id) AS n FROM launches WHERE launch_id LIKE $1', [`sched-${name}-%`]);
  expect(Number(experimentIds.rows[0]?.n)).toBe(1);

  // update: the stored spec changes explicitly; the timing stays.
  const updated = await call('PUT', `/api/v1/schedules/${name}`, { spec: quickSpec(`${experiment}-v2`), overlap: 'buffer-one' });
  expect(updated.status).toBe(200);
  expect(ScheduleView.parse(updated.json)).toMatchObject({ experiment: `${experiment}-v2`, every: '1m', overlap: 'buffer-one', launch: { trigger: 'schedule' } });
  expect((await describe(name)).launch.code).toBeUndefined();

  // pause: paused with its note, and nothing is due any more.
  const paused = await call('POST', `/api/v1/schedules/${name}/pause`, { note: 'maintenance' });
  expect(ScheduleView.parse(paused.json)).toMatchObject({ paused: true, note: 'maintenance' });
  const unpaused = await call('POST', `/api/v1/schedules/${name}/unpause`, {});
  expect(ScheduleView.parse(unpaused.json).paused).toBe(false);

  // delete: gone, and a second delete is a 404.
  expect(await call('DELETE', `/api/v1/schedules/${name}`)).toEqual({ status: 200, json: {} });
  expect(await call('GET', `/api/v1/schedules/${name}`)).toEqual({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Schedule '${name}' not found` } });
  expect((await call('DELETE', `/api/v1/schedules/${name}`)).status).toBe(404);
});

test('a paused schedule starts no further launches', async () => {
  const name = scheduleName('paused');
  await createSchedule({ name, spec: quickSpec(uniqueId('sched-pause')), every: '2s', code: { dir: codeDir } });
  // Real time this once: it fires every 2 s until paused.
  await eventually(async () => ((await describe(name)).actions_taken >= 1 ? true : undefined), 10_000, 'a first action');
  await call('POST', `/api/v1/schedules/${name}/pause`, {});
  const before = (await describe(name)).actions_taken;
  await new Promise((r) => setTimeout(r, 5_000));
  const after = await describe(name);
  expect(after.paused).toBe(true);
  expect(after.note).toBe('paused through mlfleet');
  expect(after.actions_taken).toBe(before);
});

test('overlap skip: a trigger while a launch runs starts no second launch', async () => {
  const name = scheduleName('skip');
  await createSchedule({ name, spec: sleepSpec(uniqueId('sched-skip'), 20), every: '1h', overlap: 'skip' });
  await call('POST', `/api/v1/schedules/${name}/trigger`, {});
  const running = await eventually(async () => (await describe(name)).running_launches[0]);
  await stageRunning(running);
  await new Promise((r) => setTimeout(r, 1_100)); // a later nominal second, so only the policy can refuse it
  await call('POST', `/api/v1/schedules/${name}/trigger`, {});
  const after = await eventually(async () => {
    const d = await describe(name);
    return d.skipped_overlap >= 1 ? d : undefined;
  }, 10_000, 'the second trigger to be skipped');
  expect(after.running_launches).toEqual([running]);
  expect(after.actions_taken).toBe(1);
  const count = await ctx.client.workflow.count(`TaskQueue = '${taskQueue}' AND TemporalScheduledById = 'schedule/${name}'`);
  expect(count.count).toBe(1);
});

test('overlap cancel-other: the previous launch is cancelled, its stage runs end KILLED', async () => {
  const name = scheduleName('cancel');
  await createSchedule({ name, spec: sleepSpec(uniqueId('sched-cancel'), 30), every: '1h', overlap: 'cancel-other' });
  await call('POST', `/api/v1/schedules/${name}/trigger`, {});
  const firstId = await eventually(async () => (await describe(name)).running_launches[0]);
  await stageRunning(firstId);
  await new Promise((r) => setTimeout(r, 1_100));
  await call('POST', `/api/v1/schedules/${name}/trigger`, {});

  const first = await ended(firstId);
  expect(first.status).toBe('KILLED');
  expect(first.stages.map((s) => s.status)).toEqual(['KILLED']);
  const stageRun = await getRun(ctx.pool, first.stages[0]?.run_id ?? '');
  expect(stageRun?.info.status).toBe('KILLED');
  expect((await getRun(ctx.pool, first.run_id))?.info.status).toBe('KILLED');
  // Cancelled, not terminated: the workflow closed as CANCELED and its cleanup ran (the runs above).
  const firstHandle = ctx.client.workflow.getHandle(launchWorkflowId(firstId));
  await firstHandle.result().catch(() => undefined); // closes just after its runs are recorded
  const closed = await firstHandle.describe();
  expect(closed.status.name).toBe('CANCELLED');
  const second = await eventually(async () => (await describe(name)).running_launches.find((id) => id !== firstId));
  expect(second).not.toBe(firstId);
});

test('bad input on every route is a 400 or 404 with a precise message, and changes nothing', async () => {
  const name = scheduleName('bad');
  const spec = { experiment: 'x', stages: { train: { command: 'true', params: { epochs: 3 } } } };
  await createSchedule({ name, spec, cron: '0 3 * * 1-5' });
  const unknown = uniqueId('nope');
  const cases: [Method, string, unknown, number, string][] = [
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, cron: '61 * * * *' }, 400, "cron: invalid minute field '61' (0-59)"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, cron: '* * * *' }, 400, "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4 in '* * * *'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '5 minutes' }, 400, "every: expected a duration like 30s, 15m, 1h, 1d or 1h30m (units d, h, m, s, largest first), got '5 minutes'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', cron: '* * * * *' }, 400, 'every: give cron or every, not both'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec }, 400, 'cron: required (or give every: <duration>)'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), every: '1m' }, 400, 'spec: required (or give pipeline: <name>@<version>)'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, pipeline: 'churn@1', every: '1m' }, 400, 'pipeline: give spec or pipeline, not both'],
    ['POST', '/api/v1/schedules', { name: 'bad name', spec, every: '1m' }, 400, "name: invalid schedule name 'bad name': use at most 100 letters, digits, _, . and -, starting with a letter or digit"],
    ['POST', '/api/v1/schedules', { name: 7, spec, every: '1m' }, 400, 'name: expected a string, got number'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', extra: true }, 400, "body: unknown field 'extra'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', overlap: 'terminate-other' }, 400, "overlap: expected 'skip', 'buffer-one', 'buffer-all', 'cancel-other' or 'allow-all', got 'terminate-other'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', catchup_window: '5s' }, 400, "catchup_window: must be at least 10s, got '5s'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', pause_on_failure: 'yes' }, 400, 'pause_on_failure: expected a boolean, got string'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec: { experiment: 'x', stages: { t: { comand: 'x' } } }, every: '1m' }, 400, "spec.stages.t: unknown field 'comand'\nspec.stages.t.command: required (expected a string)"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', params: { 'train.epochs': 'many' } }, 400, "params.train.epochs: expected a number, got 'many'"],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), spec, every: '1m', code: { dir: 'rel' } }, 400, 'code.dir: expected an absolute path the worker can read'],
    ['POST', '/api/v1/schedules', { name: uniqueId('b'), pipeline: 'never-registered@4', every: '1m' }, 400, "pipeline: unknown pipeline version 'never-registered@4'"],
    ['PUT', `/api/v1/schedules/${name}`, { spec, cron: '0 24 * * *' }, 400, "cron: invalid hour field '24' (0-23)"],
    ['PUT', `/api/v1/schedules/${name}`, { name, spec }, 400, "body: unknown field 'name'"],
    ['PUT', `/api/v1/schedules/${name}`, { spec, params: { 'train.epoch': 1 } }, 400, "params.train.epoch: stage 'train' has no param 'epoch'"],
    ['PUT', `/api/v1/schedules/${unknown}`, { spec }, 404, `Schedule '${unknown}' not found`],
    ['GET', `/api/v1/schedules/${unknown}`, undefined, 404, `Schedule '${unknown}' not found`],
    ['GET', '/api/v1/schedules/bad%20name', undefined, 400, "name: invalid schedule name 'bad name': use at most 100 letters, digits, _, . and -, starting with a letter or digit"],
    ['DELETE', `/api/v1/schedules/${unknown}`, undefined, 404, `Schedule '${unknown}' not found`],
    ['POST', `/api/v1/schedules/${unknown}/pause`, {}, 404, `Schedule '${unknown}' not found`],
    ['POST', `/api/v1/schedules/${name}/pause`, { note: 3 }, 400, 'note: expected a string, got number'],
    ['POST', `/api/v1/schedules/${name}/pause`, { reason: 'x' }, 400, "body: unknown field 'reason'"],
    ['POST', `/api/v1/schedules/${unknown}/unpause`, {}, 404, `Schedule '${unknown}' not found`],
    ['POST', `/api/v1/schedules/${name}/unpause`, { now: true }, 400, "body: unknown field 'now'"],
    ['POST', `/api/v1/schedules/${unknown}/trigger`, {}, 404, `Schedule '${unknown}' not found`],
    ['POST', `/api/v1/schedules/${name}/trigger`, { overlap: 'skip' }, 400, "body: unknown field 'overlap'"],
    ['POST', `/api/v1/schedules/${unknown}/backfill`, { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' }, 404, `Schedule '${unknown}' not found`],
    ['POST', `/api/v1/schedules/${name}/backfill`, { start: 'yesterday', end: '2020-01-02T00:00:00Z' }, 400, "start: expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z, got 'yesterday'"],
    ['POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-02T00:00:00Z', end: '2020-01-01T00:00:00Z' }, 400, 'end: must be after start'],
    ['POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-01T00:00:00Z' }, 400, 'end: required (expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z)'],
    ['POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-04T04:00:00Z', end: '2020-01-04T05:00:00Z' }, 400, 'the schedule does not fire between 2020-01-04T04:00:00Z and 2020-01-04T05:00:00Z; nothing to backfill'],
    ['POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-01T00:00:00Z', end: '2030-01-01T00:00:00Z' }, 400, 'the backfill would start more than 1000 launches; use a shorter window'],
  ];
  for (const [method, path, body, status, message] of cases) {
    const error_code = status === 404 ? 'RESOURCE_DOES_NOT_EXIST' : 'INVALID_PARAMETER_VALUE';
    expect({ method, path, body, ...(await call(method, path, body)) }).toEqual({ method, path, body, status, json: { error_code, message } });
  }
  // Nothing changed: the schedule is as created, no other schedule exists, nothing was launched.
  const after = await describe(name);
  expect(after).toMatchObject({ cron: '0 3 * * 1-5', paused: false, actions_taken: 0, launch: { spec } });
  const list = ScheduleList.parse((await call('GET', '/api/v1/schedules')).json);
  expect(list.schedules.filter((s) => s.name.startsWith('b-'))).toEqual([]);

  // The same schedule backfills its weekdays only: Monday 6 to Friday 10 January 2020 at 03:00.
  const weekdays = await call('POST', `/api/v1/schedules/${name}/backfill`, { start: '2020-01-04T00:00:00Z', end: '2020-01-12T00:00:00Z' });
  expect(weekdays.json.backfill_launches).toBe(5);
});

/** The `mlfleet` command against this file's API (asynchronously: the API runs in this process). */
async function mlfleet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(__dirname, '../../bin/mlfleet.cjs'), ...args, '--url', baseUrl]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('the CLI: create from a file (stored, so later edits change nothing), update, describe, trigger, backfill, pause, delete', async () => {
  const name = scheduleName('cli');
  const dir = makeCodeDir(ctx.dataDir);
  const file = join(dir, 'pipeline.yaml');
  const experiment = uniqueId('sched-cli');
  writeFileSync(file, `experiment: ${experiment}\nstages:\n  hello:\n    command: sh hello.sh\n    params: { n: 1 }\n`);

  const bad = await mlfleet('schedule', 'create', name, file, '--cron', '61 * * * *');
  expect(bad).toMatchObject({ code: 2, stderr: "invalid schedule:\n  --cron: invalid minute field '61' (0-59)\n" });

  const createdOut = await mlfleet('schedule', 'create', name, file, '--every', '1h', '--overlap', 'cancel-other', '-p', 'hello.n=2', '--json');
  expect(createdOut.stderr).toBe('');
  const view = ScheduleView.parse(JSON.parse(createdOut.stdout));
  expect(view).toMatchObject({ name, experiment, every: '1h', overlap: 'cancel-other', launch: { params: { 'hello.n': '2' }, trigger: 'schedule' } });
  expect(view.launch.code).toEqual({ bundle: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown });

  // Editing the file changes nothing …
  writeFileSync(file, `experiment: ${experiment}-edited\nstages:\n  hello:\n    command: sh hello.sh\n    params: { n: 1 }\n`);
  expect((await describe(name)).experiment).toBe(experiment);
  // … until `schedule update` says so.
  const updated = await mlfleet('schedule', 'update', name, file, '--json');
  expect(ScheduleView.parse(JSON.parse(updated.stdout))).toMatchObject({ experiment: `${experiment}-edited`, every: '1h', overlap: 'cancel-other' });

  // (Each command starts a process: the independent ones run side by side.)
  const [described, triggered, listed] = await Promise.all([
    mlfleet('schedule', 'describe', name),
    mlfleet('schedule', 'trigger', name),
    eventually(async () => (await mlfleet('schedule', 'list')).stdout.split('\n').find((line) => line.startsWith(`${name} `))),
  ]);
  expect(described.stdout).toContain(`schedule ${name}  ACTIVE  id schedule/${name}`);
  expect(described.stdout).toContain(`  launches  experiment ${experiment}-edited (stages hello)`);
  expect(described.stdout).toContain('  timing    every 1h; overlap cancel-other; catch-up window 1h; pause on failure no');
  expect(triggered.stdout).toBe(`triggered ${name} (overlap cancel-other); see: mlfleet schedule describe ${name}\n`);
  expect(listed).toMatch(new RegExp(`^${name} +ACTIVE +every 1h +experiment ${experiment}-edited +cancel-other `));
  // The triggered launch runs the uploaded bundle.
  const launched = await eventually(async () => (await describe(name)).recent_actions[0]?.launch_id);
  expect((await ended(launched)).status).toBe('FINISHED');

  // Both ends are included, as in Temporal: 00:00, 01:00 and 02:00 (the API test checks the launches themselves).
  const backfill = await mlfleet('schedule', 'backfill', name, '--start', '2020-01-01T00:00:00Z', '--end', '2020-01-01T02:00:00Z');
  expect(backfill.stdout).toBe(`backfilling ${name}: 3 launches between 2020-01-01T00:00:00Z and 2020-01-01T02:00:00Z\n`);

  expect((await mlfleet('schedule', 'pause', name, '--note', 'holiday')).stdout).toBe(`paused ${name} (holiday)\n`);
  expect((await mlfleet('schedule', 'delete', name)).stdout).toBe(`deleted ${name}\n`);
  expect(await mlfleet('schedule', 'describe', name)).toMatchObject({ code: 1, stderr: `mlfleet: Schedule '${name}' not found\n` });
});
