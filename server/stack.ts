import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type pg from 'pg';
import { buildApp } from '../api/app';
import { firstAdminNotice } from './first-admin';
import { migrate } from '../store/migrate';
import { createPool } from '../store/pool';
import type { MlfleetConfig } from './config';
import { startEmbeddedPostgres } from './embedded-postgres';
import { PortInUseError } from './free-port';
import { ensureSearchAttributes } from '../client/search-attributes';
import { startTemporalDevServer } from './temporal-dev-server';
import { setUpClouds } from './cloud-drivers';
import { createMlfleetWorker } from './worker';

export interface RunningStack {
  apiUrl: string;
  temporalAddress: string;
  temporalUiUrl?: string;
  /** Whether PostgreSQL / Temporal were started here (embedded) or are external. */
  embedded: { postgres: boolean; temporal: boolean };
  pool: pg.Pool;
  client: Client;
  stop(): Promise<void>;
}

/** Tells the user which setting moves a service off a port another process holds. */
const namePortSetting =
  (setting: string) =>
  (err: unknown): never => {
    if (err instanceof PortInUseError) throw new Error(`${err.message}; set ${setting} to another port`, { cause: err });
    throw err;
  };

/**
 * Everything mlfleet needs on one machine: PostgreSQL and the Temporal dev server (unless
 * DATABASE_URL / TEMPORAL_ADDRESS point elsewhere), migrations, a worker and the API.
 * `stop()` shuts them down in reverse order; whatever started before a failure is stopped too.
 */
export async function startStack(config: MlfleetConfig, log: (line: string) => void = () => undefined): Promise<RunningStack> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const fn of stops.reverse()) await fn().catch((err: unknown) => log(`shutdown: ${(err as Error).message}`));
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log(`starting PostgreSQL (embedded, data in ${config.dataDir}/pg) …`);
      const postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgresPort }).catch(namePortSetting('MLFLEET_POSTGRES_PORT'));
      stops.push(() => postgres.stop());
      databaseUrl = postgres.databaseUrl;
    }
    const pool = createPool(databaseUrl);
    stops.push(() => pool.end());
    const applied = await migrate(pool);
    if (applied.length > 0) log(`applied database migrations ${applied.join(', ')}`);
    const adminNotice = await firstAdminNotice(pool, config.auth);
    if (adminNotice) log(adminNotice);

    let temporalAddress = config.temporalAddress;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      log(`starting the Temporal dev server (state in ${config.dataDir}/temporal.db) …`);
      const temporal = await startTemporalDevServer({
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        dbFilename: `${config.dataDir}/temporal.db`,
      }).catch(namePortSetting('MLFLEET_TEMPORAL_PORT or MLFLEET_TEMPORAL_UI_PORT'));
      stops.push(() => temporal.stop());
      temporalAddress = temporal.address;
      temporalUiUrl = temporal.uiUrl;
    }

    const connection = await Connection.connect({ address: temporalAddress });
    stops.push(() => connection.close());
    if (config.temporalAddress) await ensureSearchAttributes(connection, config.namespace);
    const client = new Client({ connection, namespace: config.namespace });

    installQuietRuntime();
    const workerConnection = await NativeConnection.connect({ address: temporalAddress });
    stops.push(() => workerConnection.close());
    log('bundling workflows and starting the worker …');
    const clouds = await setUpClouds(config, client, log);
    const worker = await createMlfleetWorker({ connection: workerConnection, pool, config, ...(clouds ? { clouds } : {}) });
    const workerRun = worker.run();
    const stopWorker = async (): Promise<void> => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
    };
    const workerStop = stops.push(stopWorker) - 1;

    const app = buildApp({
      pool,
      temporal: client,
      taskQueue: config.taskQueue,
      artifactRoot: config.artifactRoot,
      ...(config.clouds ? { enabledClouds: config.clouds.enabled } : {}),
      auth: config.auth,
    });
    await app.listen({ port: config.apiPort, host: '127.0.0.1' });
    log(
      config.auth.enabled
        ? `access control on: sign in with a user or an API token (default permission ${config.auth.defaultPermission})`
        : 'access control off: anyone who reaches the API may read and change everything (MLFLEET_AUTH=on requires sign-in)',
    );
    // The API outlives the worker: stages finishing in the worker's grace period still log to it.
    stops[workerStop] = async () => {
      await stopWorker();
      await app.close();
    };

    return {
      apiUrl: `http://127.0.0.1:${config.apiPort}`,
      temporalAddress,
      ...(temporalUiUrl ? { temporalUiUrl } : {}),
      embedded: { postgres: !config.databaseUrl, temporal: !config.temporalAddress },
      pool,
      client,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Worker life-cycle chatter at INFO would drown what `mlfleet up` prints; warnings still show. */
function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by the embedding process (tests), which chose its own logger
  }
}
