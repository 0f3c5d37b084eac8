import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../store/migrate';
import { createPool } from '../../store/pool';
import { testEnv } from './services';

export interface ScratchDatabase {
  databaseUrl: string;
  pool: pg.Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/**
 * A migrated database of its own on the test PostgreSQL, for tests whose assertions span the whole
 * database (every user, "the last admin"), which other test files sharing the database would break.
 */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const adminUrl = testEnv().databaseUrl;
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const pool = createPool(databaseUrl, 5);
  await migrate(pool);
  return {
    databaseUrl,
    pool,
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
