import type { CacheKeyMaterial } from './cache-key';
import { descendants, topologicalOrder } from './dag';
import { copiesInput, type InputSpec, inputValue, parseInputRef } from './input-ref';
import type { LaunchInput, LaunchTrigger } from './launch';
import type { PipelineSpec } from './pipeline-spec';

// How a launch treats each of its stages, as pure functions of its spec and options: the launch
// workflow and the activity that opens a launch both plan with them. Only types come from the zod
// modules, so the workflow bundle evaluates no schema on a launch's way.

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
export function cachePolicies(spec: PipelineSpec, options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'>): (stage: string) => StageCachePolicy {
  const rerun = new Set([...(options.refresh ?? []), ...(options.from !== undefined ? descendants(spec, options.from) : [])]);
  return (stage) => {
    if (spec.stages[stage]?.cache?.enabled === false) return { lookup: false, register: 'never' };
    return options.no_cache === true || rerun.has(stage) ? { lookup: false, register: 'replace' } : { lookup: true, register: 'first' };
  };
}

/** The stage's cache key material, less its inputs' digests (known once its inputs are). */
export function stageMaterial(spec: PipelineSpec, stage: string, code: LaunchCode): Omit<CacheKeyMaterial, 'inputs'> {
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
export function plannedInputs(inputs: Record<string, InputSpec>): Record<string, PlannedInputRef> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, spec]): [string, PlannedInputRef] => {
      const ref = parseInputRef(inputValue(spec));
      if (ref?.kind === 'upstream') return [name, { stage: ref.stage, output: ref.output }];
      return [name, { uri: inputValue(spec), ...(copiesInput(spec) ? { copy: true } : {}) }];
    }),
  );
}

/** What settling a stage needs to know of it: its run, whether it may take a memoized result, its key's parts. */
export interface StagePlan {
  name: string;
  runId: string;
  lookup: boolean;
  inputs: Record<string, PlannedInputRef>;
  material: Omit<CacheKeyMaterial, 'inputs'>;
}

/** Every stage of a launch in DAG order, as settling it sees it. */
export function stagePlans(
  spec: PipelineSpec,
  options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'>,
  code: LaunchCode,
  runIds: Record<string, string>,
): StagePlan[] {
  const policy = cachePolicies(spec, options);
  return topologicalOrder(spec).map((name) => ({
    name,
    runId: runIds[name]!,
    lookup: policy(name).lookup,
    inputs: plannedInputs(spec.stages[name]!.inputs ?? {}),
    material: stageMaterial(spec, name, code),
  }));
}

/** True when some stage reads data at a URI, which is pinned (and may take long) before the stage can settle. */
export function readsData(spec: PipelineSpec): boolean {
  return Object.values(spec.stages).some((stage) => Object.values(plannedInputs(stage.inputs ?? {})).some((ref) => 'uri' in ref));
}
