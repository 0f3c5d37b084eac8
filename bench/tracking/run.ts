import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../server/embedded-postgres';
import { freePort, startOnFreePort } from '../../server/free-port';
import { machine } from '../common/machine';
import { writeResults } from '../common/results';
import { MlflowRestClient } from './client';
import { loadBenchConfig, type BenchConfig, type ServerName } from './config';
import { renderMarkdown, renderTable, type BenchResults, type ServerResult } from './report';
import { DRIVERS, SkipServer, type RunningServer } from './servers';
import {
  SEARCH_FILTER,
  SEARCH_ORDER_BY,
  createRunThroughput,
  historyLatency,
  logBatchThroughput,
  searchLatency,
  seedHistory,
  seedSearchExperiment,
} from './workloads';

// The tracking benchmark: mlfleet, the stock `mlflow server`, mlflow-go and FastTrackML
// in one run, on one embedded PostgreSQL (a database per server), driven by the same HTTP client.
// `npm run bench:tracking` (see docs/benchmarks.md); sizes are overridable for a smoke run.

const t0 = performance.now();
const log = (line: string): void => console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrlOf(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function step<T>(result: ServerResult, name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    result.errors[name] = message(err).slice(0, 2000);
    log(`  ${name} FAILED: ${message(err).split('\n')[0] ?? ''}`);
    return undefined;
  }
}

async function benchServer(name: ServerName, config: BenchConfig, baseUrl: string, adminUrl: string, workRoot: string): Promise<ServerResult> {
  const driver = DRIVERS[name];
  const result: ServerResult = { name, errors: {} };
  try {
    result.info = driver.prepare(log);
  } catch (err) {
    if (!(err instanceof SkipServer)) throw err;
    result.skipped = err.message;
    log(`${name}: SKIPPED: ${err.message}`);
    return result;
  }
  const database = `bench_${name.replace(/-/g, '_')}`;
  await withAdmin(adminUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  });
  const databaseUrl = databaseUrlOf(baseUrl, database);
  const workDir = join(workRoot, name);
  mkdirSync(workDir, { recursive: true });
  log(`${name} ${result.info.version}: starting (${result.info.settings}) …`);
  let server: RunningServer;
  const startedAt = performance.now();
  try {
    server = await driver.start({ databaseUrl, port: await freePort(), workDir, log });
  } catch (err) {
    result.skipped = `could not be started here: ${message(err)}`;
    log(`${name}: SKIPPED: ${result.skipped.split('\n')[0] ?? ''}`);
    return result;
  }
  result.startSeconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));
  const client = new MlflowRestClient(server.url, server.apiPrefix, config.clients * 2);
  const analyze = () => withAdmin(databaseUrl, (db) => db.query('VACUUM ANALYZE'));
  try {
    log(`${name}: up in ${result.startSeconds} s; a. log_batch of ${config.batchMetrics} metrics, ${config.clients} clients, ${config.seconds} s …`);
    result.logBatch = await step(result, 'logBatch', () => logBatchThroughput(client, config));
    if (result.logBatch) log(`  ${result.logBatch.perSecond} requests/s (p50 ${result.logBatch.p50Ms} ms, p95 ${result.logBatch.p95Ms} ms)`);

    log(`${name}: b. create_run + log_batch(10 params) + update, ${config.clients} clients, ${config.seconds} s …`);
    result.createRun = await step(result, 'createRun', () => createRunThroughput(client, config));
    if (result.createRun) log(`  ${result.createRun.perSecond} runs/s (p50 ${result.createRun.p50Ms} ms, p95 ${result.createRun.p95Ms} ms)`);

    log(`${name}: c. seeding ${config.runs} runs × (10 params, 10 metrics) through its API, ${config.clients} clients …`);
    const seeded = await step(result, 'searchSeed', () => seedSearchExperiment(client, config, log));
    if (seeded) {
      result.searchSeed = seeded.seeding;
      // Every database gets the same maintenance autovacuum would give it.
      await analyze();
      log(`${name}: c. search_runs "${SEARCH_FILTER}" ordered by ${SEARCH_ORDER_BY.join(', ')}, max_results ${config.searchMaxResults} …`);
      result.search = await step(result, 'search', () => searchLatency(client, config, seeded.experimentId));
      if (result.search) log(`  p50 ${result.search.p50Ms} ms, p95 ${result.search.p95Ms} ms (${result.search.samples} queries, ${result.search.returned} runs each)`);
    }

    log(`${name}: d. seeding one metric with ${config.historyPoints} points …`);
    const history = await step(result, 'historySeed', () => seedHistory(client, config, log));
    if (history) {
      result.historySeed = history.seeding;
      await analyze();
      log(`${name}: d. get_metric_history of ${config.historyPoints} points …`);
      result.history = await step(result, 'history', () => historyLatency(client, config, history.runId));
      if (result.history) log(`  p50 ${result.history.p50Ms} ms, p95 ${result.history.p95Ms} ms (${result.history.samples} reads)`);
    }
  } finally {
    client.close();
    await server.stop();
    log(`${name}: stopped`);
  }
  return result;
}

async function main(): Promise<void> {
  const config = loadBenchConfig(process.argv.slice(2), process.env);
  log(`config: ${JSON.stringify(config)}`);
  const workRoot = mkdtempSync(join(tmpdir(), 'mlfleet-bench-'));
  log(`starting PostgreSQL (embedded, data in ${workRoot}/pg) …`);
  const postgres = await startOnFreePort((port) => startEmbeddedPostgres({ dataDir: workRoot, port }));
  const adminUrl = databaseUrlOf(postgres.databaseUrl, 'postgres');
  const results: ServerResult[] = [];
  let postgresVersion: string;
  try {
    postgresVersion = await withAdmin(adminUrl, async (db) => String((await db.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version));
    for (const name of config.servers) results.push(await benchServer(name, config, postgres.databaseUrl, adminUrl, workRoot));
  } finally {
    await postgres.stop();
    rmSync(workRoot, { recursive: true, force: true });
  }

  const bench: BenchResults = {
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      postgres: `${postgresVersion} (embedded-postgres, one instance, a database per server, default settings except max_connections=200)`,
    },
    config,
    servers: results,
    durationSeconds: Math.round((performance.now() - t0) / 1000),
  };
  console.log(`\n${renderTable(bench)}`);
  writeResults('tracking', bench, renderMarkdown, log);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
