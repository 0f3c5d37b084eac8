import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { LaunchInput } from '../../domain/launch';
import { startLaunch } from '../../client/launcher';

export const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A tiny code folder for test pipelines, so stages run from an unpacked bundle as in production. */
export function makeCodeDir(root: string): string {
  const dir = join(root, uniqueId('code'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.sh'), 'echo "hello from the bundle"\n', { mode: 0o755 });
  return dir;
}

/** Starts a launch as the API does (search attributes set at start when the spec is inline). */
export async function launch(client: Client, taskQueue: string, input: LaunchInput, launchId = uniqueId('l')) {
  const handle = await startLaunch(client, { launchId, input, taskQueue, ...(input.spec ? { experiment: input.spec.experiment } : {}) });
  return { launchId, handle };
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
