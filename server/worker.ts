import { join } from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { createActivities } from '../activities';
import type { CloudDeps } from '../activities/deps';
import { LocalProvider } from '../clouds/local/local-provider';
import { createStorage } from '../storage/storage';
import type { MlfleetConfig } from './config';

export interface MlfleetWorkerOptions {
  connection: NativeConnection;
  pool: pg.Pool;
  /** Namespace, task queue, artifact root, the tracking URI stages get, and the data folder (stage work folders). */
  config: Pick<MlfleetConfig, 'namespace' | 'taskQueue' | 'artifactRoot' | 'publicUrl' | 'dataDir'>;
  /** Cloud drivers and placement settings (server/cloud-config.ts); every stage runs locally without them. */
  clouds?: CloudDeps;
  /** A prebuilt workflow bundle (tests build it once per file); bundled from workflows/ otherwise. */
  workflowBundle?: { code: string };
}

/** A worker that runs mlfleet's workflows and activities, with its dependencies wired in. */
export async function createMlfleetWorker(opts: MlfleetWorkerOptions): Promise<Worker> {
  const { config } = opts;
  const activities = createActivities({
    pool: opts.pool,
    store: createStorage().objects,
    artifactRoot: config.artifactRoot,
    trackingUri: config.publicUrl,
    provider: new LocalProvider(join(config.dataDir, 'work')),
    ...(opts.clouds ? { clouds: opts.clouds } : {}),
    ...(process.env.AWS_REGION ? { dataRegion: process.env.AWS_REGION } : {}),
  });
  return Worker.create({
    connection: opts.connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities,
    // Stages that end within this time finish normally when the worker stops; longer ones are
    // interrupted (activities see a worker-shutdown cancellation) and resume on the next worker.
    shutdownGraceTime: '10 seconds',
    // Heartbeats are how a cancellation reaches a running stage: send them often (the default
    // throttle is 0.8 × heartbeatTimeout, which would delay a cancel by up to 16 s).
    maxHeartbeatThrottleInterval: '1 second',
  });
}
