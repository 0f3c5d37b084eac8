// The benchmarks' sizes come from environment variables or the equivalent `--name=value` flags
// (`--history-points=500` for BENCH_HISTORY_POINTS), parsed here the same way for every benchmark.

/** An integer option, named by its environment variable; the flag is derived from that name. */
export interface IntegerOption {
  env: string;
  default: number;
  /** The smallest value accepted, said in the error; without one the option must be positive. */
  min?: number;
}

/** The comma-separated list of what to run (servers, systems), all of `known` by default. */
export interface ListOption<Name extends string> {
  env: string;
  known: readonly Name[];
  /** What one name is, for the error on an unknown one: `server`, `system`. */
  noun: string;
}

export interface OptionSpec<Key extends string, Name extends string> {
  /** The npm script that runs the benchmark, for the usage line. */
  script: string;
  /** In the order usage lists them and the parsed options come in. */
  integers: Readonly<Record<Key, IntegerOption>>;
  list: ListOption<Name>;
}

export interface ParsedOptions<Key extends string, Name extends string> {
  integers: Record<Key, number>;
  list: Name[];
}

/** `BENCH_HISTORY_POINTS` ⇄ `--history-points`. */
const flagOf = (envName: string): string => `--${envName.replace(/^BENCH_/, '').toLowerCase().replace(/_/g, '-')}`;

const entries = <Key extends string>(integers: Readonly<Record<Key, IntegerOption>>): Array<[Key, IntegerOption]> =>
  Object.entries(integers) as Array<[Key, IntegerOption]>;

function usage<Key extends string, Name extends string>(spec: OptionSpec<Key, Name>): string {
  const lines = entries(spec.integers).map(([, option]) => `  ${flagOf(option.env)}=N  (${option.env}, default ${option.default})`);
  lines.push(`  ${flagOf(spec.list.env)}=a,b  (${spec.list.env}, default ${spec.list.known.join(',')})`);
  return `usage: npm run ${spec.script} -- [options]\n${lines.join('\n')}`;
}

/** A flag wins over its environment variable; an empty value leaves the default. */
export function parseOptions<Key extends string, Name extends string>(
  spec: OptionSpec<Key, Name>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ParsedOptions<Key, Name> {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^(--[a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unknown argument '${arg}'\n${usage(spec)}`);
    flags.set(match[1] as string, match[2] as string);
  }
  // Taking each known flag out of `flags` leaves the unknown ones to report.
  const take = (envName: string): string | undefined => {
    const flag = flagOf(envName);
    const text = flags.get(flag) ?? env[envName];
    flags.delete(flag);
    return text;
  };
  const integers = {} as Record<Key, number>;
  for (const [key, option] of entries(spec.integers)) {
    integers[key] = option.default;
    const text = take(option.env);
    if (text === undefined || text === '') continue;
    const value = Number(text);
    const min = option.min ?? 1;
    if (!Number.isInteger(value) || value < min) {
      const expected = option.min === undefined ? 'a positive integer' : `an integer ≥ ${min}`;
      throw new Error(`${option.env} / ${flagOf(option.env)}: expected ${expected}, got '${text}'`);
    }
    integers[key] = value;
  }
  let list = [...spec.list.known];
  const names = take(spec.list.env);
  if (names) {
    const chosen = names.split(',').map((s) => s.trim());
    for (const name of chosen) {
      if (!(spec.list.known as readonly string[]).includes(name)) {
        throw new Error(`unknown ${spec.list.noun} '${name}' (known: ${spec.list.known.join(', ')})`);
      }
    }
    list = chosen as Name[];
  }
  if (flags.size > 0) throw new Error(`unknown option ${[...flags.keys()].join(', ')}\n${usage(spec)}`);
  return { integers, list };
}
