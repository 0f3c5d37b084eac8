import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { bundledCatalog } from '../../clouds/pricing/catalog';
import { StageAttemptList, type LaunchInput, type LaunchProgress } from '../../domain/launch';
import { renderAttempts } from '../../cli/render-attempts';
import { rankOffers } from '../../domain/placement';
import type { VmCloud } from '../../domain/clouds';
import type { Resources } from '../../domain/pipeline-spec';
import { startEmulators, type Emulators } from '../../emulators/start';
import { listStageAttempts } from '../../store/launches';
import { getRun } from '../../store/run-reads';
import { listStageLeases } from '../../store/vm-leases';
import { createCloudDeps } from '../../server/cloud-drivers';
import { ensureReaperSchedule, reaperScheduleId, workflowLivenessOf } from '../../client/maintenance-schedules';
import { stageWorkflowId } from '../../workflows/ids';
import { launch, uniqueId } from '../helpers/launches';
import { testEnv } from '../helpers/services';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Placement on the three simulated clouds, through the real SDKs against the local
// endpoints: failover on capacity errors, re-placement after a preemption with both attempts
// billed, no VM left by a cancelled launch, and the reaper taking what a terminated stage left.

let ctx: WorkflowTestContext;
let emulators: Emulators;
let apiUrl: string;
const workerProcesses: ChildProcess[] = [];
const taskQueue = uniqueId('placement');
// Short enough for the reaper test; the others never let a lease expire.
const REAPER_INTERVAL_S = 2;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  emulators = await startEmulators(join(ctx.dataDir, 'emulators'));
  apiUrl = await ctx.startApi(taskQueue);
  const clouds = createCloudDeps(emulators.config, { agentUrl: `${apiUrl}/api/v1/agent.js`, workflowLiveness: workflowLivenessOf(ctx.client) });
  await ctx.runWorker(taskQueue, { clouds });
}, 120_000);

afterEach(async () => {
  // Every cloud test ends with no VM alive on any simulated cloud.
  expect(await emulators.liveVms()).toEqual([]);
  for (const control of Object.values(emulators.controls)) await control.reset();
});

afterAll(async () => {
  for (const worker of workerProcesses) if (worker.exitCode === null) worker.kill('SIGKILL');
  for (const queue of [taskQueue, crashQueue]) {
    await ctx.client.schedule
      .getHandle(reaperScheduleId(queue))
      .delete()
      .catch(() => undefined);
  }
  await ctx.close();
  await emulators.stop();
});

const gpuStage = (command: string, resources: Resources) => ({ command, resources, cache: { enabled: false } });

const input = (stages: Record<string, ReturnType<typeof gpuStage>>): LaunchInput => ({ spec: { experiment: uniqueId('placed'), stages }, trigger: 'cli' });

/** The stage's run tags and metrics, as MLflow clients see them. */
async function stageRun(progress: LaunchProgress, stage: string) {
  const runId = progress.stages.find((s) => s.name === stage)!.run_id;
  const run = (await getRun(ctx.pool, runId))!;
  const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
  const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
  return { tags, metrics };
}

test('capacity errors on the two cheapest offers, on two clouds, move the stage to the third', async () => {
  const resources: Resources = { gpu: { type: 'T4', count: 1 }, regions: ['eastus', 'us-east-2', 'europe-west4'] };
  const ranked = rankOffers(bundledCatalog().offers, { resources, inputs: [] });
  const [first, second, third] = ranked.map((r) => r.offer);
  // The scenario needs the three cheapest offers on three different clouds.
  expect(new Set([first!.cloud, second!.cloud, third!.cloud]).size).toBe(3);
  for (const offer of [first!, second!]) {
    await emulators.controls[offer.cloud as VmCloud].injectFault({
      kind: 'capacity',
      region: offer.region,
      ...(offer.zone ? { zone: offer.zone } : {}),
      instance_type: offer.instance_type,
    });
  }
  const { handle } = await launch(ctx.client, taskQueue, input({ train: gpuStage('echo trained on $MLFLEET_VM_NAME', resources) }));
  const progress = await handle.result();
  expect(progress.status).toBe('FINISHED');
  const { tags } = await stageRun(progress, 'train');
  expect([tags['mlfleet.cloud'], tags['mlfleet.region'], tags['mlfleet.instance_type']]).toEqual([third!.cloud, third!.region, third!.instance_type]);
  expect(tags['mlfleet.failovers']).toContain(first!.instance_type);
  const attempts = await listStageAttempts(ctx.pool, progress.launch_id, 'train');
  expect(attempts.map((a) => [a.placement?.cloud, a.status])).toEqual([
    [first!.cloud, 'FAILED'],
    [second!.cloud, 'FAILED'],
    [third!.cloud, 'FINISHED'],
  ]);
  const leases = await listStageLeases(ctx.pool, progress.launch_id, 'train');
  expect(leases.map((l) => l.state)).toEqual(['released', 'released', 'released']);
  expect(leases.slice(0, 2).map((l) => l.costUsd)).toEqual([0, 0]);
});

