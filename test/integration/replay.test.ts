import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../helpers/histories';
import { workflowBundle } from '../helpers/temporal';

// Committed histories of real launches (recorded with MLFLEET_RECORD_HISTORIES=1): today's workflow
// code must replay each of them without a determinism error, or launches running across a deploy
// would break.
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

interface RecordedHistory {
  workflowId: string;
  history: { events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[] };
}
const load = (file: string): RecordedHistory => JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')) as RecordedHistory;

test('the committed histories cover the launch and stage workflows on their main paths', () => {
  const types = new Set(files.map((f) => load(f).history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
  expect([...types].sort()).toEqual(['launchExperiment', 'stageRun']);
  for (const path of ['fanout', 'failing', 'cancelled', 'cached', 'reexecuted']) expect(files.some((f) => f.startsWith(`${path}--`))).toBe(true);
});

test.each(files)('%s replays deterministically', async (file) => {
  const { workflowId, history } = load(file);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, historyFromJSON(history), workflowId);
});
