import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  formatIssuePath,
  formatSpecIssues,
  parsePipelineSpec,
  PipelineSpec,
  SpecError,
  specErrorMap,
} from '../../domain/pipeline-spec';

// The example from DESIGN.md ("Pipeline spec"), verbatim.
const DESIGN_EXAMPLE = `
experiment: churn
stages:
  prepare:
    command: python prepare.py
    inputs:  { raw: s3://acme-data/churn/raw/ }
    outputs: { table: out/table.parquet }
    resources: { cpus: 4, memory_gb: 16 }
  train:
    command: python train.py --epochs \${params.epochs}
    code:    [train.py, model/]          # optional: narrows the code digest to these paths
    inputs:  { table: stages.prepare.outputs.table }
    outputs: { model: out/model/ }
    params:  { epochs: 10 }
    resources: { gpu: { type: A100, count: 1 }, spot: true, max_price_per_hour: 2.5 }
    cache:   { enabled: true, version: 1 }
`;

/** The issues parsePipelineSpec reports for `raw`, or [] when it is valid. */
function issuesOf(raw: unknown): string[] {
  try {
    parsePipelineSpec(raw);
    return [];
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    return error.issues;
  }
}

const spec = (stages: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  experiment: 'churn',
  stages,
  ...extra,
});

/** A stage that writes `out` and reads the `out` of each of `from`. */
const reads = (...from: string[]) => ({
  command: 'run',
  inputs: Object.fromEntries(from.map((s) => [s, `stages.${s}.outputs.out`])),
  outputs: { out: 'out/' },
});

const NAME_RULE = 'use letters, digits, _ and -, starting with a letter or _';
const SUBSTITUTIONS = 'use ${params.NAME}, ${inputs.NAME} or ${outputs.NAME}';

