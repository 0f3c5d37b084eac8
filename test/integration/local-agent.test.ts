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

async function runStage(command = 'cat ${inputs.prev} > ${outputs.out} && echo appended >> ${outputs.out}'): Promise<string> {
  const n = ++counter;
  const input = join(scratch, `in-${n}.txt`);
  writeFileSync(input, `line ${n}\n`);
  const runUri = fileUriOf(join(scratch, 'artifacts', `run-${n}`));
  const job: AgentJob = {
    command,
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

test("the agent starts without NODE_EXTRA_CA_CERTS (Node reads that file as it starts) and the stage's command has it back", async () => {
  const certs = join(scratch, 'extra-ca.pem');
  writeFileSync(certs, '');
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = certs;
  try {
    // The command's shell is the agent's child: /proc/$PPID/environ is what the agent started with.
    const out = await runStage(
      '{ echo "command: $NODE_EXTRA_CA_CERTS"; tr "\\0" "\\n" < /proc/$PPID/environ | grep -c "^NODE_EXTRA_CA_CERTS=" || true; } > ${outputs.out}',
    );
    expect(out).toBe(`command: ${certs}\n0\n`);
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
});
