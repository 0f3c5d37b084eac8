import { isTerminalStatus, type LaunchProgress } from '../domain/launch';
import { applyParamOverrides, parseParamAssignment } from '../domain/params';
import { type ApiRequestError, MlfleetApi } from './api-client';
import { loadPipelineFile } from './pipeline-file';
import { launchJson, progressChanges, renderRunTree } from './render';

export interface LaunchOptions {
  param: string[];
  wait: boolean;
  json: boolean;
  url: string;
}

/** Validates locally (nothing starts on a bad spec), then launches through the API. */
export async function launchCommand(file: string, opts: LaunchOptions): Promise<number> {
  const { spec, dir } = loadPipelineFile(file);
  const params = Object.fromEntries(opts.param.map(parseParamAssignment));
  applyParamOverrides(spec, params);
  const api = new MlfleetApi(opts.url);
  const launched = await api.createLaunch({ spec, params, code: { dir }, trigger: 'cli' });
  if (!opts.wait) {
    if (opts.json) console.log(JSON.stringify(launchJson(launched)));
    else console.log(`launched ${launched.launch_id} (run ${launched.run_id}); follow it with: mlfleet status ${launched.launch_id}`);
    return 0;
  }
  if (!opts.json) console.log(`launched ${launched.launch_id} (run ${launched.run_id}), waiting for ${launched.stages.length || ''} stages …`);
  const final = await waitForLaunch(api, launched.launch_id, opts.json ? () => undefined : (line) => console.log(line));
  console.log(opts.json ? JSON.stringify(launchJson(final)) : renderRunTree(final));
  return final.status === 'FINISHED' ? 0 : 1;
}

/** Polls until the launch ends, reporting each stage status change. */
export async function waitForLaunch(api: MlfleetApi, launchId: string, report: (line: string) => void, intervalMs = 1_000): Promise<LaunchProgress> {
  let previous: LaunchProgress | undefined;
  for (;;) {
    const current = await api.getLaunch(launchId).catch((err: ApiRequestError) => {
      // The worker may be busy for a moment; only give up on answers that will not change.
      if (err.status === 404 || err.status === 400) throw err;
      return previous;
    });
    if (current) {
      for (const line of progressChanges(previous, current)) report(line);
      if (isTerminalStatus(current.status)) return current;
      previous = current;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
