import type { RunningPostgres } from '../../server/embedded-postgres';
import type { RunningTemporal } from '../../server/temporal-dev-server';

export interface TestServices {
  postgres: RunningPostgres;
  temporal: RunningTemporal;
  dataDir: string;
}

/** The service addresses that global-setup.ts exported; fails loudly if a test runs without it. */
export function testEnv(): { databaseUrl: string; temporalAddress: string; dataDir: string } {
  const { DATABASE_URL, TEMPORAL_ADDRESS, MLFLEET_TEST_DATA_DIR } = process.env;
  if (!DATABASE_URL || !TEMPORAL_ADDRESS || !MLFLEET_TEST_DATA_DIR) {
    throw new Error('test services are missing: run the tests through jest (npm test), which starts them');
  }
  return { databaseUrl: DATABASE_URL, temporalAddress: TEMPORAL_ADDRESS, dataDir: MLFLEET_TEST_DATA_DIR };
}
