import type pg from 'pg';
import { upstreamOf } from '../../domain/dag';
import { inlineLaunchSpec, type LaunchInput, registeredPipelineSpec } from '../../domain/launch';
import { parsePipelineSpec, type PipelineSpec, SpecError } from '../../domain/pipeline-spec';
import { codeBundleUri } from '../../storage/code-bundle';
import type { ObjectStore } from '../../storage/object-store';
import { getPipelineVersion } from '../../store/pipelines';
import { findReusableOutputs } from '../../store/reuse';
import { MlflowError } from '../mlflow/errors';

export interface LaunchCheckDeps {
  pool: pg.Pool;
  store: ObjectStore;
  artifactRoot: string;
}

const invalid = (message: string): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', message);

/**
 * Everything the server can check about a launch input its route parsed, before anything starts
 * (for launches and for the launch a schedule stores): its param overrides and stage options, the
 * form of a code folder, and that a named code bundle and pipeline version exist. Any problem is a
 * 400. Answers the experiment the launch writes into (its spec's, or its registered pipeline's).
 */
export async function checkLaunchInput(deps: LaunchCheckDeps, input: LaunchInput): Promise<string> {
  let spec: PipelineSpec | undefined = parseOr400(() => inlineLaunchSpec(input));
  if (input.code && 'dir' in input.code && !input.code.dir.startsWith('/')) {
    throw invalid('code.dir: expected an absolute path the worker can read');
  }
  if (input.code && 'bundle' in input.code && !(await deps.store.exists(codeBundleUri(deps.artifactRoot, input.code.bundle)))) {
    throw invalid(`code.bundle: unknown code bundle '${input.code.bundle}'; upload it first (POST /api/v1/code-bundles)`);
  }
  if (input.pipeline) {
    const [name, version] = input.pipeline.split('@') as [string, string];
    const registered = await getPipelineVersion(deps.pool, name, Number(version));
    if (!registered) throw invalid(`pipeline: unknown pipeline version '${input.pipeline}'`);
    spec = parseOr400(() => registeredPipelineSpec(registered.spec, input));
  }
  // A re-execution needs every upstream result of the earlier launch, still stored: else nothing starts.
  if (spec && input.from !== undefined && input.reuse !== undefined) {
    const found = await findReusableOutputs(deps.pool, input.reuse, upstreamOf(spec, input.from), (uri) => deps.store.exists(uri));
    if (!found.ok) throw invalid(found.problem);
  }
  if (!spec) throw invalid('body: give exactly one of spec or pipeline');
  return spec.experiment;
}

function parseOr400<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SpecError) throw invalid(err.message);
    throw err;
  }
}

/** The experiment a checked launch input writes into: its spec's, or its registered pipeline's. */
export async function launchExperimentName(deps: LaunchCheckDeps, input: LaunchInput): Promise<string> {
  if (input.spec) return input.spec.experiment;
  const [name, version] = (input.pipeline ?? '').split('@') as [string, string];
  const registered = await getPipelineVersion(deps.pool, name, Number(version));
  if (!registered) throw invalid(`pipeline: unknown pipeline version '${input.pipeline ?? ''}'`);
  return parsePipelineSpec(registered.spec).experiment;
}
