import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { buildApp } from '../api/app';
import { firstAdminNotice } from './first-admin';
import { migrate } from '../store/migrate';
import { createPool } from '../store/pool';
import { loadConfig, type MlfleetConfig } from './config';
import { setUpClouds } from './cloud-drivers';
import { ensureSearchAttributes } from '../client/search-attributes';
import { createMlfleetWorker } from './worker';
import { untilSignal } from './until-signal';

/** Production entry points run against external services only: both must be configured. */
function externalConfig(opts: { port?: number }): MlfleetConfig & { databaseUrl: string; temporalAddress: string } {
  const config = loadConfig(opts);
  if (!config.databaseUrl || !config.temporalAddress) {
    throw new Error('DATABASE_URL and TEMPORAL_ADDRESS must be set (use `mlfleet up` for the embedded stack)');
  }
  return config as MlfleetConfig & { databaseUrl: string; temporalAddress: string };
}

/** `mlfleet worker`: one stateless worker on the mlfleet task queue; run as many as needed. */
export async function runWorkerProcess(): Promise<void> {
  const config = externalConfig({});
  const pool = createPool(config.databaseUrl);
  await migrate(pool);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const clientConnection = await Connection.connect({ address: config.temporalAddress });
  const clouds = await setUpClouds(config, new Client({ connection: clientConnection, namespace: config.namespace }), (line) => console.log(`[mlfleet] ${line}`));
  const worker = await createMlfleetWorker({ connection, pool, config, ...(clouds ? { clouds } : {}) });
  const running = worker.run();
  console.log(`[mlfleet] worker polling task queue '${config.taskQueue}' on ${config.temporalAddress}`);
  await Promise.race([running, untilSignal().then(() => worker.shutdown())]);
  await running;
  await connection.close();
  await clientConnection.close();
  await pool.end();
}

/** `mlfleet api`: the HTTP API alone (MLflow facade and /api/v1), stateless behind a load balancer. */
export async function runApiProcess(opts: { port?: number; host: string }): Promise<void> {
  const config = externalConfig(opts);
  const pool = createPool(config.databaseUrl);
  await migrate(pool);
  const adminNotice = await firstAdminNotice(pool, config.auth);
  if (adminNotice) console.log(`[mlfleet] ${adminNotice}`);
  const connection = await Connection.connect({ address: config.temporalAddress });
  await ensureSearchAttributes(connection, config.namespace);
  const app = buildApp({ pool, temporal: new Client({ connection, namespace: config.namespace }), taskQueue: config.taskQueue, artifactRoot: config.artifactRoot, logger: true, auth: config.auth });
  await app.listen({ port: config.apiPort, host: opts.host });
  await untilSignal();
  await app.close();
  await connection.close();
  await pool.end();
}
