import { isTerminalStatus, type LaunchInput, type LaunchProgress, launchSpec, PipelineRef } from '../domain/launch';
import { parseParamAssignment } from '../domain/params';
import { type ApiRequestError, MlfleetApi } from './api-client';
import { uploadCode } from './code-upload';
import { loadPipelineFile } from './pipeline-file';
import { launchJson, progressChanges, renderRunTree } from './render';

export interface LaunchOptions {
  param: string[];
  wait: boolean;
  json: boolean;
  url: string;
  /** A registered version, `name@version`, instead of a file. */
  pipeline?: string;
  /** commander's negation of --no-cache: false when it was given. */
  cache: boolean;
  refresh: string[];
  from?: string;
  reuse?: string;
}

/** The memo and re-execution options of a launch request, set only where the user gave them. */
const cacheOptions = (opts: LaunchOptions): Pick<LaunchInput, 'no_cache' | 'refresh' | 'from' | 'reuse'> => ({
  ...(opts.cache === false && { no_cache: true }),
  ...(opts.refresh.length > 0 && { refresh: opts.refresh }),
  ...(opts.from !== undefined && { from: opts.from }),
  ...(opts.reuse !== undefined && { reuse: opts.reuse }),
});

/**
 * Validates locally (nothing starts on a bad spec or bad params), uploads the pipeline folder as a
 * code bundle, then launches through the API; or launches a registered version (`--pipeline`).
 */
export async function launchCommand(file: string | undefined, opts: LaunchOptions): Promise<number> {
  if ((file === undefined) === (opts.pipeline === undefined)) {
    console.error('mlfleet launch: give either a pipeline FILE or --pipeline NAME@VERSION (exactly one)');
    return 2;
  }
  const params = Object.fromEntries(opts.param.map(parseParamAssignment));
  const api = new MlfleetApi(opts.url);
  let launched: LaunchProgress;
  if (file !== undefined) {
    const { spec, dir } = loadPipelineFile(file);
    // Overrides and stage options are checked here, as the launch will apply them, before the upload.
    launchSpec(spec, { params, ...cacheOptions(opts) });
    const code = await uploadCode(api, dir);
    launched = await api.createLaunch({ spec, params, code, trigger: 'cli', ...cacheOptions(opts) });
  } else {
    const ref = PipelineRef.safeParse(opts.pipeline);
    if (!ref.success) {
      console.error(`mlfleet launch: --pipeline '${opts.pipeline}': ${ref.error.issues[0]?.message ?? 'invalid'}`);
      return 2;
    }
    // The registered spec checks the overrides here, as a file's would, before anything starts.
    const at = ref.data.lastIndexOf('@');
    const registered = await api.getPipelineVersion(ref.data.slice(0, at), Number(ref.data.slice(at + 1)));
    launchSpec(registered.spec, { params, ...cacheOptions(opts) });
    launched = await api.createLaunch({ pipeline: ref.data, params, trigger: 'cli', ...cacheOptions(opts) });
  }
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
