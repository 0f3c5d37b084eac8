import pg from 'pg';
import { migrate } from '../store/migrate';
import { createPool } from '../store/pool';
import { loadConfig } from './config';
import { embeddedDatabaseUrl, startEmbeddedPostgres } from './embedded-postgres';

async function accepts(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs `fn` on mlfleet's database, migrated, as `mlfleet up` and `mlfleet api` find it:
 * DATABASE_URL, else the embedded PostgreSQL of the data folder, the one a running `mlfleet up`
 * serves or, when none runs, one started for this command and stopped afterwards.
 */
export async function withDatabase<T>(opts: { dataDir?: string }, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const config = loadConfig(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
  let databaseUrl = config.databaseUrl;
  let stopPostgres: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    const running = embeddedDatabaseUrl(config.dataDir, config.postgresPort);
    if (running !== undefined && (await accepts(running))) databaseUrl = running;
    else {
      const postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgresPort });
      stopPostgres = () => postgres.stop();
      databaseUrl = postgres.databaseUrl;
    }
  }
  const pool = createPool(databaseUrl, 2);
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await stopPostgres?.();
  }
}
