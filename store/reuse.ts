import { getLaunch } from './launches';
import type { Queryable } from './pool';

/** A stage's recorded result: what a downstream stage, a memo hit or a re-execution reads. */
export interface StageOutputs {
  runId: string;
  outputs: Record<string, string>;
  outputDigests: Record<string, string>;
}

/**
 * The results of `stages` in launch `launchId`, for a launch that re-executes from a later stage:
 * each must have finished with every output still stored (`exists`). Returns why not otherwise,
 * so the API (a 400) and the workflow (a failed launch, nothing started) say the same.
 */
export async function findReusableOutputs(
  db: Queryable,
  launchId: string,
  stages: readonly string[],
  exists: (uri: string) => Promise<boolean>,
): Promise<{ ok: true; stages: Record<string, StageOutputs> } | { ok: false; problem: string }> {
  const launch = await getLaunch(db, launchId);
  if (!launch) return { ok: false, problem: `reuse: unknown launch '${launchId}'` };
  const found: Record<string, StageOutputs> = {};
  for (const stage of stages) {
    const run = launch.stages.find((s) => s.stage === stage);
    if (!run || run.status !== 'FINISHED') return { ok: false, problem: `reuse: stage '${stage}' did not finish in launch ${launchId}` };
    for (const [name, uri] of Object.entries(run.outputs)) {
      if (!(await exists(uri))) return { ok: false, problem: `reuse: output '${name}' of stage '${stage}' of launch ${launchId} is no longer stored (${uri})` };
    }
    found[stage] = { runId: run.runId, outputs: run.outputs, outputDigests: run.outputDigests };
  }
  return { ok: true, stages: found };
}
