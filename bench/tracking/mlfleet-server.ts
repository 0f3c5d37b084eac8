import { Client } from '@temporalio/client';
import { buildApp } from '../../api/app';
import { migrate } from '../../store/migrate';
import { createPool } from '../../store/pool';

// mlfleet's API for the tracking benchmark, in its own process like `mlfleet api`, but without
// Temporal: the tracking endpoints never reach it, and the client's lazy connection only dials
// when a launch route is called. DATABASE_URL, PORT and ARTIFACT_ROOT come from bench/tracking/run.ts.

async function main(): Promise<void> {
  const { DATABASE_URL, PORT, ARTIFACT_ROOT } = process.env;
  if (!DATABASE_URL || !PORT || !ARTIFACT_ROOT) throw new Error('DATABASE_URL, PORT and ARTIFACT_ROOT must be set');
  const pool = createPool(DATABASE_URL);
  await migrate(pool);
  const app = buildApp({ pool, temporal: new Client(), taskQueue: 'bench', artifactRoot: ARTIFACT_ROOT });
  await app.listen({ port: Number(PORT), host: '127.0.0.1' });
  const stop = (): void => {
    void app
      .close()
      .then(() => pool.end())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
