import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalProvider } from '../../clouds/local/local-provider';
import type { AgentJob } from '../../domain/agent-job';
import { filePathOf, fileUriOf } from '../../storage/file-store';
import { eventually } from '../helpers/eventually';

// The local provider's agent as a real process: started through agent/cached-start.ts, which runs
// the bundle from V8's code cache and must never let a missing or bad cache stop a stage.

const scratch = mkdtempSync(join(tmpdir(), 'local-agent-'));
const provider = new LocalProvider(join(scratch, 'work'));
const agentDir = join(scratch, 'work', '.agent');
let counter = 0;

async function runStage(): Promise<string> {
  const n = ++counter;
  const input = join(scratch, `in-${n}.txt`);
  writeFileSync(input, `line ${n}\n`);
  const runUri = fileUriOf(join(scratch, 'artifacts', `run-${n}`));
  const job: AgentJob = {
    command: 'cat ${inputs.prev} > ${outputs.out} && echo appended >> ${outputs.out}',
    params: {},
    inputs: { prev: { uri: fileUriOf(input) } },
    outputs: { out: 'out.txt' },
    outputsUri: `${runUri}/outputs`,
    logsUri: `${runUri}/logs`,
    env: {},
  };
  const key = `stage-${n}`;
  await provider.start(key, job);
  const state = await eventually(async () => {
    const polled = await provider.poll(key);
    return polled.state === 'running' ? undefined : polled;
  }, 30_000);
  if (state.state !== 'exited') throw new Error(`stage ${key}: ${state.reason}`);
  expect(state.status.exit_code).toBe(0);
  await provider.terminate(key);
  return readFileSync(filePathOf(state.status.outputs.out!), 'utf8');
}

const cacheFiles = (): string[] => readdirSync(agentDir).filter((f) => f.endsWith('.v8cache'));

test('the first agent writes the code cache beside its bundle; later agents run from it', async () => {
  expect(await runStage()).toBe('line 1\nappended\n');
  // Written as the first agent exits, which is just after its status.
  const [cache] = await eventually(() => (cacheFiles().length > 0 ? cacheFiles() : undefined));
  expect(cache).toMatch(/^agent-[0-9a-f]{16}\.cjs\.v8cache$/);
  expect(existsSync(join(agentDir, cache!.replace(/\.v8cache$/, '')))).toBe(true);
  const written = readFileSync(join(agentDir, cache!));
  expect(await runStage()).toBe('line 2\nappended\n');
  // Accepted, so not written again.
  expect(readFileSync(join(agentDir, cache!)).equals(written)).toBe(true);
});

test('a cache V8 rejects (corrupt, or from another Node) costs one compile and is replaced', async () => {
  const [cache] = cacheFiles();
  const path = join(agentDir, cache!);
  writeFileSync(path, 'not a code cache');
  expect(await runStage()).toBe(`line ${counter}\nappended\n`);
  await eventually(() => (readFileSync(path, 'utf8') !== 'not a code cache' ? true : undefined));
  expect(readFileSync(path).length).toBeGreaterThan(1000);
});
