import { ApplicationFailure } from '@temporalio/activity';
import type { AgentInput } from '../domain/agent-job';
import { CacheKeyMaterial } from '../domain/cache-key';
import { canonicalJson } from '../domain/canonical-json';
import type { StagePlan } from '../domain/stage-plan';
import { dropMemo, findMemo, findMemoCandidates, type MemoEntry, registerMemo } from '../store/memo';
import { setTags } from '../store/run-writes';
import { recordSettledStages, type SettledStageRecord } from '../store/settled-stages';
import { findReusableOutputs, type StageOutputs } from '../store/reuse';
import { digestOf } from '../storage/digest';
import type { ActivityDeps } from './deps';
import { createInputPinning, type InputPinning, type InputRecords, SNAPSHOT_FAILED, upstreamDataset } from './pinning';
import {
  createStageRecords,
  type FinishStageRunInput,
  runArtifactUri,
  RUN_USER,
  stageRunTags,
  type StartStageRunInput,
  stringParams,
} from './tracking';

export type { StageOutputs } from '../store/reuse';

/** A stage input as the launch hands it over: an upstream output (with its digest) or a data URI to pin. */
export interface StageInputRef {
  uri: string;
  /** Set for upstream outputs, whose digest the agent computed when it wrote them. */
  digest?: string;
  copy?: boolean;
}

export interface PreparedInput extends AgentInput {
  digest: string;
}

export interface BeginStageInput {
  start: StartStageRunInput;
  inputs: Record<string, StageInputRef>;
  /** What the cache key is made of, less the inputs' digests (known once they are pinned). */
  material: Omit<CacheKeyMaterial, 'inputs'>;
  /** False when the stage must run whatever is memoized (cache off, --no-cache, --refresh, --from). */
  lookup: boolean;
}

export interface BegunStage {
  artifactUri: string;
  prepared: Record<string, PreparedInput>;
  cacheKey: string;
  /** The key without inputs, registered with the result so a launch finds its candidates in one query. */
  materialDigest: string;
  hit?: StageOutputs;
}

export interface SettleStagesInput {
  launchId: string;
  workflowId: string;
  parentRunId: string;
  experimentId: string;
  /** Stages a re-execution takes from the earlier launch (resolveReuse's answer). */
  reused: Record<string, StageOutputs>;
  /** Every stage of the launch in DAG order, with what its cache key is made of (less its inputs' digests). */
  stages: StagePlan[];
}

/** A stage that did not need to run: taken from the memo (cached) or from an earlier launch (reused). */
export interface SettledStage extends Omit<StageOutputs, 'runId'> {
  source: 'cached' | 'reused';
  sourceRunId: string;
  cacheKey?: string;
  inputDigests: Record<string, string>;
}

/** What finding a launch's settled stages produced: the stages, and what settled ones read. */
export interface FoundSettled {
  settled: Record<string, SettledStage>;
  pinnedInputs: Record<string, PinnedInputs>;
}

/**
 * Settling a launch's stages in two steps: `findSettled` finds the stages that need no run and
 * writes nothing of them; `recordSettled` writes their runs. A launch's opening records the launch
 * while it looks its stages up.
 */
