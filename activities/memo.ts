import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { AgentInput } from '../domain/agent-job';
import { CacheKeyMaterial } from '../domain/cache-key';
import { canonicalJson } from '../domain/canonical-json';
import { SNAPSHOT_DATASET_SOURCE_TYPE } from '../domain/snapshot';
import { logDatasetInputs } from '../store/datasets';
import { dropMemo, findMemo, registerMemo } from '../store/memo';
import { setTags } from '../store/runs';
import { findReusableOutputs, type StageOutputs } from '../store/reuse';
import { recordSnapshot } from '../store/snapshots';
import { joinUri } from '../storage/object-store';
import { digestOf, pinSnapshot, SnapshotError, writeManifest } from '../storage/snapshots';
import type { ActivityDeps } from './deps';

export type { StageOutputs } from '../store/reuse';
import { runArtifactUri } from './tracking';

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

export interface PrepareInputsInput {
  runId: string;
  experimentId: string;
  inputs: Record<string, StageInputRef>;
}

export interface MemoLookupInput {
  experimentId: string;
  runId: string;
  material: CacheKeyMaterial;
  /** False when the stage must run whatever is memoized (cache off, --no-cache, --refresh, --from). */
  lookup: boolean;
}

export interface RegisterMemoInput extends StageOutputs {
  experimentId: string;
  cacheKey: string;
  stage: string;
  launchId: string;
  replace: boolean;
}

const permanent = (err: unknown, type: string): never => {
  throw ApplicationFailure.nonRetryable((err as Error).message, type);
};

/** Memoization activities: pin inputs, derive the cache key, look results up and register them. */
export function createMemoActivities(deps: ActivityDeps) {
  const { pool, store, artifactRoot } = deps;
  const casRoot = joinUri(artifactRoot, 'cas');

  /** True when every output of a stored result is still in the artifact store. */
  const outputsPresent = async (outputs: Record<string, string>): Promise<boolean> =>
    (await Promise.all(Object.values(outputs).map((uri) => store.exists(uri)))).every(Boolean);

  return {
    /**
     * Pins every data input to a snapshot (stored in PostgreSQL, in the store and as a run artifact)
     * and logs every input as an MLflow dataset input of the run (name, digest, source), so
     * `datasets.digest = '…'` finds each run that read it. Only digests and URIs are returned.
     */
    async prepareStageInputs(input: PrepareInputsInput): Promise<Record<string, PreparedInput>> {
      const prepared: Record<string, PreparedInput> = {};
      const datasets = [];
      for (const [name, ref] of Object.entries(input.inputs)) {
        if (ref.digest !== undefined) {
          prepared[name] = { uri: ref.uri, digest: ref.digest };
          datasets.push({ name, digest: ref.digest, source: JSON.stringify({ uri: ref.uri, kind: 'stage_output' }) });
          continue;
        }
        let pinned;
        try {
          pinned = await pinSnapshot(store, ref.uri, { copy: ref.copy === true, casRoot, onPage: (count) => heartbeat({ input: name, pinned: count }) });
        } catch (err) {
          if (err instanceof SnapshotError) permanent(err, 'SnapshotFailed');
          throw err;
        }
        const manifestUri = joinUri(artifactRoot, 'snapshots', `${pinned.digest.replace(':', '-')}.json`);
        await writeManifest(store, pinned.manifest, manifestUri);
        await recordSnapshot(pool, { digest: pinned.digest, manifest: pinned.manifest, bytes: pinned.bytes, manifestUri, createdAt: Date.now() });
        // The run keeps its own copy, so its artifacts say what it read even without mlfleet's tables.
        await writeManifest(store, pinned.manifest, joinUri(runArtifactUri(artifactRoot, input.experimentId, input.runId), 'mlfleet', 'snapshots', `${name}.json`));
        prepared[name] = { uri: ref.uri, digest: pinned.digest, manifest: manifestUri, cas: casRoot };
        datasets.push({
          name,
          digest: pinned.digest,
          source: JSON.stringify({ uri: ref.uri, mode: pinned.manifest.mode, objects: pinned.manifest.entries.length, bytes: pinned.bytes }),
        });
      }
      await logDatasetInputs(
        pool,
        input.experimentId,
        input.runId,
        datasets.map((d) => ({ dataset: { ...d, source_type: SNAPSHOT_DATASET_SOURCE_TYPE }, tags: [{ key: 'mlflow.data.context', value: 'input' }] })),
      );
      return prepared;
    },

    /**
     * The stage's cache key (tagged on its run), and the memoized result under it when lookups are
     * on and its outputs are all still stored; a result whose outputs are gone is forgotten.
     */
    async lookupMemo(input: MemoLookupInput): Promise<{ cacheKey: string; hit?: StageOutputs }> {
      const cacheKey = digestOf(canonicalJson(CacheKeyMaterial.parse(input.material)));
      await setTags(pool, input.runId, { 'mlfleet.cache_key': cacheKey });
      if (!input.lookup) return { cacheKey };
      const entry = await findMemo(pool, input.experimentId, cacheKey);
      if (!entry || entry.runId === input.runId) return { cacheKey };
      if (!(await outputsPresent(entry.outputs))) {
        await dropMemo(pool, input.experimentId, cacheKey, entry.runId);
        return { cacheKey };
      }
      return { cacheKey, hit: { runId: entry.runId, outputs: entry.outputs, outputDigests: entry.outputDigests } };
    },

    /** Registers a successful stage's outputs under its key (never a failed one: only FINISHED stages call this). */
    async registerMemo(input: RegisterMemoInput): Promise<void> {
      await registerMemo(
        pool,
        {
          experimentId: input.experimentId,
          cacheKey: input.cacheKey,
          stage: input.stage,
          runId: input.runId,
          launchId: input.launchId,
          outputs: input.outputs,
          outputDigests: input.outputDigests,
          createdAt: Date.now(),
        },
        input.replace,
      );
    },

    /** The results of `stages` in an earlier launch, for a launch that re-executes from a later stage. */
    async resolveReuse(input: { launchId: string; stages: string[] }): Promise<Record<string, StageOutputs>> {
      const found = await findReusableOutputs(pool, input.launchId, input.stages, (uri) => store.exists(uri));
      if (!found.ok) throw ApplicationFailure.nonRetryable(found.problem, 'ReuseUnavailable');
      return found.stages;
    },
  };
}
