import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LaunchProgress } from '../../domain/launch';
import { freePort } from '../../server/free-port';
import { holdPort } from '../helpers/held-port';
import { runMlfleet } from '../helpers/processes';
import { testEnv } from '../helpers/services';

// The embedded stack exactly as a user runs it: its own PostgreSQL, Temporal dev server, worker and
// API in one `mlfleet` process. Ports are free ones so it never collides with a developer's stack.
async function stackEnv(): Promise<{ env: NodeJS.ProcessEnv; port: number; dataDir: string }> {
  const [port, postgres, temporal, ui] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    MLFLEET_POSTGRES_PORT: String(postgres),
    MLFLEET_TEMPORAL_PORT: String(temporal),
    MLFLEET_TEMPORAL_UI_PORT: String(ui),
    DATABASE_URL: '',
    TEMPORAL_ADDRESS: '',
  };
  return { env, port, dataDir: mkdtempSync(join(testEnv().dataDir, 'stack-')) };
}

async function getLaunch(port: number, launchId: string): Promise<LaunchProgress> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/launches/${launchId}`);
  expect(response.status).toBe(200);
  return LaunchProgress.parse(await response.json());
}

test('the demo completes and the run tree it prints matches GET /api/v1/launches/:id', async () => {
  const { env, port, dataDir } = await stackEnv();
  const demo = runMlfleet(['demo', '--keep', '--port', String(port), '--data-dir', dataDir], env);
  try {
    await demo.waitFor(/--keep: the stack stays up/, 240_000);
    const [, launchId, status, runId] = demo.output().match(/^launch ([0-9a-f]+) {2}(\w+) {2}run ([0-9a-f]{32})/m)!;
    const printed = [
      ...demo.output().matchAll(/^ {2}(\w+) +(FINISHED|FAILED|KILLED|SKIPPED) +[\d.]+s +([0-9a-f]{32}|-) +(ran|cached from [0-9a-f]{32}|reused from [0-9a-f]{32}|-)$/gm),
    ].map((m) => ({ name: m[1], status: m[2], run_id: m[3], source: m[4] }));
    const api = await getLaunch(port, launchId!);
    expect(status).toBe('FINISHED');
    expect(api.status).toBe(status);
    expect(api.run_id).toBe(runId);
    // A fresh stack has nothing memoized: every stage ran.
    expect(printed).toEqual(api.stages.map((s) => ({ name: s.name, status: s.status, run_id: s.run_id, source: s.source })));
    expect(printed.map((s) => s.source)).toEqual(['ran', 'ran', 'ran', 'ran']);
    expect(printed.map((s) => s.name)).toEqual(['prepare', 'train_logreg', 'train_tree', 'evaluate']);
    // The stages logged through the MLflow API: the evaluation picked a model.
    expect(demo.output()).toMatch(/evaluate +best_test_auc=0\.\d+ .*best_model=(logreg|tree)/);
  } finally {
    demo.child.kill('SIGINT');
  }
  expect(await demo.exited).toBe(0);
  expect(demo.output()).toContain('stopping the stack');
}, 300_000);

test('a launch interrupted by stopping `mlfleet up` finishes after the next `mlfleet up`, with one run per stage', async () => {
  const { env, port, dataDir } = await stackEnv();
  const pipelineDir = mkdtempSync(join(dataDir, 'pipeline-'));
  const marker = join(dataDir, 'attempts.log');
  writeFileSync(
    join(pipelineDir, 'pipeline.yaml'),
    [
      'experiment: restart-e2e',
      'stages:',
      '  slow:',
      `    command: echo started >> ${marker}; sleep 20; echo ok > \${outputs.done}`,
      '    outputs: { done: out/done.txt }',
      '  after:',
      '    command: cat ${inputs.done}',
      '    inputs: { done: stages.slow.outputs.done }',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  const up = runMlfleet(['up', '--port', String(port), '--data-dir', dataDir], env);
  await up.waitFor(/Press Ctrl-C to stop/, 180_000);
  const launched = runMlfleet(['launch', join(pipelineDir, 'pipeline.yaml'), '--json', '--url', url]);
  expect(await launched.exited).toBe(0);
  const { launch_id: launchId } = JSON.parse(launched.output()) as { launch_id: string };
  for (let i = 0; i < 300 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 200));
  expect((await getLaunch(port, launchId)).stages[0]?.status).toBe('RUNNING');

  up.child.kill('SIGINT');
  expect(await up.exited).toBe(0);
  expect(up.output()).toContain('unfinished launches resume');

  const again = runMlfleet(['up', '--port', String(port), '--data-dir', dataDir], env);
  try {
    await again.waitFor(/Press Ctrl-C to stop/, 180_000);
    let final: LaunchProgress | undefined;
    for (let i = 0; i < 300; i++) {
      final = await getLaunch(port, launchId);
      if (final.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(final?.status).toBe('FINISHED');
    expect(final?.stages.map((s) => [s.name, s.status])).toEqual([
      ['slow', 'FINISHED'],
      ['after', 'FINISHED'],
    ]);
    expect(new Set(final?.stages.map((s) => s.run_id)).size).toBe(2);
    // Longer than the worker's shutdown grace time, the stage was stopped and ran again from the start.
    expect(readFileSync(marker, 'utf8')).toBe('started\nstarted\n');
    const status = runMlfleet(['status', launchId, '--url', url]);
    expect(await status.exited).toBe(0);
    expect(status.output()).toMatch(new RegExp(`^launch ${launchId} {2}FINISHED`, 'm'));
  } finally {
    again.child.kill('SIGINT');
    await again.exited;
  }
}, 400_000);

test('DATABASE_URL and TEMPORAL_ADDRESS make `mlfleet up` use existing services instead of embedded ones', async () => {
  const services = testEnv();
  const port = await freePort();
  const dataDir = mkdtempSync(join(services.dataDir, 'external-'));
  const env = { DATABASE_URL: services.databaseUrl, TEMPORAL_ADDRESS: services.temporalAddress, MLFLEET_TASK_QUEUE: `external-${port}` };
  const up = runMlfleet(['up', '--port', String(port), '--data-dir', dataDir], env);
  try {
    await up.waitFor(/Press Ctrl-C to stop/, 120_000);
    expect(up.output()).not.toMatch(/starting (PostgreSQL|the Temporal dev server)/);
    expect(up.output()).toMatch(/PostgreSQL +DATABASE_URL/);
    expect(up.output()).toContain(`Temporal                 ${services.temporalAddress}\n`);
    // The URL (and its password) is never printed.
    expect(up.output()).not.toContain(services.databaseUrl);

    const pipeline = join(dataDir, 'pipeline.json');
    writeFileSync(pipeline, JSON.stringify({ experiment: `external-${port}`, stages: { one: { command: 'true' }, two: { command: 'true' } } }));
    const launched = runMlfleet(['launch', pipeline, '--wait', '--json', '--url', `http://127.0.0.1:${port}`]);
    expect(await launched.exited).toBe(0);
    const result = JSON.parse(launched.output().trim().split('\n').pop()!) as { status: string; stages: { status: string }[] };
    expect(result.status).toBe('FINISHED');
    expect(result.stages.map((s) => s.status)).toEqual(['FINISHED', 'FINISHED']);
  } finally {
    up.child.kill('SIGINT');
    await up.exited;
  }
}, 200_000);

