import { join } from 'node:path';
import { projectRoot } from '../workers/project-root';
import { MlfleetApi } from './api-client';
import { uploadCode } from './code-upload';
import { waitForLaunch } from './launch';
import { loadPipelineFile } from './pipeline-file';
import { renderMetrics, renderRunTree } from './render';
import { bringUp, untilSignal } from './up';

export const DEMO_PIPELINE = join(projectRoot, 'examples', 'churn', 'pipeline.yaml');

/**
 * `npm run demo`: bring the embedded stack up, launch the example pipeline through the API,
 * follow it, print the run tree and where to look, and stop everything.
 */
export async function demoCommand(opts: { port?: number; dataDir?: string; keep: boolean }): Promise<number> {
  const log = (line: string): void => console.log(line);
  const stack = await bringUp(opts, log);
  try {
    const { spec, dir } = loadPipelineFile(DEMO_PIPELINE);
    const api = new MlfleetApi(stack.apiUrl);
    log(`\nlaunching ${DEMO_PIPELINE} (experiment '${spec.experiment}', ${Object.keys(spec.stages).length} stages) …`);
    const code = await uploadCode(api, dir);
    const launched = await api.createLaunch({ spec, code, trigger: 'cli' });
    log(`launch ${launched.launch_id} started; stage progress:`);
    const started = Date.now();
    const final = await waitForLaunch(api, launched.launch_id, log, 500);
    log(`\nrun tree (${((Date.now() - started) / 1000).toFixed(1)} s):`);
    log(renderRunTree(final));
    log('\nwhat the stages logged (MLflow metrics and tags; a cached stage shows the run it took from):');
    for (const stage of final.stages.filter((s) => s.run_id)) {
      // A stage that did not run logged nothing itself: show what the run it took from logged.
      const loggedBy = stage.cached_from ?? stage.reused_from ?? stage.run_id;
      const run = await api.getRunSummary(loggedBy);
      log(renderMetrics(stage.name, run.metrics, run.tags));
    }
    log('\nwhere to look:');
    log(`  launch         ${stack.apiUrl}/api/v1/launches/${final.launch_id}`);
    log(`  MLflow run     ${stack.apiUrl}/api/2.0/mlflow/runs/get?run_id=${final.run_id}`);
    if (stack.temporalUiUrl) log(`  Temporal UI    ${stack.temporalUiUrl}/namespaces/default/workflows/${encodeURIComponent(`launch/${final.launch_id}`)}`);
    if (opts.keep) {
      log('\n--keep: the stack stays up; Ctrl-C to stop.');
      await untilSignal();
    }
    return final.status === 'FINISHED' ? 0 : 1;
  } finally {
    log('\nstopping the stack …');
    await stack.stop();
  }
}