export function createStageSettling(deps: ActivityDeps) {
  const { pool, store, artifactRoot, provider } = deps;
  const pinning = createInputPinning(deps);

  /** True when every output of a stored result is still in the artifact store. */
  const outputsPresent = async (outputs: Record<string, string>): Promise<boolean> =>
    (await Promise.all(Object.values(outputs).map((uri) => store.exists(uri)))).every(Boolean);

  /**
   * The memoized result under `cacheKey` that another run registered, unchecked: from prefetched
   * `candidates`, or looked up (entries registered without a material digest are found only by key).
   */
  async function memoFor(experimentId: string, cacheKey: string, runId: string, candidates?: Map<string, MemoEntry>): Promise<MemoEntry | undefined> {
    const entry = candidates?.get(cacheKey) ?? (await findMemo(pool, experimentId, cacheKey));
    return entry && entry.runId !== runId ? entry : undefined;
  }

  /** Whether an entry's outputs are all still stored; one whose outputs are gone is forgotten. */
  async function usable(entry: MemoEntry): Promise<boolean> {
    if (await outputsPresent(entry.outputs)) return true;
    await dropMemo(pool, entry.experimentId, entry.cacheKey, entry.runId);
    return false;
  }

  /**
   * One pass over the stages in DAG order: those a re-execution takes from the earlier launch, and
   * each stage whose upstream stages all settled and whose key has a memoized result not in
   * `unusable`. What pinning gave (null: it failed) is kept in `pins` across passes: a stage's
   * refs do not change.
   */
  async function settlePass(input: SettleStagesInput, candidates: Map<string, MemoEntry>, unusable: Set<string>, pins: Map<string, PinnedInputs | null>) {
    const settled: Record<string, SettledStage> = {};
    const hits = new Map<string, MemoEntry>();
    for (const stage of input.stages) {
      const earlier = input.reused[stage.name];
      if (earlier) {
        settled[stage.name] = { source: 'reused', sourceRunId: earlier.runId, outputs: earlier.outputs, outputDigests: earlier.outputDigests, inputDigests: {} };
        continue;
      }
      if (!stage.lookup) continue;
      const refs: Record<string, StageInputRef> = {};
      let ready = true;
      for (const [name, ref] of Object.entries(stage.inputs)) {
        if ('uri' in ref) {
          refs[name] = ref;
          continue;
        }
        const upstream = settled[ref.stage];
        const uri = upstream?.outputs[ref.output];
        const digest = upstream?.outputDigests[ref.output];
        if (uri === undefined || digest === undefined) {
          ready = false;
          break;
        }
        refs[name] = { uri, digest };
      }
      if (!ready) continue;
      let pinned = pins.get(stage.name);
      if (pinned === undefined) {
        try {
          pinned = await pinInputs(pinning, refs);
        } catch (err) {
          // The stage itself runs into it again and fails with the reason on its own run.
          if (!(err instanceof ApplicationFailure && err.type === SNAPSHOT_FAILED)) throw err;
          pinned = null;
        }
        pins.set(stage.name, pinned);
      }
      if (pinned === null) continue;
      const cacheKey = cacheKeyOf({ ...stage.material, inputs: digestsOf(pinned.prepared) });
      const entry = unusable.has(cacheKey) ? undefined : await memoFor(input.experimentId, cacheKey, stage.runId, candidates);
      if (!entry) continue;
      hits.set(stage.name, entry);
      settled[stage.name] = { source: 'cached', sourceRunId: entry.runId, outputs: entry.outputs, outputDigests: entry.outputDigests, cacheKey, inputDigests: digestsOf(pinned.prepared) };
    }
    return { settled, hits };
  }

  return {
    /** The memoized result under `cacheKey` whose outputs are all still stored. */
    async findUsableMemo(experimentId: string, cacheKey: string, runId: string): Promise<StageOutputs | undefined> {
      const entry = await memoFor(experimentId, cacheKey, runId);
      if (!entry || !(await usable(entry))) return undefined;
      return { runId: entry.runId, outputs: entry.outputs, outputDigests: entry.outputDigests };
    },

    /**
     * Every stage of a launch that needs no run: those a re-execution takes from the earlier
     * launch, then, in DAG order, each stage whose upstream stages are all settled and whose cache
     * key has a memoized result whose outputs are still stored. Each key needs its upstream
     * stages' output digests, which the memo entries carry, so keys are known one by one but their
     * candidates are fetched in one query, and every hit's outputs are checked at once. A hit
     * whose outputs are gone is forgotten and the pass is made again without it (its dependants'
     * keys came from its digests).
     */
    async findSettled(input: SettleStagesInput): Promise<FoundSettled> {
      const candidates = await findMemoCandidates(
        pool,
        input.experimentId,
        input.stages.filter((stage) => stage.lookup && !input.reused[stage.name]).map((stage) => materialDigestOf(stage.material)),
      );
      const unusable = new Set<string>();
      const pins = new Map<string, PinnedInputs | null>();
      // A walk made again finds a subset of the earlier walk's hits: each is checked once.
      const checked = new Map<string, Promise<boolean>>();
      const usableOnce = (entry: MemoEntry): Promise<boolean> => {
        const key = `${entry.cacheKey}/${entry.runId}`;
        if (!checked.has(key)) checked.set(key, usable(entry));
        return checked.get(key)!;
      };
      for (;;) {
        const { settled, hits } = await settlePass(input, candidates, unusable, pins);
        const entries = [...hits.values()];
        const present = await Promise.all(entries.map(usableOnce));
        entries.forEach((entry, i) => {
          if (!present[i]) unusable.add(entry.cacheKey);
        });
        if (present.every(Boolean)) {
          const pinnedInputs: Record<string, PinnedInputs> = {};
          for (const name of hits.keys()) pinnedInputs[name] = pins.get(name)!;
          return { settled, pinnedInputs };
        }
      }
    },

    /**
     * Writes the settled stages, each its own FINISHED child run naming the run it took, in three
     * statements however many stages settled.
     */
    async recordSettled(input: SettleStagesInput, { settled, pinnedInputs }: FoundSettled): Promise<void> {
      const time = Date.now();
      const records: SettledStageRecord[] = input.stages.flatMap((stage) => {
        const result = settled[stage.name];
        if (!result) return [];
        return [{
          launchId: input.launchId,
          stage: stage.name,
          runId: stage.runId,
          experimentId: input.experimentId,
          workflowId: input.workflowId,
          userId: RUN_USER,
          artifactUri: runArtifactUri(artifactRoot, input.experimentId, stage.runId),
          time,
          tags: {
            ...stageRunTags({ ...input, stage: stage.name }, provider.name),
            ...(result.cacheKey !== undefined ? { 'mlfleet.cache_key': result.cacheKey } : {}),
            [`mlfleet.${result.source}_from`]: result.sourceRunId,
          },
          params: stringParams(stage.material.params),
          source: result.source,
          sourceRunId: result.sourceRunId,
          ...(result.cacheKey !== undefined ? { cacheKey: result.cacheKey } : {}),
          outputs: result.outputs,
          outputDigests: result.outputDigests,
          inputDigests: result.inputDigests,
        }];
      });
      // The runs (one statement) and what they read are independent writes, each idempotent: an
      // opening retried after either landed completes the other.
      await Promise.all([
        recordSettledStages(pool, records),
        pinning.recordInputs(
          input.experimentId,
          input.stages.flatMap((stage) => (pinnedInputs[stage.name] ? [{ runId: stage.runId, pinned: pinnedInputs[stage.name]! }] : [])),
        ),
      ]);
    },
  };
}

