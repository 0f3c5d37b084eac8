// Sizes of the orchestration benchmark. The defaults are the benchmark as specified (20 stages,
// relaunch from stage 15, 3 measured rounds after 1 warm-up round); every one can be overridden by
// an environment variable or the equivalent flag (`--stages=5` for BENCH_STAGES) for a smoke run.

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
  /** Which systems to run, in order. */
  systems: SystemName[];
}

const DEFAULTS: BenchConfig = { stages: 20, from: 15, repeats: 3, warmup: 1, systems: [...SYSTEM_NAMES] };

const ENV_NAMES: Record<Exclude<keyof BenchConfig, 'systems'>, string> = {
  stages: 'BENCH_STAGES',
  from: 'BENCH_FROM',
  repeats: 'BENCH_REPEATS',
  warmup: 'BENCH_WARMUP',
};

/** `BENCH_REPEATS` ⇄ `--repeats`. */
const flagOf = (envName: string): string => `--${envName.replace(/^BENCH_/, '').toLowerCase().replace(/_/g, '-')}`;

export function usage(): string {
  const lines = Object.entries(ENV_NAMES).map(
    ([key, env]) => `  ${flagOf(env)}=N  (${env}, default ${DEFAULTS[key as keyof typeof ENV_NAMES]})`,
  );
  lines.push(`  --systems=a,b  (BENCH_SYSTEMS, default ${SYSTEM_NAMES.join(',')})`);
  return `usage: npm run bench:orchestration -- [options]\n${lines.join('\n')}`;
}

export function loadBenchConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^(--[a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unknown argument '${arg}'\n${usage()}`);
    flags.set(match[1] as string, match[2] as string);
  }
  const config: BenchConfig = { ...DEFAULTS, systems: [...DEFAULTS.systems] };
  for (const [key, envName] of Object.entries(ENV_NAMES) as Array<[keyof typeof ENV_NAMES, string]>) {
    const flag = flagOf(envName);
    const text = flags.get(flag) ?? env[envName];
    flags.delete(flag);
    if (text === undefined || text === '') continue;
    const value = Number(text);
    // Only the warm-up may be skipped entirely.
    const min = key === 'warmup' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) throw new Error(`${envName} / ${flag}: expected an integer ≥ ${min}, got '${text}'`);
    config[key] = value;
  }
  const systems = flags.get('--systems') ?? env.BENCH_SYSTEMS;
  flags.delete('--systems');
  if (systems) {
    const names = systems.split(',').map((s) => s.trim());
    for (const name of names) {
      if (!(SYSTEM_NAMES as readonly string[]).includes(name)) throw new Error(`unknown system '${name}' (known: ${SYSTEM_NAMES.join(', ')})`);
    }
    config.systems = names as SystemName[];
  }
  if (flags.size > 0) throw new Error(`unknown option ${[...flags.keys()].join(', ')}\n${usage()}`);
  // Metaflow's flow needs `start` and `end`, and re-executing from stage 1 would be a cold launch.
  if (config.stages < 2) throw new Error('BENCH_STAGES: at least 2 (a flow has a start and an end step)');
  if (config.from < 2 || config.from > config.stages) throw new Error(`BENCH_FROM: expected 2 to ${config.stages} (BENCH_STAGES), got ${config.from}`);
  return config;
}
