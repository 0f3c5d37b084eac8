import { z } from 'zod';
import { CLOUDS } from './clouds';
import { findCycles, stageDependencies } from './dag';
import { inputValue, parseInputRef } from './input-ref';
import { templateReferences, unsupportedSubstitution } from './template';

/** Stage, input, output and param names: safe in paths, MLflow tags and `${...}` references. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Messages. Every schema below carries this map, so whoever parses a spec (the CLI, the API, the
// workflow through LaunchInput) gets the same precise wording, not zod's generic defaults.
// ---------------------------------------------------------------------------------------------

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

const typeName = (expected: string): string => TYPE_NAMES[expected] ?? expected;

/** How a wrong value is shown after "got": its type, or the value itself when the type is right. */
function describeInput(input: unknown, expected?: string): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'number') {
    if (Number.isNaN(input)) return 'NaN';
    return expected === 'int' || !Number.isFinite(input) ? String(input) : 'number';
  }
  return typeof input;
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function joinAlternatives(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Human messages for zod's own issue codes; also usable as a contextual map for other schemas. */
export const specErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required (expected ${typeName(issue.expected)})`;
      return `expected ${typeName(issue.expected)}, got ${describeInput(issue.input, issue.expected)}`;
    case 'too_small': {
      const { minimum, origin, input } = issue;
      if (origin === 'string' || origin === 'array') {
        if (Number(minimum) === 1) return 'must not be empty';
        return `must have at least ${minimum} ${origin === 'string' ? 'characters' : 'items'}`;
      }
      return `must be ${issue.inclusive ? '>=' : '>'} ${minimum}, got ${String(input)}`;
    }
    case 'too_big': {
      const { maximum, origin, input } = issue;
      if (origin === 'string' && typeof input === 'string') {
        return `must be at most ${maximum} characters, got ${input.length}`;
      }
      if (origin === 'array') return `must have at most ${maximum} items`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${maximum}, got ${String(input)}`;
    }
    case 'invalid_value':
      return `expected ${joinAlternatives(issue.values.map(quote))}, got ${
        typeof issue.input === 'string' ? quote(issue.input) : describeInput(issue.input)
      }`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(quote).join(', ')}`;
    case 'invalid_key':
      // The key schema's own message (e.g. "invalid name ...") says more than "invalid key".
      return issue.issues[0]?.message;
    case 'invalid_union': {
      // One alternative took the input's type and rejected something inside it: that is the problem.
      const relevant = issue.errors.filter((branch) => !(branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0));
      if (relevant.length === 1) {
        const inner = relevant[0]?.[0];
        if (inner) return inner.path.length > 0 ? `${formatIssuePath(inner.path, '')}: ${inner.message}` : inner.message;
      }
      // Every alternative rejected the type: name them all, as one would in prose.
      const expected = issue.errors.map((branch) =>
        branch.length === 1 && branch[0]?.code === 'invalid_type' ? branch[0].expected : undefined,
      );
      if (expected.length === 0 || expected.some((e) => e === undefined)) return undefined;
      const names = [...new Set(expected as string[])];
      const got = describeInput(issue.input, names.includes('int') ? 'int' : undefined);
      return `expected ${joinAlternatives(names.map(typeName))}, got ${got}`;
    }
    default:
      return undefined;
  }
};

const E = { error: specErrorMap };

const nonEmptyString = () => z.string(E).regex(/\S/, { error: 'must not be empty' });

const nameProblem = (name: string): string | undefined =>
  NAME_PATTERN.test(name)
    ? undefined
    : `invalid name ${quote(name)}: use letters, digits, _ and -, starting with a letter or _`;

const envNameProblem = (name: string): string | undefined =>
  ENV_NAME_PATTERN.test(name)
    ? undefined
    : `invalid environment variable name ${quote(name)}: use letters, digits and _, starting with a letter or _`;

/**
 * A record whose keys are checked by a refinement rather than a key schema: zod skips the value
 * of a key its key schema rejects, and a spec error should list every problem at once.
 */
function namedRecord<V extends z.ZodType>(value: V, keyProblem: (key: string) => string | undefined) {
  return z.record(z.string(E), value, E).superRefine(
    (record, ctx) => {
      for (const key of Object.keys(record)) {
        const problem = keyProblem(key);
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem, params: { key: true } });
      }
    },
    // Also when values failed, but only once the input is known to be an object.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  );
}

/** Why `path` is not a path inside the stage's working directory, or undefined when it is. */
function relativePathProblem(path: string): string | undefined {
  if (path.trim() === '') return 'must not be empty';
  // Windows drive letters and UNC paths are absolute too, wherever the spec was written.
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(path)) {
    return `must be a relative path, got '${path}'`;
  }
  if (path.split(/[\\/]/).includes('..')) return `must not contain '..', got '${path}'`;
  return undefined;
}

/** A path inside the stage's working directory, which is all a stage may read code from or write to. */
const RelativePath = z.string(E).superRefine((path, ctx) => {
  const problem = relativePathProblem(path);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Compares output paths without the spellings that name the same place (`./out/`, `out`). */
function normalizePath(path: string): string {
  return path
    .split(/[\\/]/)
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

const InputRefString = z.string(E).refine((value) => parseInputRef(value) !== undefined, {
  error: 'expected stages.<stage>.outputs.<name> or an s3:// or file:// URI',
});

/** A data URI with options: `copy` pins a bucket without versioning by copying its objects. */
const InputOptions = z.strictObject(
  {
    uri: z.string(E).refine((value) => parseInputRef(value)?.kind === 'uri', { error: 'expected an s3:// or file:// URI' }),
    copy: z.boolean(E).optional(),
  },
  E,
);

const InputValue = z.union([InputRefString, InputOptions], E);

const ParamValue = z.union([z.string(E), z.number(E), z.boolean(E)], E);

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

export const Cloud = z.enum(CLOUDS, E);
export type Cloud = z.infer<typeof Cloud>;

export const GpuSpec = z.strictObject(
  {
    type: nonEmptyString(),
    count: z.number(E).int(E).min(1, E).default(1),
  },
  E,
);
export type GpuSpec = z.infer<typeof GpuSpec>;

/** What a stage needs from a machine; placement reads it, the cache key does not. */
export const Resources = z.strictObject(
  {
    cpus: z.number(E).positive(E).optional(),
    memory_gb: z.number(E).positive(E).optional(),
    gpu: GpuSpec.optional(),
    spot: z.boolean(E).optional(),
    max_price_per_hour: z.number(E).positive(E).optional(),
    clouds: z.array(Cloud, E).optional(),
    regions: z.array(nonEmptyString(), E).optional(),
    expected_hours: z.number(E).positive(E).optional(),
  },
  E,
);
export type Resources = z.infer<typeof Resources>;

export const CacheSpec = z.strictObject(
  {
    enabled: z.boolean(E).optional(),
    /** Bump to invalidate earlier results without changing the stage. */
    version: z.union([z.number(E).int(E).min(0, E), z.string(E).min(1, E)], E).optional(),
  },
  E,
);
export type CacheSpec = z.infer<typeof CacheSpec>;

export const StageSpec = z.strictObject(
  {
    command: nonEmptyString(),
    image: nonEmptyString().optional(),
    /** Narrows the code digest to these paths (files or folders) of the code bundle. */
    code: z.array(RelativePath, E).min(1, E).optional(),
    inputs: namedRecord(InputValue, nameProblem).optional(),
    outputs: namedRecord(RelativePath, nameProblem).optional(),
    params: namedRecord(ParamValue, nameProblem).optional(),
    env: namedRecord(z.string(E), envNameProblem).optional(),
    resources: Resources.optional(),
    cache: CacheSpec.optional(),
  },
  E,
);
export type StageSpec = z.infer<typeof StageSpec>;

type Issue = { path: (string | number)[]; message: string };

const SINGULAR = { params: 'param', inputs: 'input', outputs: 'output' } as const;

/** Problems with the `${...}` references in one command or env value of `stage`. */
function templateProblems(template: string, stage: StageSpec): string[] {
  const problems: string[] = [];
  for (const ref of templateReferences(template)) {
    let problem: string | undefined;
    if (ref.kind === 'other') {
      problem = unsupportedSubstitution(ref.raw);
    } else if (!Object.prototype.hasOwnProperty.call(stage[ref.kind] ?? {}, ref.name)) {
      problem = `unknown ${SINGULAR[ref.kind]} '${ref.name}'`;
    }
    if (problem && !problems.includes(problem)) problems.push(problem);
  }
  return problems;
}

/** The checks that need the whole spec: references, substitutions, output paths, cycles. */
function semanticIssues(spec: { stages: Record<string, StageSpec> }): Issue[] {
  const issues: Issue[] = [];
  const stages = spec.stages;
  for (const [name, stage] of Object.entries(stages)) {
    for (const [input, value] of Object.entries(stage.inputs ?? {})) {
      const ref = parseInputRef(inputValue(value));
      if (ref?.kind !== 'upstream') continue;
      const path = ['stages', name, 'inputs', input];
      if (ref.stage === name) {
        issues.push({ path, message: `stage '${name}' cannot read its own output` });
      } else if (!Object.prototype.hasOwnProperty.call(stages, ref.stage)) {
        issues.push({ path, message: `unknown stage '${ref.stage}'` });
      } else if (!Object.prototype.hasOwnProperty.call(stages[ref.stage]?.outputs ?? {}, ref.output)) {
        issues.push({ path, message: `stage '${ref.stage}' has no output '${ref.output}'` });
      }
    }

    for (const message of templateProblems(stage.command, stage)) {
      issues.push({ path: ['stages', name, 'command'], message });
    }
    for (const [variable, value] of Object.entries(stage.env ?? {})) {
      for (const message of templateProblems(value, stage)) {
        issues.push({ path: ['stages', name, 'env', variable], message });
      }
    }

    const seen = new Map<string, string>();
    for (const [output, path] of Object.entries(stage.outputs ?? {})) {
      const key = normalizePath(path);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, output);
      else {
        issues.push({
          path: ['stages', name, 'outputs', output],
          message: `path '${path}' is already used by output '${first}'`,
        });
      }
    }
  }

  for (const cycle of findCycles(stageDependencies(spec))) {
    issues.push({ path: ['stages', cycle[0] ?? ''], message: `cycle: ${cycle.join(' -> ')}` });
  }
  return issues;
}

/** A pipeline: named stages whose inputs may read other stages' outputs. Stage order is declaration order. */
export const PipelineSpec = z
  .strictObject(
    {
      /** MLflow experiment that receives the launch's runs (MLflow caps names at 256 characters). */
      experiment: nonEmptyString().max(256, E),
      description: z.string(E).optional(),
      stages: namedRecord(StageSpec, nameProblem).refine((stages) => Object.keys(stages).length > 0, {
        error: 'expected at least one stage',
      }),
    },
    E,
  )
  // Runs only once the shape is valid (zod skips refinements after such issues): references
  // are checked on a spec whose stages are known to be well formed.
  .superRefine((spec, ctx) => {
    for (const issue of semanticIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
  });
export type PipelineSpec = z.infer<typeof PipelineSpec>;
/** A spec as written, before defaults (such as `gpu.count`) are filled in. */
export type PipelineSpecInput = z.input<typeof PipelineSpec>;

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/** `stages.train.inputs.table`, `stages.train.code[1]`, `stages["bad name"]`; `spec` for the root. */
export function formatIssuePath(path: readonly PropertyKey[], root = 'spec'): string {
  if (path.length === 0) return root;
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && NAME_PATTERN.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${typeof part === 'string' ? JSON.stringify(part) : String(part)}]`;
  }
  return out;
}

