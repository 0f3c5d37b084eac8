import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { AgentInput } from '../domain/agent-job';
import { CacheKeyMaterial } from '../domain/cache-key';
import { canonicalJson } from '../domain/canonical-json';
import type { StagePlan } from '../domain/stage-plan';
import { SNAPSHOT_DATASET_SOURCE_TYPE, type SnapshotManifest } from '../domain/snapshot';
import { writeDatasetInputs } from '../store/datasets';
import { dropMemo, findMemo, findMemoCandidates, type MemoEntry, registerMemo } from '../store/memo';
import { type Queryable, withTransaction } from '../store/pool';
import { setTags } from '../store/runs';
import { recordSettledStages, type SettledStageRecord } from '../store/settled-stages';
import { findReusableOutputs, type StageOutputs } from '../store/reuse';
import { recordSnapshot } from '../store/snapshots';
import { joinUri } from '../storage/object-store';
import { digestOf } from '../storage/digest';
import { pinSnapshot, SnapshotError, writeManifest } from '../storage/snapshots';
import type { ActivityDeps } from './deps';
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

const SNAPSHOT_FAILED = 'SnapshotFailed';

const permanent = (err: unknown, type: string): never => {
  throw ApplicationFailure.nonRetryable((err as Error).message, type);
};

/** Memoization activities: begin and end memoized stages, settle the stages a launch need not run, resolve re-executions. */
export function createMemoActivities(deps: ActivityDeps) {
  const { pool, store, artifactRoot, provider } = deps;
  const casRoot = joinUri(artifactRoot, 'cas');
  const records = createStageRecords(deps);

  /** True when every output of a stored result is still in the artifact store. */
  const outputsPresent = async (outputs: Record<string, string>): Promise<boolean> =>
    (await Promise.all(Object.values(outputs).map((uri) => store.exists(uri)))).every(Boolean);

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
      const pinned = await pinInputs(input.inputs);
      const { prepared } = pinned;
      await withTransaction(pool, (tx) => recordInputs(tx, input.start.experimentId, [{ runId: input.start.runId, pinned }]));
      const cacheKey = cacheKeyOf({ ...input.material, inputs: digestsOf(prepared) });
      await setTags(pool, input.start.runId, { 'mlfleet.cache_key': cacheKey });
      const hit = input.lookup ? await findUsableMemo(input.start.experimentId, cacheKey, input.start.runId) : undefined;
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
     * Settles, in one activity, every stage of a launch that needs no run: those a re-execution
     * takes from the earlier launch, and then, in DAG order, each stage whose upstream stages are
     * all settled and whose cache key has a usable memoized result. Each gets its own FINISHED
     * child run naming the run it took, written concurrently. A fully cached launch thus costs a
     * few activities, not a child workflow per stage; the others run as usual.
     */
    async settleStages(input: SettleStagesInput): Promise<Record<string, SettledStage>> {
      const settled: Record<string, SettledStage> = {};
      const pinnedInputs: Record<string, PinnedInputs> = {};
      // Each stage's key needs its upstream stages' output digests, so keys are known one by one;
      // their candidates are not: one query for all of them.
      const candidates = await findMemoCandidates(
        pool,
        input.experimentId,
        input.stages.filter((stage) => stage.lookup && !input.reused[stage.name]).map((stage) => materialDigestOf(stage.material)),
      );
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
        let pinned;
        try {
          pinned = await pinInputs(refs);
        } catch (err) {
          // The stage itself runs into it again and fails with the reason on its own run.
          if (err instanceof ApplicationFailure && err.type === SNAPSHOT_FAILED) continue;
          throw err;
        }
        const cacheKey = cacheKeyOf({ ...stage.material, inputs: digestsOf(pinned.prepared) });
        const hit = await findUsableMemo(input.experimentId, cacheKey, stage.runId, candidates);
        if (!hit) continue;
        pinnedInputs[stage.name] = pinned;
        settled[stage.name] = { source: 'cached', sourceRunId: hit.runId, outputs: hit.outputs, outputDigests: hit.outputDigests, cacheKey, inputDigests: digestsOf(pinned.prepared) };
      }
      // Three statements in one transaction for all of them, however many stages settled.
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
      await withTransaction(pool, async (tx) => {
        await recordSettledStages(tx, records);
        await recordInputs(
          tx,
          input.experimentId,
          input.stages.flatMap((stage) => (pinnedInputs[stage.name] ? [{ runId: stage.runId, pinned: pinnedInputs[stage.name]! }] : [])),
        );
      });
      return settled;
    },
  };

  /** Pins the data inputs of `refs` (upstream outputs already carry their digest); nothing is written to a run yet. */
  async function pinInputs(refs: Record<string, StageInputRef>): Promise<PinnedInputs> {
    const prepared: Record<string, PreparedInput> = {};
    const datasets: DatasetFacts[] = [];
    const manifests: Record<string, SnapshotManifest> = {};
    for (const [name, ref] of Object.entries(refs)) {
      if (ref.digest !== undefined) {
        prepared[name] = { uri: ref.uri, digest: ref.digest };
        datasets.push({ name, digest: ref.digest, source: JSON.stringify({ uri: ref.uri, kind: 'stage_output' }) });
        continue;
      }
      let pinned;
      try {
        pinned = await pinSnapshot(store, ref.uri, { copy: ref.copy === true, casRoot, onPage: (count) => heartbeat({ input: name, pinned: count }) });
      } catch (err) {
        if (err instanceof SnapshotError) permanent(err, SNAPSHOT_FAILED);
        throw err;
      }
      const manifestUri = joinUri(artifactRoot, 'snapshots', `${pinned.digest.replace(':', '-')}.json`);
      await writeManifest(store, pinned.manifest, manifestUri);
      await recordSnapshot(pool, { digest: pinned.digest, manifest: pinned.manifest, bytes: pinned.bytes, manifestUri, createdAt: Date.now() });
      prepared[name] = { uri: ref.uri, digest: pinned.digest, manifest: manifestUri, cas: casRoot };
      manifests[name] = pinned.manifest;
      datasets.push({
        name,
        digest: pinned.digest,
        source: JSON.stringify({ uri: ref.uri, mode: pinned.manifest.mode, objects: pinned.manifest.entries.length, bytes: pinned.bytes }),
      });
    }
    return { prepared, datasets, manifests };
  }

  /** Each run's record of what it read: its dataset inputs, and a copy of each manifest among its artifacts. */
  async function recordInputs(db: Queryable, experimentId: string, runs: Array<{ runId: string; pinned: PinnedInputs }>): Promise<void> {
    for (const { runId, pinned } of runs) {
      for (const [name, manifest] of Object.entries(pinned.manifests)) {
        // The run keeps its own copy, so its artifacts say what it read even without mlfleet's tables.
        await writeManifest(store, manifest, joinUri(runArtifactUri(artifactRoot, experimentId, runId), 'mlfleet', 'snapshots', `${name}.json`));
      }
    }
    await writeDatasetInputs(
      db,
      experimentId,
      runs.map(({ runId, pinned }) => ({
        runId,
        datasetInputs: pinned.datasets.map((d) => ({ dataset: { ...d, source_type: SNAPSHOT_DATASET_SOURCE_TYPE }, tags: [{ key: 'mlflow.data.context', value: 'input' }] })),
      })),
    );
  }

  /**
   * The memoized result under `cacheKey` whose outputs are all still stored; one whose outputs are
   * gone is forgotten. A key missing from prefetched `candidates` is still looked up: entries
   * registered without a material digest are found only by their key.
   */
  async function findUsableMemo(experimentId: string, cacheKey: string, runId: string, candidates?: Map<string, MemoEntry>): Promise<StageOutputs | undefined> {
    const entry = candidates?.get(cacheKey) ?? (await findMemo(pool, experimentId, cacheKey));
    if (!entry || entry.runId === runId) return undefined;
    if (!(await outputsPresent(entry.outputs))) {
      await dropMemo(pool, experimentId, cacheKey, entry.runId);
      return undefined;
    }
    return { runId: entry.runId, outputs: entry.outputs, outputDigests: entry.outputDigests };
  }
}

/** What pinning a stage's inputs produced: what crosses Temporal (prepared) and what the run records. */
interface PinnedInputs {
  prepared: Record<string, PreparedInput>;
  datasets: DatasetFacts[];
  manifests: Record<string, SnapshotManifest>;
}

interface DatasetFacts {
  name: string;
  digest: string;
  source: string;
}

const cacheKeyOf = (material: CacheKeyMaterial): string => digestOf(canonicalJson(CacheKeyMaterial.parse(material)));

/** The cache key a stage would have without inputs: shared by its memo entries, whatever they read. */
const materialDigestOf = (material: Omit<CacheKeyMaterial, 'inputs'>): string => cacheKeyOf({ ...material, inputs: {} });

const digestsOf = (prepared: Record<string, PreparedInput>): Record<string, string> =>
  Object.fromEntries(Object.entries(prepared).map(([name, p]) => [name, p.digest]));
