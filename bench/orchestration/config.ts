import { parseOptions, type OptionSpec } from '../common/options';

// Sizes of the orchestration benchmark. The defaults are the benchmark as specified (20 stages,
// relaunch from stage 15, 3 measured rounds after 1 warm-up round, the cached relaunch 5 times a
// round); every one can be overridden by an environment variable or the equivalent flag
// (`--stages=5` for BENCH_STAGES) for a smoke run.

export const SYSTEM_NAMES = ['mlfleet', 'metaflow'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export interface BenchConfig {
  /** Stages of the linear pipeline (steps of the flow). */
  stages: number;
  /** The stage a re-execution starts from (1-based); the stages before it are reused. */
  from: number;
  /** Measured rounds; each round is a cold launch, a cached relaunch and a relaunch from `from`. */
  repeats: number;
  /** Rounds run first and not measured (JIT, bytecode caches, first connections). */
  warmup: number;
  /**
   * Cached relaunches per round: the shortest workload (a tenth of a second to a second) is the
   * one a contended host's jitter moves most, so each round samples it this many times.
   */
  cachedRepeats: number;
  /** Which systems to run, in order. */
  systems: SystemName[];
}

const OPTIONS: OptionSpec<Exclude<keyof BenchConfig, 'systems'>, SystemName> = {
  script: 'bench:orchestration',
  integers: {
    stages: { env: 'BENCH_STAGES', default: 20, min: 1 },
    from: { env: 'BENCH_FROM', default: 15, min: 1 },
    repeats: { env: 'BENCH_REPEATS', default: 3, min: 1 },
    // Only the warm-up may be skipped entirely.
    warmup: { env: 'BENCH_WARMUP', default: 1, min: 0 },
    cachedRepeats: { env: 'BENCH_CACHED_REPEATS', default: 5, min: 1 },
  },
  list: { env: 'BENCH_SYSTEMS', known: SYSTEM_NAMES, noun: 'system' },
};

export function loadBenchConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig {
  const { integers, list } = parseOptions(OPTIONS, argv, env);
  const config: BenchConfig = { ...integers, systems: list };
  // Metaflow's flow needs `start` and `end`, and re-executing from stage 1 would be a cold launch.
  if (config.stages < 2) throw new Error('BENCH_STAGES: at least 2 (a flow has a start and an end step)');
  if (config.from < 2 || config.from > config.stages) throw new Error(`BENCH_FROM: expected 2 to ${config.stages} (BENCH_STAGES), got ${config.from}`);
  return config;
}
