import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileUriOf } from '../../storage/file-store';
import { ensureVenv, type VenvSpec } from '../common/venv';
import { MlflowRestClient } from './client';
import type { ServerName } from './config';

// How each tracking server is installed, started on its own database and stopped. The stock MLflow
// server comes from the project venv (.tools/, tools/requirements.txt); the peers from their own
// venv .tools/bench/ (bench/tracking/requirements.txt), created here on first use.

const ROOT = join(__dirname, '..', '..');
const TOOLS_BIN = join(ROOT, '.tools', 'bin');
const BENCH_VENV = join(ROOT, '.tools', 'bench');
const BENCH_BIN = join(BENCH_VENV, 'bin');

/** uvicorn / gunicorn worker processes of the Python servers: `mlflow server`'s own default. */
export const PYTHON_WORKERS = 4;

/** A server that cannot be installed or started here: the bench reports it as skipped, with why. */
export class SkipServer extends Error {
  override readonly name = 'SkipServer';
}

export interface ServerInfo {
  name: ServerName;
  version: string;
  /** What a reader needs to reproduce the figures: processes, workers, pools. */
  settings: string;
}

export interface RunningServer {
  url: string;
  apiPrefix: string;
  stop(): Promise<void>;
}

export interface StartContext {
  /** postgres://… of this server's own (empty) database. */
  databaseUrl: string;
  port: number;
  workDir: string;
  log: (line: string) => void;
}

export interface ServerDriver {
  name: ServerName;
  /** Installs what is missing and describes the server; throws SkipServer when it cannot run here. */
  prepare(log: (line: string) => void): ServerInfo;
  start(ctx: StartContext): Promise<RunningServer>;
}

// Nothing may reach the network, and nothing from the caller's MLflow environment may steer a server.
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MLFLOW_')) delete env[key];
  return { ...env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', ...extra };
}

function output(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? cleanEnv({}), timeout: 120_000 });
  if (result.error) throw new SkipServer(`could not run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new SkipServer(`${cmd} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || result.stdout).trim().slice(-800)}`);
  return result.stdout.trim();
}

// ---- the peers' venv --------------------------------------------------------------------------------

const PEER_VENV: VenvSpec = {
  dir: BENCH_VENV,
  requirements: [{ file: join(__dirname, 'requirements.txt') }, { file: join(__dirname, 'requirements-nodeps.txt'), noDeps: true }],
  what: 'the peers (mlflow-go-backend, fasttrackml)',
};

let peerVenv: { ok: true } | { ok: false; reason: string } | undefined;

/** Creates or refreshes .tools/bench once per run; a failure is kept, so both peers report it as their skip. */
function ensurePeerVenv(log: (line: string) => void): void {
  if (!peerVenv) {
    try {
      ensureVenv(PEER_VENV, { log, run: output, skip: (reason) => new SkipServer(reason) });
      peerVenv = { ok: true };
    } catch (err) {
      peerVenv = { ok: false, reason: `installing bench/tracking/requirements*.txt into .tools/bench/ failed: ${(err as Error).message}` };
    }
  }
  if (!peerVenv.ok) throw new SkipServer(peerVenv.reason);
}

const pipVersion = (pkg: string): string => {
  const shown = output(join(BENCH_BIN, 'pip'), ['show', pkg]);
  return /^Version: (.+)$/m.exec(shown)?.[1] ?? 'unknown';
};

// ---- processes ------------------------------------------------------------------------------------

function startProcess(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; log: (line: string) => void }): {
  child: ChildProcess;
  output: () => string;
} {
  // Its own process group, so stopping it reaches the workers it forks too.
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      lines.push(line);
      if (lines.length > 60) lines.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (err) => lines.push(`spawn error: ${err.message}`));
  return { child, output: () => lines.join('\n') };
}

/** Every live descendant of `pid` (from /proc), e.g. the `mlflow server` that mlflow-go starts in a group of its own. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const visit = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const spawned = descendants(child.pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  // Workers that outlived their parent.
  signal('SIGKILL');
  for (const pid of spawned) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function waitReady(url: string, child: ChildProcess, output: () => string, path: string, timeoutMs: number): Promise<void> {
  const probe = new MlflowRestClient(url);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new SkipServer(`the server exited during start-up (${child.exitCode ?? child.signalCode}):\n${output().slice(-2000)}`);
      }
      const status = await probe.status(path);
      if (status >= 200 && status < 300) return;
      if (Date.now() > deadline) throw new SkipServer(`the server did not answer ${path} within ${timeoutMs / 1000} s:\n${output().slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    probe.close();
  }
}

async function launch(
  ctx: StartContext,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyPath: string,
  apiPrefix = '/api/2.0/mlflow',
): Promise<RunningServer> {
  const url = `http://127.0.0.1:${ctx.port}`;
  const { child, output } = startProcess(cmd, args, { cwd: ctx.workDir, env, log: ctx.log });
  try {
    // Creating a schema with alembic takes a while on a loaded 2-core machine.
    await waitReady(url, child, output, readyPath, 240_000);
  } catch (err) {
    await stopGroup(child);
    throw err;
  }
  return { url, apiPrefix, stop: () => stopGroup(child) };
}

/** SQLAlchemy 2 maps plain postgresql:// to psycopg 3; both venvs have psycopg2. */
function sqlalchemyUri(databaseUrl: string): string {
  const uri = new URL(databaseUrl);
  uri.protocol = 'postgresql+psycopg2:';
  return uri.toString();
}

