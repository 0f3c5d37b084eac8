import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../server/embedded-postgres';
import { startOnFreePort } from '../../server/free-port';
import { startTemporalDevServer } from '../../server/temporal-dev-server';
import { createPool } from '../../store/pool';
import { migrate } from '../../store/migrate';
import type { TestServices } from './services';

/**
 * Starts the real services once for the whole run: PostgreSQL (embedded-postgres) and the Temporal
 * dev server (started by us, not by createLocal, whose 5 s start-up limit a loaded 2-core machine
 * can miss). Test files reach them through DATABASE_URL and TEMPORAL_ADDRESS.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlfleet-test-'));
  const [postgres, temporal] = await Promise.all([
    startOnFreePort((port) => startEmbeddedPostgres({ dataDir, port })),
    startOnFreePort((port) => startTemporalDevServer({ port })),
  ]);
  const pool = createPool(postgres.databaseUrl);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  process.env.DATABASE_URL = postgres.databaseUrl;
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.MLFLEET_TEST_DATA_DIR = dataDir;
  (globalThis as { mlfleetTestServices?: TestServices }).mlfleetTestServices = { postgres, temporal, dataDir };
}
