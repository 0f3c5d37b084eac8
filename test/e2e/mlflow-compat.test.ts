import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { createStorage } from '../../storage/storage';
import { freePort } from '../../workers/free-port';
import { startMoto, type Moto } from '../helpers/moto';
import { testEnv } from '../helpers/services';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

/**
 * The compatibility suite (test/compat/, pytest with the stock `mlflow` client pinned in
 * tools/requirements.txt) against mlfleet and against a real `mlflow server` from the same venv on
 * the same PostgreSQL. Both must pass, so the suite checks MLflow's behaviour, not our reading of it.
 * Each runs twice: with a file artifact store (the whole suite) and with an S3 one on moto (the
 * artifact tests).
 */

const ROOT = join(__dirname, '..', '..');
const BUCKET = 'compat';
const S3_TESTS = 'test/compat/test_artifacts.py';
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

/** The whole suite, or only the given files of test/compat. */
const runSuite = (trackingUri: string, files = ['test/compat']): Promise<Finished> =>
  run(join(TOOLS_BIN, 'pytest'), [...files, '-q', '-p', 'no:cacheprovider'], cleanEnv({ MLFLOW_TRACKING_URI: trackingUri }));

function expectPassed(result: Finished, server: string): void {
  if (result.code !== 0) throw new Error(`compat suite failed against ${server} (exit ${result.code}):\n${result.output}`);
  console.log(`[compat] ${server}: ${result.output.trim().split('\n').pop()} (${(result.ms / 1000).toFixed(1)} s wall)`);
}

/** The keys under `prefix` in the bucket: proof that a server wrote to S3 and not elsewhere. */
async function keysUnder(prefix: string): Promise<string[]> {
  const s3 = moto.client();
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (page.Contents ?? []).map((object) => object.Key ?? '');
  } finally {
    s3.destroy();
  }
}

interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

let ctx: WorkflowTestContext;
let admin: pg.Client;
let moto: Moto;
const refDatabases: string[] = [];
const refServers: ReferenceServer[] = [];
let refFile: ReferenceServer;
let refS3: ReferenceServer;
let mlfleetFile: string;
let mlfleetS3: string;

/**
 * A real `mlflow server` on a database of its own in the test PostgreSQL, serving artifacts from
 * `artifactsDestination` through its proxy (the default `mlflow-artifacts:/` root, as mlfleet's).
 */
async function startReferenceServer(artifactsDestination: string, env: Record<string, string> = {}): Promise<ReferenceServer> {
  const databaseUrl = new URL(testEnv().databaseUrl);
  const database = `mlflow_ref_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  refDatabases.push(database);
  // SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the venv has psycopg2.
  const backendUri = new URL(databaseUrl);
  backendUri.protocol = 'postgresql+psycopg2:';
  backendUri.pathname = `/${database}`;
  const port = await freePort();
  const workDir = mkdtempSync(join(testEnv().dataDir, 'mlflow-ref-'));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    join(TOOLS_BIN, 'mlflow'),
    ['server', '--backend-store-uri', backendUri.toString(), '--artifacts-destination', artifactsDestination, '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
    // Its own process group, so stop() ends uvicorn's worker with it.
    { cwd: workDir, env: cleanEnv({ PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, ...env }), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
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
  refServers.push(server);
  // Creating the schema (alembic migrations) takes a while on a loaded machine.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mlflow server exited (${child.exitCode}):\n${output}`);
    if (await fetch(`${url}/health`).then((res) => res.ok, () => false)) return server;
    if (Date.now() > deadline) throw new Error(`mlflow server did not answer /health within 120 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  const adminUrl = new URL(testEnv().databaseUrl);
  adminUrl.pathname = '/postgres';
  admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  moto = await startMoto();
  await moto.createBucket(BUCKET);
  ctx = await createWorkflowTestContext();
  mlfleetFile = await ctx.startApi('mlflow-compat-test');
  mlfleetS3 = await ctx.startApi('mlflow-compat-s3-test', { artifactRoot: `s3://${BUCKET}/mlfleet`, storage: createStorage({ s3Client: moto.client() }) });
  [refFile, refS3] = await Promise.all([
    startReferenceServer(join(mkdtempSync(join(testEnv().dataDir, 'mlflow-ref-artifacts-')), 'artifacts')),
    startReferenceServer(`s3://${BUCKET}/mlflow`, moto.env),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all(refServers.map((server) => server.stop()));
  await ctx?.close();
  await moto?.stop();
  if (admin) {
    for (const database of refDatabases) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
});

describe('MLflow compatibility suite (stock mlflow client, test/compat)', () => {
  test('passes against a real mlflow server (file artifact store)', async () => {
    expectPassed(await runSuite(refFile.url), `mlflow server ${refFile.url}`);
  }, 240_000);

  test('passes against mlfleet (file:// artifact root)', async () => {
    expectPassed(await runSuite(mlfleetFile), `mlfleet ${mlfleetFile}`);
  }, 240_000);

  // Only the artifact tests depend on the store; the rest ran above.
  test('artifacts pass against a real mlflow server (S3 artifact store on moto)', async () => {
    expectPassed(await runSuite(refS3.url, [S3_TESTS]), `mlflow server ${refS3.url}, s3`);
    expect(await keysUnder('mlflow/')).toEqual(expect.arrayContaining([expect.stringMatching(/^mlflow\/\d+\/\w+\/artifacts\/folder\/nested\/deeper\/c\.bin$/)]));
  }, 120_000);

  test('artifacts pass against mlfleet (s3:// artifact root on moto)', async () => {
    expectPassed(await runSuite(mlfleetS3, [S3_TESTS]), `mlfleet ${mlfleetS3}, s3`);
    expect(await keysUnder('mlfleet/')).toEqual(expect.arrayContaining([expect.stringMatching(/^mlfleet\/\d+\/\w+\/artifacts\/folder\/nested\/deeper\/c\.bin$/)]));
  }, 120_000);
});
