import { join } from 'node:path';
import { leaseIdOf } from '../clouds/lease-id';
import type { LaunchProgress } from '../domain/launch';
import type { PipelineSpec } from '../domain/pipeline-spec';
import { CONTROL_PREFIX } from '../emulators/control';
import { startEmulators, type Emulators } from '../emulators/start';
import { projectRoot } from '../server/project-root';
import type { RunningStack } from '../server/stack';
import { stageWorkflowId } from '../workflows/ids';
import { MlfleetApi } from './api-client';
import { uploadCode } from './code-upload';
import { describeEmulators, emulatorsDirOf } from './emulators';
import { waitForLaunch } from './launch';
import { loadPipelineFile } from './pipeline-file';
import { renderMetrics, renderPlacements, renderRunTree } from './render';
import { untilSignal } from '../server/until-signal';
import { bringUp, dataDirOf } from './up';

export const DEMO_PIPELINE = join(projectRoot, 'examples', 'churn', 'pipeline.yaml');

/** Where the demo's stages run: on this machine, or placed across the three simulated clouds. */
export const DEMO_CLOUD_MODES = ['local', 'simulated'] as const;
export type DemoCloudMode = (typeof DEMO_CLOUD_MODES)[number];

export interface DemoOptions {
  port?: number;
  dataDir?: string;
  keep: boolean;
  clouds: DemoCloudMode;
}

// How often the demo looks for the VM to preempt: a GPU stage of the example runs for a few seconds.
const PREEMPTION_POLL_MS = 100;

/**
 * `npm run demo`: bring the embedded stack up, launch the example pipeline through the API,
 * follow it, print the run tree and where to look, and stop everything. With `--clouds simulated`
 * the stages are placed on the simulated clouds, one spot VM is preempted on the way, and the demo
 * shows where each stage ran, what it cost and why.
 */
export async function demoCommand(opts: DemoOptions): Promise<number> {
  const log = (line: string): void => console.log(line);
  const up = { port: opts.port, dataDir: opts.dataDir };
  if (opts.clouds === 'simulated') return simulatedDemo(up, opts.keep, log);
  const stack = await bringUp(up, log);
  try {
    return await runDemoLaunch(stack, opts.keep, log);
  } finally {
    log('\nstopping the stack …');
    await stack.stop();
  }
}

/** The demo on the simulated clouds, which start first and stop last, once no VM should be left on them. */
async function simulatedDemo(up: { port?: number; dataDir?: string }, keep: boolean, log: (line: string) => void): Promise<number> {
  const dir = emulatorsDirOf(dataDirOf(up));
  log(`starting the simulated clouds (state in ${dir}) …`);
  const emulators = await startEmulators(dir);
  try {
    for (const line of describeEmulators(emulators)) log(line);
    let code: number;
    const stack = await bringUp({ ...up, clouds: emulators.config }, log);
    try {
      code = await runDemoLaunch(stack, keep, log, emulators);
    } finally {
      log('\nstopping the stack …');
      await stack.stop();
    }
    const left = await emulators.liveVms();
    log(`VMs left on the simulated clouds: ${left.length}${left.map((vm) => `\n  ${vm.cloud}/${vm.region} ${vm.name} (${vm.id})`).join('')}`);
    return left.length === 0 ? code : 1;
  } finally {
    log('stopping the simulated clouds …');
    await emulators.stop();
  }
}