/**
 * Where `path` sits in `input` when the document is read top to bottom: per level, the index of the
 * key among its parent's keys. A key that is absent (a missing field) sorts before its siblings.
 */
function documentPosition(input: unknown, path: readonly PropertyKey[]): number[] {
  const position: number[] = [];
  let node = input;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) break;
    const keys = Object.keys(node);
    const index = keys.indexOf(String(part));
    position.push(index);
    node = (node as Record<string, unknown>)[String(part)];
  }
  return position;
}

type Positioned = { issue: z.core.$ZodIssue; position: number[] };

const isKeyIssue = (issue: z.core.$ZodIssue): boolean => issue.code === 'custom' && issue.params?.key === true;

function compareIssues(a: Positioned, b: Positioned): number {
  for (let i = 0; i < Math.min(a.position.length, b.position.length); i += 1) {
    const diff = (a.position[i] ?? 0) - (b.position[i] ?? 0);
    if (diff !== 0) return diff;
  }
  // A parent's own problems (unknown field) before its children's; a bad name before its value's.
  return a.position.length - b.position.length || Number(isKeyIssue(b.issue)) - Number(isKeyIssue(a.issue));
}

/**
 * One `<path>: <message>` line per problem. `prefix` is prepended to every path, for a spec
 * nested in a larger document (e.g. `['spec']` inside a launch request). Given the parsed `input`,
 * the lines follow the document's order rather than the order zod found them in.
 */
export function formatSpecIssues(error: z.ZodError, prefix: readonly PropertyKey[] = [], input?: unknown, root = 'spec'): string[] {
  let issues = error.issues;
  if (input !== undefined) {
    issues = issues
      .map((issue) => ({ issue, position: documentPosition(input, issue.path) }))
      .sort(compareIssues) // stable: problems at one place keep zod's order
      .map(({ issue }) => issue);
  }
  return issues.flatMap((issue) => {
    const path = formatIssuePath([...prefix, ...issue.path], root);
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${path}: unknown field ${quote(key)}`);
    return [`${path}: ${issue.message}`];
  });
}

/** A spec that cannot run; `issues` holds one `<path>: <message>` line per problem. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly issues: string[];

  constructor(issues: string[]) {
    super(issues.join('\n'));
    this.issues = issues;
  }
}

/** Validates a parsed YAML/JSON document; throws SpecError listing every problem found. */
export function parsePipelineSpec(raw: unknown): PipelineSpec {
  const result = PipelineSpec.safeParse(raw, { error: specErrorMap });
  if (!result.success) throw new SpecError(formatSpecIssues(result.error, [], raw));
  return result.data;
}