/** Memoization activities: begin and end memoized stages, settle the stages a launch need not run, resolve re-executions. */
export function createMemoActivities(deps: ActivityDeps) {
  const { pool, store } = deps;
  const records = createStageRecords(deps);
  const pinning = createInputPinning(deps);
  const settling = createStageSettling(deps);

  return {
    /**
     * A stage's start, in one activity: records its run, pins every data input to a snapshot
     * (stored in PostgreSQL, in the store and as a run artifact), logs every input as an MLflow
     * dataset input (so `datasets.digest = '…'` finds each run that read it), derives the cache key
     * (tagged on the run) and, when lookups are on, finds a memoized result whose outputs are all
     * still stored. Only digests and URIs cross Temporal.
     */
    async beginStage(input: BeginStageInput): Promise<BegunStage> {
      const { artifactUri } = await records.startStage(input.start);
      const pinned = await pinInputs(pinning, input.inputs);
      const { prepared } = pinned;
      await pinning.recordInputs(input.start.experimentId, [{ runId: input.start.runId, pinned }]);
      const cacheKey = cacheKeyOf({ ...input.material, inputs: digestsOf(prepared) });
      await setTags(pool, input.start.runId, { 'mlfleet.cache_key': cacheKey });
      const hit = input.lookup ? await settling.findUsableMemo(input.start.experimentId, cacheKey, input.start.runId) : undefined;
      return { artifactUri, prepared, cacheKey, materialDigest: materialDigestOf(input.material), ...(hit ? { hit } : {}) };
    },

    /** A stage's end: records how it ended and, for a stage that ran and finished, registers its result under its key. */
    async endStage(input: { finish: FinishStageRunInput; register?: { experimentId: string; cacheKey: string; materialDigest?: string; replace: boolean } }): Promise<void> {
      await records.finishStage(input.finish);
      const { finish, register } = input;
      if (!register || finish.status !== 'FINISHED' || !finish.outputs) return;
      await registerMemo(
        pool,
        {
          experimentId: register.experimentId,
          cacheKey: register.cacheKey,
          ...(register.materialDigest !== undefined ? { materialDigest: register.materialDigest } : {}),
          stage: finish.stage,
          runId: finish.runId,
          launchId: finish.launchId,
          outputs: finish.outputs,
          outputDigests: finish.outputDigests ?? {},
          createdAt: Date.now(),
        },
        register.replace,
      );
    },

    /** The results of `stages` in an earlier launch, for a launch that re-executes from a later stage. */
    async resolveReuse(input: { launchId: string; stages: string[] }): Promise<Record<string, StageOutputs>> {
      const found = await findReusableOutputs(pool, input.launchId, input.stages, (uri) => store.exists(uri));
      if (!found.ok) throw ApplicationFailure.nonRetryable(found.problem, 'ReuseUnavailable');
      return found.stages;
    },

    /**
     * Settles, in one activity, every stage of a launch that needs no run (findSettled) and writes
     * their runs. A fully cached launch thus costs a few activities, not a child workflow per
     * stage; the others run as usual.
     */
    async settleStages(input: SettleStagesInput): Promise<Record<string, SettledStage>> {
      const found = await settling.findSettled(input);
      await settling.recordSettled(input, found);
      return found.settled;
    },
  };
}

