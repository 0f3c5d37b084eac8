import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../workers/free-port';
import { testEnv } from '../helpers/services';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

/**
 * The compatibility suite (test/compat/, pytest with the stock `mlflow` client pinned in
 * tools/requirements.txt) against mlfleet and against a real `mlflow server` from the same venv on
 * the same PostgreSQL. Both must pass, so the suite checks MLflow's behaviour, not our reading of it.
 */

const ROOT = join(__dirname, '..', '..');
const TOOLS_BIN = join(ROOT, '.tools', 'bin');

// Nothing in the client or server may reach the network, and nothing from the caller's MLflow
// environment may steer the suite.
const MLFLOW_ENV = { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_TIMEOUT: '60' };
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MLFLOW_')) delete env[key];
  return { ...env, ...MLFLOW_ENV, ...extra };
}

interface Finished {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command to its end without blocking the event loop (mlfleet serves from this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
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

const runSuite = (trackingUri: string): Promise<Finished> =>
  run(join(TOOLS_BIN, 'pytest'), ['test/compat', '-q', '-p', 'no:cacheprovider'], cleanEnv({ MLFLOW_TRACKING_URI: trackingUri }));

function expectPassed(result: Finished, server: string): void {
  if (result.code !== 0) throw new Error(`compat suite failed against ${server} (exit ${result.code}):\n${result.output}`);
  console.log(`[compat] ${server}: ${result.output.trim().split('\n').pop()} (${(result.ms / 1000).toFixed(1)} s wall)`);
}

let ctx: WorkflowTestContext;
let admin: pg.Client;
let refDatabase: string;
let refServer: ChildProcess | undefined;
let refOutput = '';
let refUrl: string;
let mlfleetUrl: string;

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (refServer?.exitCode != null) throw new Error(`mlflow server exited (${refServer.exitCode}):\n${refOutput}`);
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mlflow server did not answer /health within ${timeoutMs} ms:\n${refOutput}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  const databaseUrl = new URL(testEnv().databaseUrl);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  refDatabase = `mlflow_ref_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${refDatabase}`);

  // SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the venv has psycopg2.
  const backendUri = new URL(databaseUrl);
  backendUri.protocol = 'postgresql+psycopg2:';
  backendUri.pathname = `/${refDatabase}`;
  const port = await freePort();
  const workDir = mkdtempSync(join(testEnv().dataDir, 'mlflow-ref-'));
  refUrl = `http://127.0.0.1:${port}`;
  refServer = spawn(
    join(TOOLS_BIN, 'mlflow'),
    ['server', '--backend-store-uri', backendUri.toString(), '--default-artifact-root', join(workDir, 'artifacts'), '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
    // Its own process group, so afterAll stops uvicorn's worker with it.
    { cwd: workDir, env: cleanEnv({ PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}` }), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  refServer.stdout?.on('data', (chunk: Buffer) => (refOutput += chunk.toString('utf8')));
  refServer.stderr?.on('data', (chunk: Buffer) => (refOutput += chunk.toString('utf8')));

  ctx = await createWorkflowTestContext();
  mlfleetUrl = await ctx.startApi('mlflow-compat-test');
  // Creating the schema (alembic migrations) takes a while on a loaded machine.
  await waitForHealth(refUrl, 90_000);
}, 150_000);

afterAll(async () => {
  if (refServer?.pid !== undefined && refServer.exitCode === null) {
    const exited = new Promise((resolve) => refServer?.once('exit', resolve));
    process.kill(-refServer.pid, 'SIGTERM');
    const timer = setTimeout(() => refServer?.pid !== undefined && process.kill(-refServer.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await ctx?.close();
  if (admin) {
    if (refDatabase) await admin.query(`DROP DATABASE IF EXISTS ${refDatabase} WITH (FORCE)`);
    await admin.end();
  }
});

describe('MLflow compatibility suite (stock mlflow client, test/compat)', () => {
  test('passes against a real mlflow server', async () => {
    expectPassed(await runSuite(refUrl), `mlflow server ${refUrl}`);
  }, 240_000);

  test('passes against mlfleet', async () => {
    expectPassed(await runSuite(mlfleetUrl), `mlfleet ${mlfleetUrl}`);
  }, 240_000);
});
