import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobFiles, runJob } from '../../agent/run-job';
import type { AgentJob } from '../../domain/agent-job';
import { packCodeBundle } from '../../storage/code-bundle';
import { FileStore, filePathOf, fileUriOf } from '../../storage/file-store';

const store = new FileStore();
const scratch = mkdtempSync(join(tmpdir(), 'agent-'));
const artifacts = fileUriOf(join(scratch, 'artifacts'));
let counter = 0;

function job(overrides: Partial<AgentJob>): { jobDir: string; job: AgentJob } {
  const jobDir = join(scratch, `job-${++counter}`);
  mkdirSync(jobDir);
  const runUri = `${artifacts}/run-${counter}`;
  return {
    jobDir,
    job: { command: 'true', params: {}, inputs: {}, outputs: {}, outputsUri: `${runUri}/outputs`, logsUri: `${runUri}/logs`, env: {}, ...overrides },
  };
}

test('the contract: code unpacked as the working directory, inputs and outputs by path and env, outputs and logs uploaded', async () => {
  const code = join(scratch, 'code');
  mkdirSync(code);
  writeFileSync(join(code, 'stage.sh'), 'echo "reading $MLFLEET_INPUT_NUMBERS"; sort -n "$1" > "$2"; echo "$GREETING" > "$MLFLEET_OUTPUT_NOTE"\n');
  const bundle = await packCodeBundle(code, artifacts, store);
  const upstream = join(scratch, 'numbers with space.txt');
  writeFileSync(upstream, '3\n1\n2\n');
  const { jobDir, job: spec } = job({
    command: 'sh stage.sh ${inputs.numbers} ${outputs.sorted} && test "$MLFLOW_RUN_ID" = r1 && test "${params.n}" = 3',
    params: { n: 3 },
    codeBundleUri: bundle.uri,
    inputs: { numbers: { uri: fileUriOf(upstream) } },
    outputs: { sorted: 'out/sorted.txt', note: 'out/note.txt' },
    env: { MLFLOW_RUN_ID: 'r1', GREETING: 'hello ${params.n} from ${inputs.numbers}' },
  });
  const status = await runJob(jobDir, spec, store);

  expect(status).toMatchObject({ exit_code: 0 });
  expect(readFileSync(filePathOf(status.outputs.sorted!), 'utf8')).toBe('1\n2\n3\n');
  expect(status.outputs.sorted).toBe(`${spec.outputsUri}/sorted/sorted.txt`);
  // Env values are substituted as plain text (no shell quoting), with the materialized input's path.
  const materialized = join(jobDir, 'inputs', 'numbers', 'numbers with space.txt');
  expect(readFileSync(filePathOf(status.outputs.note!), 'utf8')).toBe(`hello 3 from ${materialized}\n`);
  expect(readFileSync(filePathOf(`${spec.logsUri}/stdout.log`), 'utf8')).toBe(`reading ${materialized}\n`);
  expect(JSON.parse(readFileSync(join(jobDir, jobFiles.status), 'utf8'))).toEqual(status);
});

test('a failing command: its exit code, no outputs, and its stderr kept', async () => {
  const { jobDir, job: spec } = job({ command: 'echo boom >&2; exit 3', outputs: { x: 'x.txt' } });
  const status = await runJob(jobDir, spec, store);
  expect(status).toMatchObject({ exit_code: 3, outputs: {} });
  expect(readFileSync(filePathOf(`${spec.logsUri}/stderr.log`), 'utf8')).toBe('boom\n');
});

test('a declared output the command did not write fails the stage with a clear error', async () => {
  const { jobDir, job: spec } = job({ command: 'true', outputs: { model: 'out/model.json' } });
  const status = await runJob(jobDir, spec, store);
  expect(status).toMatchObject({ exit_code: -1, error: "the command exited 0 but did not write output 'model' (out/model.json)" });
});

test('an input that is not there fails before the command runs', async () => {
  const { jobDir, job: spec } = job({ command: 'touch ran', inputs: { data: { uri: fileUriOf(join(scratch, 'missing')) } } });
  const status = await runJob(jobDir, spec, store);
  expect(status.error).toBe(`input 'data' not found at ${fileUriOf(join(scratch, 'missing'))}`);
  expect(existsSync(join(jobDir, 'work', 'ran'))).toBe(false);
});

test('SIGTERM to the agent stops the command and still records the outcome', async () => {
  const signals = new EventEmitter();
  const { jobDir, job: spec } = job({ command: 'echo started; sleep 30' });
  const running = runJob(jobDir, spec, store, signals);
  for (let i = 0; i < 100 && !existsSync(join(jobDir, jobFiles.commandPid)); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  signals.emit('SIGTERM');
  const status = await running;
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(status).toMatchObject({ exit_code: 143, signal: 'SIGTERM' });
  expect(existsSync(filePathOf(`${spec.logsUri}/stdout.log`))).toBe(true);
});
