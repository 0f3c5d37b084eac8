import pg from 'pg';

// int8 columns hold epoch milliseconds and steps; they fit a JS number (2^53) for any real run.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** Anything that runs a parameterised query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

/**
 * A named (prepared) statement: PostgreSQL parses and plans it once per connection instead of on
 * every call, which is much of the cost of the small, frequent writes (create, log, update) and of
 * the large ones a launch makes. `text` must be a constant of its module for a given name.
 */
export const named = (name: string, text: string, values: unknown[]): pg.QueryConfig => ({ name, text, values });

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 30_000 });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction on a dedicated client; rolls back if it throws. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
