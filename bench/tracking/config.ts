// Sizes and durations of the tracking benchmark. The defaults are issue 4's sizes; every one can be
// overridden by an environment variable or the equivalent flag (`--runs=500` for BENCH_RUNS) for a
// quick smoke run.

export const SERVER_NAMES = ['mlfleet', 'mlflow', 'mlflow-go', 'fasttrackml'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface BenchConfig {
  /** Concurrent clients of the log_batch and create_run workloads (and of seeding). */
  clients: number;
  /** Metrics per log_batch request (workload a). */
  batchMetrics: number;
  /** Measured seconds of each throughput workload (a, b), after a short warm-up. */
  seconds: number;
  /** Runs in the search experiment, each with 10 params and 10 metrics (workload c). */
  runs: number;
  /** max_results of each search_runs request: MLflow's default page. */
  searchMaxResults: number;
  /** Timed search_runs requests (workload c), at most `searchSeconds` of them. */
  searchQueries: number;
  searchSeconds: number;
  /** Points in the one metric whose history is read (workload d). */
  historyPoints: number;
  historyQueries: number;
  historySeconds: number;
  /** Which servers to run, in order. */
  servers: ServerName[];
}

const DEFAULTS: BenchConfig = {
  clients: 8,
  batchMetrics: 1000,
  seconds: 15,
  runs: 10_000,
  searchMaxResults: 1000,
  searchQueries: 30,
  searchSeconds: 45,
  historyPoints: 100_000,
  historyQueries: 10,
  historySeconds: 45,
  servers: [...SERVER_NAMES],
};

const ENV_NAMES: Record<Exclude<keyof BenchConfig, 'servers'>, string> = {
  clients: 'BENCH_CLIENTS',
  batchMetrics: 'BENCH_BATCH_METRICS',
  seconds: 'BENCH_SECONDS',
  runs: 'BENCH_RUNS',
  searchMaxResults: 'BENCH_SEARCH_MAX_RESULTS',
  searchQueries: 'BENCH_SEARCH_QUERIES',
  searchSeconds: 'BENCH_SEARCH_SECONDS',
  historyPoints: 'BENCH_HISTORY_POINTS',
  historyQueries: 'BENCH_HISTORY_QUERIES',
  historySeconds: 'BENCH_HISTORY_SECONDS',
};

/** `BENCH_HISTORY_POINTS` ⇄ `--history-points`. */
const flagOf = (envName: string): string => `--${envName.replace(/^BENCH_/, '').toLowerCase().replace(/_/g, '-')}`;

export function usage(): string {
  const lines = Object.entries(ENV_NAMES).map(
    ([key, env]) => `  ${flagOf(env)}=N  (${env}, default ${DEFAULTS[key as keyof typeof ENV_NAMES]})`,
  );
  lines.push(`  --servers=a,b  (BENCH_SERVERS, default ${SERVER_NAMES.join(',')})`);
  return `usage: npm run bench:tracking -- [options]\n${lines.join('\n')}`;
}

export function loadBenchConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^(--[a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unknown argument '${arg}'\n${usage()}`);
    flags.set(match[1] as string, match[2] as string);
  }
  const config: BenchConfig = { ...DEFAULTS, servers: [...DEFAULTS.servers] };
  for (const [key, envName] of Object.entries(ENV_NAMES) as Array<[keyof typeof ENV_NAMES, string]>) {
    const flag = flagOf(envName);
    const text = flags.get(flag) ?? env[envName];
    flags.delete(flag);
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${envName} / ${flag}: expected a positive integer, got '${text}'`);
    config[key] = value;
  }
  const servers = flags.get('--servers') ?? env.BENCH_SERVERS;
  flags.delete('--servers');
  if (servers) {
    const names = servers.split(',').map((s) => s.trim());
    for (const name of names) {
      if (!(SERVER_NAMES as readonly string[]).includes(name)) throw new Error(`unknown server '${name}' (known: ${SERVER_NAMES.join(', ')})`);
    }
    config.servers = names as ServerName[];
  }
  if (flags.size > 0) throw new Error(`unknown option ${[...flags.keys()].join(', ')}\n${usage()}`);
  if (config.batchMetrics > 1000) throw new Error('BENCH_BATCH_METRICS: MLflow accepts at most 1000 metrics per log_batch');
  return config;
}
