import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTemporalCli } from '../../server/temporal-dev-server';
import { testEnv } from './services';

export const HISTORIES_DIR = join(__dirname, '..', 'histories');

/**
 * With MLFLEET_RECORD_HISTORIES=1, saves the histories of these workflows for the replay test
 * (`test/histories/<name>--<n>.json`: `{ workflowId, history }`), exported by the Temporal CLI exactly as an operator would.
 * Re-record after an intended change to workflow code.
 */
export function recordHistories(name: string, workflowIds: string[]): void {
  if (process.env.MLFLEET_RECORD_HISTORIES !== '1') return;
  for (const [i, workflowId] of workflowIds.entries()) {
    const json = execFileSync(
      findTemporalCli(),
      ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', testEnv().temporalAddress],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    // The workflow id is kept beside the history: replay must use the same one (child ids derive from it).
    writeFileSync(join(HISTORIES_DIR, `${name}--${i}.json`), JSON.stringify({ workflowId, history: JSON.parse(json) as unknown }, null, 1));
  }
}