async function runDemoLaunch(stack: RunningStack, keep: boolean, log: (line: string) => void, emulators?: Emulators): Promise<number> {
  const { spec, dir } = loadPipelineFile(DEMO_PIPELINE);
  const api = new MlfleetApi(stack.apiUrl);
  log(`\nlaunching ${DEMO_PIPELINE} (experiment '${spec.experiment}', ${Object.keys(spec.stages).length} stages) …`);
  const code = await uploadCode(api, dir);
  const launched = await api.createLaunch({ spec, code, trigger: 'cli' });
  log(`launch ${launched.launch_id} started; stage progress:`);
  const started = Date.now();
  const launchEnded = new AbortController();
  // Never rejects: a watcher that fails says so and the launch goes on unpreempted.
  const preemption = emulators
    ? preemptFirstSpotGpuVm(emulators, launched.launch_id, spec, launchEnded.signal, log).catch((err: unknown) => log(`  >>> the preemption watcher failed: ${(err as Error).message}`))
    : Promise.resolve();
  let final: LaunchProgress;
  try {
    final = await waitForLaunch(api, launched.launch_id, log, 500);
  } finally {
    launchEnded.abort();
    await preemption;
  }
  log(`\nrun tree (${((Date.now() - started) / 1000).toFixed(1)} s):`);
  log(renderRunTree(final));
  log('\nwhat the stages logged (MLflow metrics and tags; a cached stage shows the run it took from):');
  for (const stage of final.stages.filter((s) => s.run_id)) {
    // A stage that did not run logged nothing itself: show what the run it took from logged.
    const loggedBy = stage.cached_from ?? stage.reused_from ?? stage.run_id;
    const run = await api.getRunSummary(loggedBy);
    log(renderMetrics(stage.name, run.metrics, run.tags));
  }
  if (emulators) await reportPlacements(api, final, log);
  log('\nwhere to look:');
  log(`  launch         ${stack.apiUrl}/api/v1/launches/${final.launch_id}`);
  log(`  MLflow run     ${stack.apiUrl}/api/2.0/mlflow/runs/get?run_id=${final.run_id}`);
  if (stack.temporalUiUrl) log(`  Temporal UI    ${stack.temporalUiUrl}/namespaces/default/workflows/${encodeURIComponent(`launch/${final.launch_id}`)}`);
  if (keep) {
    log('\n--keep: the stack stays up; Ctrl-C to stop.');
    await untilSignal();
  }
  return final.status === 'FINISHED' ? 0 : 1;
}

/**
 * Preempts, once, the first spot VM of a GPU stage seen live, through its cloud's control API, as
 * the cloud would reclaim it; the stage's workflow then places it elsewhere. Only spot VMs: an
 * on-demand VM that vanishes is a lost VM, which fails its stage, not a preemption.
 */
async function preemptFirstSpotGpuVm(emulators: Emulators, launchId: string, spec: PipelineSpec, launchEnded: AbortSignal, log: (line: string) => void): Promise<void> {
  const stages = Object.entries(spec.stages)
    .filter(([, stage]) => stage.resources?.gpu)
    .map(([name]) => name);
  // Without faults injected a stage's first VM is its first placement attempt's, named after its lease.
  const stageOfVm = new Map(stages.map((stage) => [leaseIdOf(stageWorkflowId(launchId, stage), 1), stage]));
  while (!launchEnded.aborted) {
    const vm = (await emulators.liveVms()).find((live) => stageOfVm.has(live.name));
    if (vm) {
      const stage = stageOfVm.get(vm.name)!;
      // Looked at once: whether it is spot (placement may pick either market) or gone, it stays as it is.
      stageOfVm.delete(vm.name);
      const control = emulators.controls[vm.cloud];
      const where = `${vm.cloud}/${vm.region}${vm.zone ? `/${vm.zone}` : ''}`;
      if (vm.spot) {
        try {
          await control.preempt({ id: vm.id });
          log(`  >>> preempted ${stage}'s spot VM ${vm.name} on ${where} through POST ${control.baseUrl}${CONTROL_PREFIX}/preempt; the stage will be placed elsewhere`);
          return;
        } catch (err) {
          // The stage may have finished between the listing and the preemption: look for another.
          log(`  >>> could not preempt ${vm.name} on ${where}: ${(err as Error).message}`);
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, PREEMPTION_POLL_MS));
  }
  log(`  >>> no spot VM of a GPU stage (${stages.join(', ') || 'none in the pipeline'}) was live during the launch: nothing was preempted`);
}

/** Where each stage ran, what it cost and why, from the stage runs' and the launch run's tags and metrics. */
async function reportPlacements(api: MlfleetApi, final: LaunchProgress, log: (line: string) => void): Promise<void> {
  // The launch API has no attempts: the `mlfleet.*` tags and metrics of the runs say everything shown.
  const stages = await Promise.all(final.stages.filter((s) => s.run_id).map(async (stage) => ({ stage, run: await api.getRunSummary(stage.run_id) })));
  log('\nwhere each stage ran, what it cost and why (the mlfleet.* tags and metrics of its run):');
  log(renderPlacements(stages, await api.getRunSummary(final.run_id)));
  if (stages.length > 0 && stages.every(({ stage }) => stage.source === 'cached')) {
    log('every stage was cached from an earlier launch on this data folder: nothing was placed and no VM started; another --data-dir places it afresh');
  }
}