test('a preemption mid-stage re-places it in another region, and the cost sums both attempts', async () => {
  // Spot only: a preemption closes the region's spot market, so the stage must move region.
  const resources: Resources = { gpu: { type: 'T4', count: 1 }, spot: true };
  const { handle, launchId } = await launch(ctx.client, taskQueue, input({ train: gpuStage('sleep 3', resources) }));
  const firstVm = await eventually(async () => (await emulators.liveVms())[0], 60_000, 'the first VM');
  await emulators.controls[firstVm.cloud].preempt({ id: firstVm.id });
  const progress = await handle.result();
  expect(progress.status).toBe('FINISHED');
  const leases = await listStageLeases(ctx.pool, launchId, 'train');
  expect(leases).toHaveLength(2);
  expect(leases[0]!.preempted).toBe(true);
  expect(leases[0]!.region).toBe(firstVm.region);
  expect(leases[1]!.region).not.toBe(firstVm.region);
  expect(leases.every((l) => l.costUsd > 0)).toBe(true);
  const total = leases[0]!.costUsd + leases[1]!.costUsd;
  const { metrics, tags } = await stageRun(progress, 'train');
  expect(metrics['mlfleet.cost_usd']).toBeCloseTo(total, 12);
  expect(metrics['mlfleet.preemptions']).toBe(1);
  expect(tags['mlfleet.failovers']).toContain('preempted');
  const launchRun = (await getRun(ctx.pool, progress.run_id))!;
  expect(launchRun.data.metrics.find((m) => m.key === 'mlfleet.cost_usd')?.value).toBeCloseTo(total, 12);
  const attempts = await listStageAttempts(ctx.pool, launchId, 'train');
  expect(attempts.map((a) => a.status)).toEqual(['PREEMPTED', 'FINISHED']);
  // The API and `mlfleet status` show both attempts, where they ran and what each cost.
  const listed = StageAttemptList.parse(await (await fetch(`${apiUrl}/api/v1/launches/${launchId}/attempts`)).json());
  expect(listed.attempts.map((a) => [a.status, a.region, a.cost_usd])).toEqual(leases.map((l, i) => [i === 0 ? 'PREEMPTED' : 'FINISHED', l.region, l.costUsd]));
  const table = renderAttempts(listed);
  expect(table).toContain('PREEMPTED');
  expect(table).toContain(`total cost $${total.toFixed(6)} over 2 attempts`);
  expect((await fetch(`${apiUrl}/api/v1/launches/no-such-launch/attempts`)).status).toBe(404);
});

test('a cancelled launch leaves no VM', async () => {
  const { handle, launchId } = await launch(ctx.client, taskQueue, input({ train: gpuStage('sleep 120', { gpu: { type: 'T4', count: 1 } }) }));
  await eventually(async () => (await emulators.liveVms())[0], 60_000, 'the VM');
  await handle.cancel();
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  expect(await emulators.liveVms()).toEqual([]);
  const leases = await listStageLeases(ctx.pool, launchId, 'train');
  expect(leases.map((l) => [l.state, l.endReason])).toEqual([['released', 'killed']]);
});

test("the reaper removes a terminated stage's VM within its interval", async () => {
  await ensureReaperSchedule(ctx.client, taskQueue, REAPER_INTERVAL_S);
  const { handle, launchId } = await launch(ctx.client, taskQueue, input({ train: gpuStage('sleep 120', { gpu: { type: 'T4', count: 1 } }) }));
  const vm = await eventually(async () => (await emulators.liveVms())[0], 60_000, 'the VM');
  // Terminating skips every `finally`: only the reaper can take this VM now.
  await ctx.client.workflow.getHandle(stageWorkflowId(launchId, 'train')).terminate('test: a stage killed without teardown');
  const terminatedAt = Date.now();
  await eventually(async () => ((await emulators.liveVms()).length === 0 ? true : undefined), 30_000, 'the reaper to take the VM');
  expect(Date.now() - terminatedAt).toBeLessThan((REAPER_INTERVAL_S + 10) * 1000);
  // The reaper releases the lease right after the VM is gone.
  const lease = await eventually(async () => (await listStageLeases(ctx.pool, launchId, 'train')).find((l) => l.state === 'released'), 10_000, 'the lease released');
  expect(lease.leaseId).toBe(vm.name);
  expect(lease.endReason).toMatch(/^reaped: owner workflow closed/);
  await handle.result().catch(() => undefined);
});

const crashQueue = uniqueId('placement-crash');

/** `mlfleet worker` as its own process on the simulated clouds, so it can be SIGKILLed for real. */
function startWorkerProcess(): ChildProcess {
  const env = testEnv();
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'mlfleet.cjs'), 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      TEMPORAL_ADDRESS: env.temporalAddress,
      MLFLEET_TASK_QUEUE: crashQueue,
      MLFLEET_DATA_DIR: ctx.dataDir,
      MLFLEET_ARTIFACT_ROOT: ctx.artifactRoot,
      MLFLEET_PUBLIC_URL: apiUrl,
      MLFLEET_CLOUDS_CONFIG: emulators.configFile,
    },
    stdio: 'ignore',
  });
  workerProcesses.push(child);
  return child;
}

test('a worker SIGKILLed while it provisions leaves no duplicate VM: the retry adopts the one it created', async () => {
  const first = startWorkerProcess();
  const { handle, launchId } = await launch(ctx.client, crashQueue, input({ train: gpuStage('sleep 2', { gpu: { type: 'T4', count: 1 }, clouds: ['aws'] }) }));
  // The lease row is written just before the create call: kill the worker the moment it appears.
  const [lease] = await eventually(async () => {
    const leases = await listStageLeases(ctx.pool, launchId, 'train');
    return leases.length > 0 ? leases : undefined;
  }, 90_000, 'the lease');
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  startWorkerProcess();
  const progress = await handle.result();
  expect(progress.status).toBe('FINISHED');
  // One lease, and exactly one VM ever created under its name, however often the create ran.
  expect((await listStageLeases(ctx.pool, launchId, 'train')).map((l) => l.leaseId)).toEqual([lease!.leaseId]);
  expect((await emulators.controls.aws.vms()).filter((vm) => vm.name === lease!.leaseId)).toHaveLength(1);
}, 150_000);
