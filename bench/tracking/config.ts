import { parseOptions, type OptionSpec } from '../common/options';

// Sizes and durations of the tracking benchmark. The defaults are the benchmark's reference sizes; every one can be
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

const OPTIONS: OptionSpec<Exclude<keyof BenchConfig, 'servers'>, ServerName> = {
  script: 'bench:tracking',
  integers: {
    clients: { env: 'BENCH_CLIENTS', default: 8 },
    batchMetrics: { env: 'BENCH_BATCH_METRICS', default: 1000 },
    seconds: { env: 'BENCH_SECONDS', default: 15 },
    runs: { env: 'BENCH_RUNS', default: 10_000 },
    searchMaxResults: { env: 'BENCH_SEARCH_MAX_RESULTS', default: 1000 },
    searchQueries: { env: 'BENCH_SEARCH_QUERIES', default: 30 },
    searchSeconds: { env: 'BENCH_SEARCH_SECONDS', default: 45 },
    historyPoints: { env: 'BENCH_HISTORY_POINTS', default: 100_000 },
    historyQueries: { env: 'BENCH_HISTORY_QUERIES', default: 10 },
    historySeconds: { env: 'BENCH_HISTORY_SECONDS', default: 45 },
  },
  list: { env: 'BENCH_SERVERS', known: SERVER_NAMES, noun: 'server' },
};

export function loadBenchConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig {
  const { integers, list } = parseOptions(OPTIONS, argv, env);
  const config: BenchConfig = { ...integers, servers: list };
  if (config.batchMetrics > 1000) throw new Error('BENCH_BATCH_METRICS: MLflow accepts at most 1000 metrics per log_batch');
  return config;
}
