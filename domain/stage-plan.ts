import type { CacheKeyMaterial } from './cache-key';
import { descendants, stageDependencies, topologicalOrder } from './dag';
import { copiesInput, type InputSpec, inputValue, parseInputRef } from './input-ref';
import type { LaunchInput, LaunchTrigger } from './launch';
import type { PipelineSpec, Resources } from './pipeline-spec';

// How a launch treats each of its stages, as pure functions of its spec and options: the activity
// that opens a launch plans its stages once with them, and the launch workflow runs that plan as
// it is. Only types come from the zod modules, so this module stays free of schemas.

/** Who started a launch: as its input says, else Temporal itself (the Temporal CLI or UI names no trigger). */
export const launchTriggerOf = (options: Pick<LaunchInput, 'trigger'>): LaunchTrigger => options.trigger ?? 'temporal';

/**
 * How a stage uses the memo: `lookup` takes an earlier result with the same key instead of running;
 * `register` records this run's result for later launches (`replace` swaps out an existing one,
 * as --refresh, --no-cache and re-executions do; `never` for a stage with `cache: {enabled: false}`).
 */
export interface StageCachePolicy {
  lookup: boolean;
  register: 'never' | 'first' | 'replace';
}

/** A stage input as the launch plans it: another stage's output, or a data URI. */
export type PlannedInputRef = { stage: string; output: string } | { uri: string; copy?: boolean };

/** The code digests a prepared launch found: the bundle's, and each narrowed stage's (`code:` paths). */
export interface LaunchCode {
  codeDigest?: string;
  stageCodeDigests?: Record<string, string>;
}

/** --no-cache, --refresh and a re-execution's `from` stage and its descendants run and replace what is memoized. */
function cachePolicies(spec: PipelineSpec, options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'>): (stage: string) => StageCachePolicy {
  const rerun = new Set([...(options.refresh ?? []), ...(options.from !== undefined ? descendants(spec, options.from) : [])]);
  return (stage) => {
    if (spec.stages[stage]?.cache?.enabled === false) return { lookup: false, register: 'never' };
    return options.no_cache === true || rerun.has(stage) ? { lookup: false, register: 'replace' } : { lookup: true, register: 'first' };
  };
}

/** The stage's cache key material, less its inputs' digests (known once its inputs are). */
function stageMaterial(spec: PipelineSpec, stage: string, code: LaunchCode): Omit<CacheKeyMaterial, 'inputs'> {
  const declared = spec.stages[stage]!;
  const codeDigest = code.stageCodeDigests?.[stage] ?? code.codeDigest;
  return {
    command: declared.command,
    ...(declared.image !== undefined ? { image: declared.image } : {}),
    ...(codeDigest !== undefined ? { code: codeDigest } : {}),
    params: declared.params ?? {},
    env: declared.env ?? {},
    ...(declared.cache?.version !== undefined ? { version: declared.cache.version } : {}),
  };
}

/** A stage's inputs as upstream references or data URIs, for planning before anything ran. */
function plannedInputs(inputs: Record<string, InputSpec>): Record<string, PlannedInputRef> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, spec]): [string, PlannedInputRef] => {
      const ref = parseInputRef(inputValue(spec));
      if (ref?.kind === 'upstream') return [name, { stage: ref.stage, output: ref.output }];
      return [name, { uri: inputValue(spec), ...(copiesInput(spec) ? { copy: true } : {}) }];
    }),
  );
}

/**
 * One stage of a launch, planned: its run, how it uses the memo, and everything settling or
 * running it needs. What it runs (command, params, env) is read from its key's material, so a
 * stage can only ever run what its cache key describes.
 */
export interface StagePlan extends StageCachePolicy {
  name: string;
  runId: string;
  /** The stages whose outputs it reads, in the order its inputs name them: it starts once they have finished. */
  upstream: string[];
  inputs: Record<string, PlannedInputRef>;
  /** Output name → path relative to its working directory. */
  outputs: Record<string, string>;
  /** What its cache key is made of, less its inputs' digests (known once they are pinned). */
  material: Omit<CacheKeyMaterial, 'inputs'>;
  /** What it needs from a machine, for placement. */
  resources: Resources;
}

/** Every stage of a launch in DAG order, planned with its launch's spec (overrides applied), options, code and run ids. */
export function stagePlans(
  spec: PipelineSpec,
  options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'>,
  code: LaunchCode,
  runIds: Record<string, string>,
): StagePlan[] {
  const policy = cachePolicies(spec, options);
  const upstream = stageDependencies(spec);
  return topologicalOrder(spec).map((name) => {
    const stage = spec.stages[name]!;
    return {
      name,
      runId: runIds[name]!,
      ...policy(name),
      upstream: upstream[name] ?? [],
      inputs: plannedInputs(stage.inputs ?? {}),
      outputs: stage.outputs ?? {},
      material: stageMaterial(spec, name, code),
      resources: stage.resources ?? {},
    };
  });
}

/** True when some stage reads data at a URI, which is pinned (and may take long) before the stage can settle. */
export function readsData(spec: PipelineSpec): boolean {
  return Object.values(spec.stages).some((stage) => Object.values(stage.inputs ?? {}).some((input) => parseInputRef(inputValue(input))?.kind !== 'upstream'));
}
