import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../server/free-port';
import { testEnv } from './services';

/** Running the stock MLflow tools of the project venv: pytest suites and real `mlflow server`s. */

export const ROOT = join(__dirname, '..', '..');
export const TOOLS_BIN = join(ROOT, '.tools', 'bin');

// Nothing in the client or server may reach the network, and nothing from the caller's MLflow
// environment may steer a suite.
const MLFLOW_ENV = { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_TIMEOUT: '60' };
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MLFLOW_')) delete env[key];
  return { ...env, ...MLFLOW_ENV, ...extra };
}

export interface Finished {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command to its end without blocking the event loop (mlfleet serves from this process). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, ms: Date.now() - started }));
  });
}

/** A pytest run of `files` with the given environment; throws with the output unless it passed. */
export async function expectSuitePasses(files: string[], env: Record<string, string>, server: string): Promise<void> {
  const result = await run(join(TOOLS_BIN, 'pytest'), [...files, '-q', '-p', 'no:cacheprovider'], cleanEnv(env));
  if (result.code !== 0) throw new Error(`compat suite failed against ${server} (exit ${result.code}):\n${result.output}`);
  console.log(`[compat] ${server}: ${result.output.trim().split('\n').pop()} (${(result.ms / 1000).toFixed(1)} s wall)`);
}

export interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Real `mlflow server`s, each on a database of its own in the test PostgreSQL, serving artifacts
 * from `artifactsDestination` through its proxy (the default `mlflow-artifacts:/` root, as mlfleet's).
 */
export class ReferenceServers {
  private readonly databases: string[] = [];
  private readonly servers: ReferenceServer[] = [];
  private admin: pg.Client | undefined;

  private async adminClient(): Promise<pg.Client> {
    if (!this.admin) {
      const adminUrl = new URL(testEnv().databaseUrl);
      adminUrl.pathname = '/postgres';
      this.admin = new pg.Client({ connectionString: adminUrl.toString() });
      await this.admin.connect();
    }
    return this.admin;
  }

  async start(artifactsDestination: string, opts: { env?: Record<string, string>; args?: string[] } = {}): Promise<ReferenceServer> {
    const database = `mlflow_ref_${randomBytes(6).toString('hex')}`;
    await (await this.adminClient()).query(`CREATE DATABASE ${database}`);
    this.databases.push(database);
    // SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the venv has psycopg2.
    const backendUri = new URL(testEnv().databaseUrl);
    backendUri.protocol = 'postgresql+psycopg2:';
    backendUri.pathname = `/${database}`;
    const port = await freePort();
    const workDir = mkdtempSync(join(testEnv().dataDir, 'mlflow-ref-'));
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      join(TOOLS_BIN, 'mlflow'),
      [
        'server',
        ...(opts.args ?? []),
        '--backend-store-uri',
        backendUri.toString(),
        '--artifacts-destination',
        artifactsDestination,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--workers',
        '1',
      ],
      // Its own process group, so stop() ends uvicorn's worker with it.
      { cwd: workDir, env: cleanEnv({ PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, ...opts.env }), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const server: ReferenceServer = {
      url,
      async stop() {
        if (child.pid === undefined || child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid, 'SIGTERM');
        const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      },
    };
    this.servers.push(server);
    // Creating the schema (alembic migrations) takes a while on a loaded machine.
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlflow server exited (${child.exitCode}):\n${output}`);
      if (await fetch(`${url}/health`).then((res) => res.ok, () => false)) return server;
      if (Date.now() > deadline) throw new Error(`mlflow server did not answer /health within 120 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** A database of its own for something else the reference needs (the basic-auth app's users). */
  async database(): Promise<string> {
    const database = `mlflow_ref_${randomBytes(6).toString('hex')}`;
    await (await this.adminClient()).query(`CREATE DATABASE ${database}`);
    this.databases.push(database);
    const uri = new URL(testEnv().databaseUrl);
    uri.protocol = 'postgresql+psycopg2:';
    uri.pathname = `/${database}`;
    return uri.toString();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
    if (this.admin) {
      for (const database of this.databases) await this.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await this.admin.end();
    }
  }
}