test.each([
  ['MLFLEET_POSTGRES_PORT', { DATABASE_URL: '', TEMPORAL_ADDRESS: '' }, /could not bind IPv4 address "127\.0\.0\.1": Address already in use/],
  ['MLFLEET_TEMPORAL_PORT', { TEMPORAL_ADDRESS: '' }, /address already in use/i],
] as const)('`mlfleet up` on a %s another process holds says so and names the setting', async (setting, services, reason) => {
  const held = await holdPort();
  try {
    const dataDir = mkdtempSync(join(testEnv().dataDir, 'port-taken-'));
    const env = { DATABASE_URL: testEnv().databaseUrl, ...services, [setting]: String(held.port) };
    const up = runMlfleet(['up', '--port', String(await freePort()), '--data-dir', dataDir], env);
    expect(await up.exited).toBe(1);
    const error = up.output().split('\n').find((line) => line.startsWith('mlfleet: '));
    expect(error).toMatch(new RegExp(`^mlfleet: port ${held.port} on 127\\.0\\.0\\.1 is already in use: `));
    expect(error).toMatch(reason);
    expect(error).toMatch(new RegExp(`; set ${setting}\\b.* to another port$`));
    expect(up.output()).not.toMatch(/Press Ctrl-C to stop/);
  } finally {
    await held.release();
  }
}, 120_000);