// ---- the servers ------------------------------------------------------------------------------------

const mlfleet: ServerDriver = {
  name: 'mlfleet',
  prepare: () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    return {
      name: 'mlfleet',
      version: `${pkg.version} (Node ${process.version})`,
      settings: '1 Node.js process (Fastify), pg pool of 10 connections',
    };
  },
  start: (ctx) =>
    launch(
      ctx,
      process.execPath,
      [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(__dirname, 'mlfleet-server.ts')],
      { ...process.env, DATABASE_URL: ctx.databaseUrl, PORT: String(ctx.port), ARTIFACT_ROOT: fileUriOf(join(ctx.workDir, 'artifacts')) },
      '/health',
    ),
};

const mlflow: ServerDriver = {
  name: 'mlflow',
  prepare: () => {
    const bin = join(TOOLS_BIN, 'mlflow');
    if (!existsSync(bin)) throw new SkipServer('.tools/bin/mlflow is missing: run `npm run setup`');
    return {
      name: 'mlflow',
      version: output(bin, ['--version']).replace(/^.*version\s*/i, ''),
      settings: `\`mlflow server\` (uvicorn, FastAPI), --workers ${PYTHON_WORKERS} (its default), SQLAlchemy pool per worker; MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`,
    };
  },
  start: (ctx) =>
    launch(
      ctx,
      join(TOOLS_BIN, 'mlflow'),
      ['server', '--backend-store-uri', sqlalchemyUri(ctx.databaseUrl), '--default-artifact-root', join(ctx.workDir, 'artifacts'), '--host', '127.0.0.1', '--port', String(ctx.port), '--workers', String(PYTHON_WORKERS)],
      // The job runner (huey consumers, ~10 processes polling the database) serves MLflow's GenAI
      // jobs, not tracking; it would only take CPU from the server measured.
      cleanEnv({ PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' }),
      '/health',
    ),
};

/**
 * The 0.2.2 wheel for Linux ships its Go library under the macOS name (libmlflow-go-backend.dylib),
 * so the loader, which looks for the .so, would try to rebuild it with Go and zig. A folder of
 * symlinks with the Linux names, passed as MLFLOW_GO_LIBRARY_PATH, lets it load the shipped library.
 */
function mlflowGoLibraryDir(): string {
  const packageDir = output(join(BENCH_BIN, 'python'), ['-c', 'import os, mlflow_go_backend; print(os.path.dirname(mlflow_go_backend.__file__))']);
  const shipped = join(packageDir, 'libmlflow-go-backend.dylib');
  if (existsSync(join(packageDir, 'libmlflow-go-backend.so'))) return packageDir;
  if (!existsSync(shipped)) throw new SkipServer(`mlflow-go-backend ships no Go library in ${packageDir}`);
  const dir = join(BENCH_VENV, 'mlflow-go-lib');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(shipped, join(dir, 'libmlflow-go-backend.so'));
  symlinkSync(join(packageDir, 'libmlflow-go-backend.h'), join(dir, 'libmlflow-go-backend.h'));
  return dir;
}

let mlflowGoLib: string | undefined;

const mlflowGo: ServerDriver = {
  name: 'mlflow-go',
  prepare: (log) => {
    ensurePeerVenv(log);
    mlflowGoLib = mlflowGoLibraryDir();
    return {
      name: 'mlflow-go',
      version: `mlflow-go-backend ${pipVersion('mlflow-go-backend')} (with mlflow ${pipVersion('mlflow')})`,
      settings: `\`mlflow-go server\`: one Go process serving the ported endpoints, proxying the rest to a \`mlflow server\` (gunicorn) it starts with --workers ${PYTHON_WORKERS}`,
    };
  },
  start: (ctx) =>
    launch(
      ctx,
      join(BENCH_BIN, 'mlflow-go'),
      [
        'server',
        '--backend-store-uri',
        sqlalchemyUri(ctx.databaseUrl),
        '--default-artifact-root',
        join(ctx.workDir, 'artifacts'),
        '--host',
        '127.0.0.1',
        '--port',
        String(ctx.port),
        '--workers',
        String(PYTHON_WORKERS),
        '--go-opts',
        'log_level=warn',
      ],
      cleanEnv({ PATH: `${BENCH_BIN}:${process.env.PATH ?? ''}`, MLFLOW_GO_LIBRARY_PATH: mlflowGoLib ?? '' }),
      '/health',
    ),
};

const fasttrackml: ServerDriver = {
  name: 'fasttrackml',
  prepare: (log) => {
    ensurePeerVenv(log);
    const bin = join(BENCH_BIN, 'fml');
    if (!existsSync(bin)) throw new SkipServer('the fasttrackml wheel installed no `fml` binary');
    return {
      name: 'fasttrackml',
      version: output(bin, ['--version']).replace(/^.*version\s*/i, ''),
      settings: '`fml server`: one Go process, database pool of 20 connections (its default)',
    };
  },
  start: (ctx) =>
    launch(
      ctx,
      join(BENCH_BIN, 'fml'),
      [
        'server',
        '--database-uri',
        ctx.databaseUrl,
        '--listen-address',
        `127.0.0.1:${ctx.port}`,
        '--default-artifact-root',
        join(ctx.workDir, 'artifacts'),
        '--log-level',
        'warn',
      ],
      cleanEnv({}),
      '/health',
    ),
};

export const DRIVERS: Readonly<Record<ServerName, ServerDriver>> = { mlfleet, mlflow, 'mlflow-go': mlflowGo, fasttrackml };
