import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { SNAPSHOT_DATASET_SOURCE_TYPE, type SnapshotManifest } from '../domain/snapshot';
import { writeDatasetInputs } from '../store/datasets';
import { recordSnapshot } from '../store/snapshots';
import { joinUri } from '../storage/object-store';
import { pinSnapshot, SnapshotError, writeManifest } from '../storage/snapshots';
import type { ActivityDeps } from './deps';
import { runArtifactUri } from './tracking';

// Pinning data inputs to snapshots, so a stage reads exactly what its cache key names, and each
// run's record of what it read.

/** The failure type of data that cannot be pinned: permanent, as retrying reads the same source. */
export const SNAPSHOT_FAILED = 'SnapshotFailed';

const permanent = (err: unknown, type: string): never => {
  throw ApplicationFailure.nonRetryable((err as Error).message, type);
};

/** One input as its run records it: an MLflow dataset input whose source describes what was read. */
export interface DatasetFacts {
  name: string;
  digest: string;
  source: string;
}

/** What a run records of its inputs: a dataset input each, and the manifest of each one pinned. */
export interface InputRecords {
  datasets: DatasetFacts[];
  manifests: Record<string, SnapshotManifest>;
}

/** An upstream output read as an input: immutable, and digested by the agent that wrote it, so nothing is pinned. */
export const upstreamDataset = (name: string, uri: string, digest: string): DatasetFacts => ({
  name,
  digest,
  source: JSON.stringify({ uri, kind: 'stage_output' }),
});

export type InputPinning = ReturnType<typeof createInputPinning>;

/** Pinning data inputs and recording what runs read, over the artifact store and PostgreSQL. */
export function createInputPinning(deps: ActivityDeps) {
  const { pool, store, artifactRoot } = deps;
  const casRoot = joinUri(artifactRoot, 'cas');

  return {
    /**
     * Pins the data at `uri` to a snapshot, stored in PostgreSQL and in the store; nothing is written
     * to a run yet. A source that cannot be pinned fails permanently (SNAPSHOT_FAILED).
     */
    async pinData(name: string, uri: string, copy: boolean) {
      let pinned;
      try {
        pinned = await pinSnapshot(store, uri, { copy, casRoot, onPage: (count) => heartbeat({ input: name, pinned: count }) });
      } catch (err) {
        if (err instanceof SnapshotError) permanent(err, SNAPSHOT_FAILED);
        throw err;
      }
      const manifestUri = joinUri(artifactRoot, 'snapshots', `${pinned.digest.replace(':', '-')}.json`);
      await writeManifest(store, pinned.manifest, manifestUri);
      await recordSnapshot(pool, { digest: pinned.digest, manifest: pinned.manifest, bytes: pinned.bytes, manifestUri, createdAt: Date.now() });
      return {
        /** What the agent reads: the snapshot's manifest, and the content-addressed store of copies. */
        input: { uri, digest: pinned.digest, manifest: manifestUri, cas: casRoot },
        manifest: pinned.manifest,
        dataset: {
          name,
          digest: pinned.digest,
          source: JSON.stringify({ uri, mode: pinned.manifest.mode, objects: pinned.manifest.entries.length, bytes: pinned.bytes }),
        } satisfies DatasetFacts,
      };
    },

    /**
     * Each run's record of what it read: its dataset inputs, and a copy of each manifest among its
     * artifacts. Idempotent, so it needs no transaction: a retry completes what an attempt left.
     */
    async recordInputs(experimentId: string, runs: Array<{ runId: string; pinned: InputRecords }>): Promise<void> {
      for (const { runId, pinned } of runs) {
        for (const [name, manifest] of Object.entries(pinned.manifests)) {
          // The run keeps its own copy, so its artifacts say what it read even without mlfleet's tables.
          await writeManifest(store, manifest, joinUri(runArtifactUri(artifactRoot, experimentId, runId), 'mlfleet', 'snapshots', `${name}.json`));
        }
      }
      await writeDatasetInputs(
        pool,
        experimentId,
        runs.map(({ runId, pinned }) => ({
          runId,
          datasetInputs: pinned.datasets.map((d) => ({ dataset: { ...d, source_type: SNAPSHOT_DATASET_SOURCE_TYPE }, tags: [{ key: 'mlflow.data.context', value: 'input' }] })),
        })),
      );
    },
  };
}
