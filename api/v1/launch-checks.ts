import type pg from 'pg';
import { type LaunchInput, type RegisteredVersion, type ResolvedLaunch, resolveLaunch, reuseOf } from '../../domain/launch';
import { SpecError } from '../../domain/pipeline-spec';
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
 * (for launches and for the launch a schedule stores): the form of a code folder, that a named code
 * bundle exists, and what the launch's opening will resolve (its pipeline version, param
 * overrides, stage options and a re-execution's earlier results), resolved as the opening does.
 * Any problem is a 400. Answers the experiment the launch writes into.
 */
export async function checkLaunchInput(deps: LaunchCheckDeps, input: LaunchInput): Promise<string> {
  if (input.code && 'dir' in input.code && !input.code.dir.startsWith('/')) {
    throw invalid('code.dir: expected an absolute path the worker can read');
  }
  if (input.code && 'bundle' in input.code && !(await deps.store.exists(codeBundleUri(deps.artifactRoot, input.code.bundle)))) {
    throw invalid(`code.bundle: unknown code bundle '${input.code.bundle}'; upload it first (POST /api/v1/code-bundles)`);
  }
  const { spec } = await resolved(deps, input);
  // A re-execution needs every upstream result of the earlier launch, still stored: else nothing starts.
  const reuse = reuseOf(spec, input);
  if (reuse) {
    const found = await findReusableOutputs(deps.pool, reuse.launchId, reuse.stages, (uri) => deps.store.exists(uri));
    if (!found.ok) throw invalid(found.problem);
  }
  return spec.experiment;
}

/** The experiment a checked launch input writes into: its spec's, or its registered pipeline's. */
export async function launchExperimentName(deps: LaunchCheckDeps, input: LaunchInput): Promise<string> {
  return (await resolved(deps, input)).spec.experiment;
}

/** What the input launches, resolved as the launch's opening resolves it; a problem is a 400. */
async function resolved(deps: LaunchCheckDeps, input: LaunchInput): Promise<ResolvedLaunch> {
  try {
    return await resolveLaunch(input, (ref) => registeredVersion(deps, ref));
  } catch (err) {
    if (err instanceof SpecError) throw invalid(err.message);
    throw err;
  }
}

/** The registered version a PipelineRef (already checked) names. */
async function registeredVersion(deps: LaunchCheckDeps, ref: string): Promise<RegisteredVersion> {
  const at = ref.lastIndexOf('@');
  const registered = await getPipelineVersion(deps.pool, ref.slice(0, at), Number(ref.slice(at + 1)));
  if (!registered) throw invalid(`pipeline: unknown pipeline version '${ref}'`);
  return registered;
}
