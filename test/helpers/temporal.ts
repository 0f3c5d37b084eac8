import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { CloudDeps } from '../../activities/deps';
import { buildApp } from '../../api/app';
import type { AuthConfig } from '../../domain/auth';
import { fileUriOf } from '../../storage/file-store';
import type { Storage } from '../../storage/storage';
import { createPool } from '../../store/pool';
import { createMlfleetWorker } from '../../server/worker';
import { testEnv } from './services';

export interface WorkflowTestContext {
  client: Client;
  pool: pg.Pool;
  /** Per-file scratch folder: artifacts and stage work folders live under it. */
  dataDir: string;
  artifactRoot: string;
  /** A worker on a task queue of its own, so test files never steal each other's tasks; `artifactRoot` replaces the file:// one (e.g. s3:// on moto). */
  createWorker(taskQueue: string, opts?: { clouds?: CloudDeps; artifactRoot?: string }): Promise<Worker>;
  /** Creates such a worker and runs it until close(). */
  runWorker(taskQueue: string, opts?: { clouds?: CloudDeps; artifactRoot?: string }): Promise<void>;
  /**
   * Serves the API (launches start on `taskQueue`) on a free local port until close(); its base URL.
   * `artifactRoot` and `storage` replace the file:// root under dataDir (e.g. an s3:// root on moto).
   */
  startApi(taskQueue: string, opts?: { artifactRoot?: string; storage?: Storage; auth?: AuthConfig }): Promise<string>;
  /** Stops the workers runWorker started, then closes the connections. */
  close(): Promise<void>;
}

// Worker life-cycle INFO lines would bury the test output; ERROR still shows (expected workflow
// failures in tests log at WARN).
Runtime.install({ logger: new DefaultLogger('ERROR') });

let bundle: Promise<{ code: string }> | undefined;

/** The workflow bundle, built once per test file (bundling takes seconds). */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/** Connections to the services global-setup started, and a worker factory over them. */
export async function createWorkflowTestContext(): Promise<WorkflowTestContext> {
  const env = testEnv();
  const dataDir = mkdtempSync(join(env.dataDir, 'wf-'));
  const artifactRoot = fileUriOf(join(dataDir, 'artifacts'));
  const connection = await Connection.connect({ address: env.temporalAddress });
  const nativeConnection = await NativeConnection.connect({ address: env.temporalAddress });
  const pool = createPool(env.databaseUrl);
  const running: Array<{ worker: Worker; run: Promise<void> }> = [];
  const apps: FastifyInstance[] = [];
  const client = new Client({ connection });
  const context: WorkflowTestContext = {
    client,
    pool,
    dataDir,
    artifactRoot,
    async createWorker(taskQueue, opts = {}) {
      return createMlfleetWorker({
        ...(opts.clouds ? { clouds: opts.clouds } : {}),
        connection: nativeConnection,
        pool,
        // Test stages do not log to MLflow; nothing listens at publicUrl.
        config: { namespace: 'default', taskQueue, artifactRoot: opts.artifactRoot ?? artifactRoot, publicUrl: 'http://127.0.0.1:9', dataDir },
        workflowBundle: await workflowBundle(),
      });
    },
    async runWorker(taskQueue, opts = {}) {
      const worker = await context.createWorker(taskQueue, opts);
      running.push({ worker, run: worker.run() });
    },
    async startApi(taskQueue, opts = {}) {
      const app = buildApp({
        pool,
        temporal: client,
        taskQueue,
        artifactRoot: opts.artifactRoot ?? artifactRoot,
        ...(opts.storage ? { storage: opts.storage } : {}),
        ...(opts.auth ? { auth: opts.auth } : {}),
      });
      apps.push(app);
      return app.listen({ host: '127.0.0.1', port: 0 });
    },
    async close() {
      for (const app of apps) await app.close();
      for (const { worker } of running) worker.shutdown();
      await Promise.all(running.map((r) => r.run));
      await nativeConnection.close();
      await connection.close();
      await pool.end();
    },
  };
  return context;
}
