import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LaunchInput, LaunchProgress } from '../../domain/launch';
import { listChildRuns, getRun } from '../../store/run-reads';
import { launchWorkflowId } from '../../workflows/ids';
import { findTemporalCli } from '../../server/temporal-dev-server';
import { launch, makeCodeDir, uniqueId } from '../helpers/launches';
import { testEnv } from '../helpers/services';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

const execFileAsync = promisify(execFile);
let ctx: WorkflowTestContext;
const taskQueue = uniqueId('temporal-cli');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
});

afterAll(async () => {
  await ctx.close();
});

/** The real `temporal` binary, as an operator would run it. */
async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(findTemporalCli(), [...args, '--address', testEnv().temporalAddress], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** The shape of a launch's run tree, without the ids that differ between two launches. */
async function runTree(progress: LaunchProgress) {
  const parent = await getRun(ctx.pool, progress.run_id);
  const children = await listChildRuns(ctx.pool, progress.run_id);
  const tag = (tags: { key: string; value: string }[], key: string) => tags.find((t) => t.key === key)?.value;
  return {
    status: parent?.info.status,
    experiment: parent?.info.experiment_id,
    codeDigest: tag(parent?.data.tags ?? [], 'mlfleet.code_digest'),
    stages: children
      .map((c) => ({
        name: c.info.run_name,
        status: c.info.status,
        params: c.data.params,
        parent: tag(c.data.tags, 'mlflow.parentRunId') === progress.run_id,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

test('`temporal workflow start` with the REST body as input lands the same run tree as a CLI launch, findable by search attribute', async () => {
  const experiment = uniqueId('tcli');
  const input: LaunchInput = {
    spec: {
      experiment,
      stages: {
        make: { command: 'printf ${params.n} > ${outputs.n}', outputs: { n: 'n.txt' }, params: { n: 7 } },
        check: { command: 'test "$(cat ${inputs.n})" = 7', inputs: { n: 'stages.make.outputs.n' } },
      },
    },
    code: { dir: makeCodeDir(ctx.dataDir) },
  };
  const launchId = uniqueId('tcli');
  await temporal('workflow', 'start', '--type', 'launchExperiment', '--task-queue', taskQueue, '--workflow-id', launchWorkflowId(launchId), '--input', JSON.stringify(input));
  const fromTemporal = await ctx.client.workflow.getHandle(launchWorkflowId(launchId)).result() as LaunchProgress;

  const cliLaunch = await launch(ctx.client, taskQueue, { ...input, trigger: 'cli' });
  const fromCli = await cliLaunch.handle.result();
  // What the Temporal UI shows: a summary line and the stage table as current details.
  expect(await (await cliLaunch.handle.describe()).staticSummary()).toBe(`${experiment} launch (cli)`);
  const metadata = await cliLaunch.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails?.split('\n')).toEqual([
    `**${experiment}** launch \`${fromCli.launch_id}\` — FINISHED`,
    '',
    '| stage | status | error |',
    '|---|---|---|',
    '| make | FINISHED |  |',
    '| check | FINISHED |  |',
  ]);

  expect(fromTemporal.status).toBe('FINISHED');
  expect(await runTree(fromTemporal)).toEqual(await runTree(fromCli));
  const triggers = await ctx.pool.query<{ value: string }>(
    "SELECT value FROM tags WHERE key = 'mlfleet.trigger' AND run_uuid = ANY($1) ORDER BY value",
    [[fromTemporal.run_id, fromCli.run_id]],
  );
  expect(triggers.rows.map((r) => r.value)).toEqual(['cli', 'temporal']);

  const listed = await eventually(async () => {
    const rows = JSON.parse(
      `[${(await temporal('workflow', 'list', '--query', `MlfleetExperiment='${experiment}' AND WorkflowType='launchExperiment'`, '--output', 'jsonl')).trim().split('\n').filter(Boolean).join(',')}]`,
    ) as { execution: { workflowId: string } }[];
    return rows.length === 2 ? rows.map((r) => r.execution.workflowId).sort() : undefined;
  }, 20_000, 'visibility to list both launches');
  expect(listed).toEqual([launchWorkflowId(fromCli.launch_id), launchWorkflowId(launchId)].sort());

  const stages = await temporal('workflow', 'list', '--query', `MlfleetLaunch='${launchId}' AND MlfleetStage='check'`, '--output', 'jsonl');
  expect(stages).toContain(`${launchWorkflowId(launchId)}/stage/check`);
});
