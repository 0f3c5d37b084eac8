import { rmSync } from 'node:fs';
import type { TestServices } from './services';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as { mlfleetTestServices?: TestServices }).mlfleetTestServices;
  if (!services) return;
  await Promise.allSettled([services.temporal.stop(), services.postgres.stop()]);
  rmSync(services.dataDir, { recursive: true, force: true });
}