/** What pinning a stage's inputs produced: what crosses Temporal (prepared) and what the run records. */
interface PinnedInputs extends InputRecords {
  prepared: Record<string, PreparedInput>;
}

/** Pins the data inputs of `refs` (upstream outputs already carry their digest); nothing is written to a run yet. */
async function pinInputs(pinning: InputPinning, refs: Record<string, StageInputRef>): Promise<PinnedInputs> {
  const pinned: PinnedInputs = { prepared: {}, datasets: [], manifests: {} };
  for (const [name, ref] of Object.entries(refs)) {
    if (ref.digest !== undefined) {
      pinned.prepared[name] = { uri: ref.uri, digest: ref.digest };
      pinned.datasets.push(upstreamDataset(name, ref.uri, ref.digest));
      continue;
    }
    const data = await pinning.pinData(name, ref.uri, ref.copy === true);
    pinned.prepared[name] = data.input;
    pinned.manifests[name] = data.manifest;
    pinned.datasets.push(data.dataset);
  }
  return pinned;
}

const cacheKeyOf = (material: CacheKeyMaterial): string => digestOf(canonicalJson(CacheKeyMaterial.parse(material)));

/** The cache key a stage would have without inputs: shared by its memo entries, whatever they read. */
const materialDigestOf = (material: Omit<CacheKeyMaterial, 'inputs'>): string => cacheKeyOf({ ...material, inputs: {} });

const digestsOf = (prepared: Record<string, PreparedInput>): Record<string, string> =>
  Object.fromEntries(Object.entries(prepared).map(([name, p]) => [name, p.digest]));