describe('parsePipelineSpec: invalid specs', () => {
  const cases: [string, unknown, string[]][] = [
    ['a cycle of two stages', spec({ a: reads('b'), b: reads('a') }), ['stages.a: cycle: a -> b -> a']],
    [
      'a cycle of three stages, reported from its first declared stage in data-flow order',
      spec({ start: reads(), a: reads('start', 'c'), b: reads('a'), c: reads('b') }),
      ['stages.a: cycle: a -> b -> c -> a'],
    ],
    [
      'two independent cycles, each once',
      spec({ x: reads('y'), y: reads('x'), p: reads('q'), q: reads('p'), ok: reads('x') }),
      ['stages.x: cycle: x -> y -> x', 'stages.p: cycle: p -> q -> p'],
    ],
    [
      'a stage reading its own output',
      spec({ train: { command: 'run', inputs: { m: 'stages.train.outputs.model' }, outputs: { model: 'm/' } } }),
      ["stages.train.inputs.m: stage 'train' cannot read its own output"],
    ],
    [
      'an input from an unknown stage',
      spec({ train: { command: 'run', inputs: { table: 'stages.prep.outputs.table' } } }),
      ["stages.train.inputs.table: unknown stage 'prep'"],
    ],
    [
      'an input naming an output the stage does not have',
      spec({
        prepare: { command: 'run', outputs: { table: 't.parquet' } },
        train: { command: 'run', inputs: { table: 'stages.prepare.outputs.tabel' } },
      }),
      ["stages.train.inputs.table: stage 'prepare' has no output 'tabel'"],
    ],
    ['an unknown field at the top level', spec({ a: { command: 'x' } }, { stage: {} }), ["spec: unknown field 'stage'"]],
    [
      'a misspelt field in a stage (so command is also missing)',
      spec({ train: { comand: 'python train.py', imgae: 'x' } }),
      [
        "stages.train: unknown field 'comand'",
        "stages.train: unknown field 'imgae'",
        'stages.train.command: required (expected a string)',
      ],
    ],
    [
      'an unknown field in resources',
      spec({ a: { command: 'x', resources: { cpu: 4 } } }),
      ["stages.a.resources: unknown field 'cpu'"],
    ],
    [
      'an unknown field in gpu',
      spec({ a: { command: 'x', resources: { gpu: { type: 'A100', memory: 80 } } } }),
      ["stages.a.resources.gpu: unknown field 'memory'"],
    ],
    ['a command that is a number', spec({ a: { command: 42 } }), ['stages.a.command: expected a string, got number']],
    [
      'cpus given as a string',
      spec({ a: { command: 'x', resources: { cpus: '4' } } }),
      ['stages.a.resources.cpus: expected a number, got string'],
    ],
    [
      'a param whose value is an object',
      spec({ a: { command: 'x', params: { lr: { value: 0.1 } } } }),
      ['stages.a.params.lr: expected a string, a number or a boolean, got object'],
    ],
    [
      'a gpu count of 0',
      spec({ a: { command: 'x', resources: { gpu: { type: 'A100', count: 0 } } } }),
      ['stages.a.resources.gpu.count: must be >= 1, got 0'],
    ],
    [
      'a fractional gpu count and a gpu without type',
      spec({ a: { command: 'x', resources: { gpu: { count: 1.5 } } } }),
      [
        'stages.a.resources.gpu.type: required (expected a string)',
        'stages.a.resources.gpu.count: expected an integer, got 1.5',
      ],
    ],
    [
      'negative memory',
      spec({ a: { command: 'x', resources: { memory_gb: -16 } } }),
      ['stages.a.resources.memory_gb: must be > 0, got -16'],
    ],
    [
      'an unknown cloud',
      spec({ a: { command: 'x', resources: { clouds: ['aws', 'ibm'] } } }),
      ["stages.a.resources.clouds[1]: expected 'aws', 'gcp', 'azure' or 'local', got 'ibm'"],
    ],
    [
      'bad stage, input, output, param and env names (values are still checked)',
      spec({
        'bad name': { command: 'x' },
        '9lives': { command: 42 },
        ok: {
          command: 'x',
          inputs: { 'raw data': 's3://b/k' },
          outputs: { 'a.b': 'out/' },
          params: { 'lr!': 1 },
          env: { 'MY-VAR': 'x' },
        },
      }),
      [
        `stages["bad name"]: invalid name 'bad name': ${NAME_RULE}`,
        `stages["9lives"]: invalid name '9lives': ${NAME_RULE}`,
        'stages["9lives"].command: expected a string, got number',
        `stages.ok.inputs["raw data"]: invalid name 'raw data': ${NAME_RULE}`,
        `stages.ok.outputs["a.b"]: invalid name 'a.b': ${NAME_RULE}`,
        `stages.ok.params["lr!"]: invalid name 'lr!': ${NAME_RULE}`,
        "stages.ok.env.MY-VAR: invalid environment variable name 'MY-VAR': use letters, digits and _, starting with a letter or _",
      ],
    ],
    [
      'an http:// input and other unsupported input values',
      spec({ a: { command: 'x', inputs: { raw: 'http://example.com/d.csv', rel: 'data/raw', bucket: 's3://' } } }),
      [
        'stages.a.inputs.raw: expected stages.<stage>.outputs.<name> or an s3:// or file:// URI',
        'stages.a.inputs.rel: expected stages.<stage>.outputs.<name> or an s3:// or file:// URI',
        'stages.a.inputs.bucket: expected stages.<stage>.outputs.<name> or an s3:// or file:// URI',
      ],
    ],
    [
      'absolute output paths',
      spec({ a: { command: 'x', outputs: { model: '/tmp/model', win: 'C:\\out' } } }),
      ["stages.a.outputs.model: must be a relative path, got '/tmp/model'", "stages.a.outputs.win: must be a relative path, got 'C:\\out'"],
    ],
    [
      "'..' in code and output paths, and an empty code list elsewhere",
      spec({
        a: { command: 'x', code: ['train.py', 'lib/../../secrets'], outputs: { o: '../out' } },
        b: { command: 'x', code: [] },
      }),
      [
        "stages.a.code[1]: must not contain '..', got 'lib/../../secrets'",
        "stages.a.outputs.o: must not contain '..', got '../out'",
        'stages.b.code: must not be empty',
      ],
    ],
    [
      'an undeclared ${params.x} in the command',
      spec({ train: { command: 'python train.py --epochs ${params.epochs}', params: { epoch: 10 } } }),
      ["stages.train.command: unknown param 'epochs'"],
    ],
    [
      'an unsupported ${foo} in the command, and ${HOME} (use $HOME or $${HOME})',
      spec({ a: { command: 'echo ${foo} ${HOME} $HOME $${HOME}' } }),
      [`stages.a.command: unsupported substitution '\${foo}': ${SUBSTITUTIONS}`, `stages.a.command: unsupported substitution '\${HOME}': ${SUBSTITUTIONS}`],
    ],
    [
      'undeclared inputs and outputs in the command and an env value, each reported once',
      spec({
        a: {
          command: 'run ${inputs.data} ${outputs.model} ${inputs.data}',
          env: { DATA: '${inputs.data}', OK: 'plain', UNCLOSED: '${params.x' },
        },
      }),
      [
        "stages.a.command: unknown input 'data'",
        "stages.a.command: unknown output 'model'",
        "stages.a.env.DATA: unknown input 'data'",
        `stages.a.env.UNCLOSED: unsupported substitution '\${params.x': ${SUBSTITUTIONS}`,
      ],
    ],
    [
      'two outputs with the same path',
      spec({ a: { command: 'x', outputs: { model: 'out/model/', copy: './out/model', other: 'out/other' } } }),
      ["stages.a.outputs.copy: path './out/model' is already used by output 'model'"],
    ],
    ['no stages', spec({}), ['stages: expected at least one stage']],
    ['stages as a list', spec([] as unknown as Record<string, unknown>), ['stages: expected an object, got array']],
    ['a missing command', spec({ a: { image: 'python:3.12' } }), ['stages.a.command: required (expected a string)']],
    ['a blank command', spec({ a: { command: '  ' } }), ['stages.a.command: must not be empty']],
    ['a missing experiment', { stages: { a: { command: 'x' } } }, ['experiment: required (expected a string)']],
    [
      'an experiment name longer than MLflow allows',
      spec({ a: { command: 'x' } }, { experiment: 'e'.repeat(257) }),
      ['experiment: must be at most 256 characters, got 257'],
    ],
    [
      'bad cache settings',
      spec({ a: { command: 'x', cache: { enabled: 'yes', version: -1 } }, b: { command: 'x', cache: { version: 1.5 } } }),
      [
        'stages.a.cache.enabled: expected a boolean, got string',
        'stages.a.cache.version: must be >= 0, got -1',
        'stages.b.cache.version: expected an integer or a string, got 1.5',
      ],
    ],
    ['a spec that is not an object', 'experiment: churn', ['spec: expected an object, got string']],
    ['null', null, ['spec: expected an object, got null']],
  ];

  test.each(cases)('%s', (_name, raw, expected) => {
    expect(issuesOf(raw)).toEqual(expected);
  });

  test('the table covers at least 20 invalid specs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  test('structural problems are reported before (and instead of) reference problems', () => {
    // The reference problem only shows once the spec's shape is right.
    const raw = spec({ a: { command: 'x', inputs: { t: 'stages.nope.outputs.t' } }, b: { command: 1 } });
    expect(issuesOf(raw)).toEqual(['stages.b.command: expected a string, got number']);
    expect(issuesOf(spec({ a: { command: 'x', inputs: { t: 'stages.nope.outputs.t' } } }))).toEqual([
      "stages.a.inputs.t: unknown stage 'nope'",
    ]);
  });

  test('SpecError carries the issues and joins them into its message', () => {
    expect.assertions(4);
    try {
      parsePipelineSpec({ stages: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(SpecError);
      const specError = error as SpecError;
      expect(specError.name).toBe('SpecError');
      expect(specError.issues).toEqual(['experiment: required (expected a string)', 'stages: expected at least one stage']);
      expect(specError.message).toBe('experiment: required (expected a string)\nstages: expected at least one stage');
    }
  });
});

describe('parsePipelineSpec: valid specs', () => {
  test('the DESIGN.md example parses, in declaration order, with defaults applied', () => {
    const parsed = parsePipelineSpec(parseYaml(DESIGN_EXAMPLE));
    expect(Object.keys(parsed.stages)).toEqual(['prepare', 'train']);
    expect(parsed).toEqual({
      experiment: 'churn',
      stages: {
        prepare: {
          command: 'python prepare.py',
          inputs: { raw: 's3://acme-data/churn/raw/' },
          outputs: { table: 'out/table.parquet' },
          resources: { cpus: 4, memory_gb: 16 },
        },
        train: {
          command: 'python train.py --epochs ${params.epochs}',
          code: ['train.py', 'model/'],
          inputs: { table: 'stages.prepare.outputs.table' },
          outputs: { model: 'out/model/' },
          params: { epochs: 10 },
          resources: { gpu: { type: 'A100', count: 1 }, spot: true, max_price_per_hour: 2.5 },
          cache: { enabled: true, version: 1 },
        },
      },
    });
  });

  test('gpu.count defaults to 1', () => {
    const parsed = parsePipelineSpec(spec({ a: { command: 'x', resources: { gpu: { type: 'T4' } } } }));
    expect(parsed.stages.a?.resources?.gpu).toEqual({ type: 'T4', count: 1 });
  });

  test('every optional field, file:// inputs, env substitutions and escapes are accepted', () => {
    const raw = spec(
      {
        _first: { command: 'echo hi > ${outputs.greeting}', outputs: { greeting: 'greeting.txt' } },
        'train-v2': {
          command: 'python train.py --in ${inputs.g} --lr ${params.lr} --out ${outputs.m} $${LITERAL} $HOME',
          image: 'python:3.12-slim',
          code: ['train.py', 'lib/'],
          inputs: { g: 'stages._first.outputs.greeting', extra: 'file:///data/extra.csv', s3: 's3://bucket' },
          outputs: { m: 'model/', metrics: 'metrics.json' },
          params: { lr: 0.1, name: 'x', fast: false },
          env: { LR: '${params.lr}', MODEL_DIR: '${outputs.m}', PLAIN: '' },
          resources: {
            cpus: 0.5,
            memory_gb: 2,
            gpu: { type: 'A100', count: 8 },
            spot: false,
            max_price_per_hour: 30,
            clouds: ['aws', 'gcp', 'azure', 'local'],
            regions: ['us-east-1'],
            expected_hours: 0.25,
          },
          cache: { enabled: false, version: 'v2' },
        },
      },
      { description: 'everything' },
    );
    expect(parsePipelineSpec(raw)).toEqual(raw);
  });

  test('a diamond is not a cycle', () => {
    expect(issuesOf(spec({ a: reads(), b: reads('a'), c: reads('a'), d: reads('b', 'c') }))).toEqual([]);
  });

  test('PipelineSpec.safeParse gives the same messages without an explicit error map', () => {
    const result = PipelineSpec.safeParse(spec({ a: { command: 1, x: 1 } }));
    expect(result.success).toBe(false);
    expect(formatSpecIssues(result.error!)).toEqual(['stages.a.command: expected a string, got number', "stages.a: unknown field 'x'"]);
  });
});

describe('formatSpecIssues', () => {
  test('prefixes paths, e.g. for a spec inside a launch request', () => {
    const raw = { extra: 1, experiment: 'e', stages: { a: { command: 'x', code: ['/abs'] } } };
    const result = PipelineSpec.safeParse(raw);
    // Without the input, zod's order (fields in schema order, unknown fields last).
    expect(formatSpecIssues(result.error!, ['spec'])).toEqual([
      "spec.stages.a.code[0]: must be a relative path, got '/abs'",
      "spec: unknown field 'extra'",
    ]);
    // With it, the document's order.
    expect(formatSpecIssues(result.error!, ['spec'], raw)).toEqual([
      "spec: unknown field 'extra'",
      "spec.stages.a.code[0]: must be a relative path, got '/abs'",
    ]);
  });

  test('in document order, a missing field comes first among its siblings', () => {
    expect(issuesOf({ stages: { b: { command: 1 }, a: { image: 'x', comand: 'y' } } })).toEqual([
      'experiment: required (expected a string)',
      'stages.b.command: expected a string, got number',
      "stages.a: unknown field 'comand'",
      'stages.a.command: required (expected a string)',
    ]);
  });

  test('specErrorMap humanises schemas that are not part of the spec', () => {
    const Other = z.strictObject({ n: z.number(), tags: z.array(z.string()) });
    const result = Other.safeParse({ n: 'one', tags: ['a', 2], extra: true }, { error: specErrorMap });
    expect(formatSpecIssues(result.error!, ['body'])).toEqual([
      'body.n: expected a number, got string',
      'body.tags[1]: expected a string, got number',
      "body: unknown field 'extra'",
    ]);
  });

  test('formatIssuePath', () => {
    expect(formatIssuePath([])).toBe('spec');
    expect(formatIssuePath(['stages', 'train', 'code', 1])).toBe('stages.train.code[1]');
    expect(formatIssuePath(['stages', 'bad name'])).toBe('stages["bad name"]');
    expect(formatIssuePath([0, 'a'])).toBe('[0].a');
  });
});
