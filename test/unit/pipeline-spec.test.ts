import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { badSpecs, reads, spec } from '../fixtures/bad-specs';
import { isDeclaredCodePath } from '../../domain/cache-key';
import { upstreamOf } from '../../domain/dag';
import { checkStageOptions } from '../../domain/launch';
import {
  formatIssuePath,
  formatSpecIssues,
  parsePipelineSpec,
  PipelineSpec,
  SpecError,
  specErrorMap,
} from '../../domain/pipeline-spec';

// The reference example of a pipeline spec (two stages, every kind of field), verbatim.
const REFERENCE_EXAMPLE = `
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

describe('parsePipelineSpec: invalid specs', () => {

  test.each(badSpecs)('%s', (_name, raw, expected) => {
    expect(issuesOf(raw)).toEqual(expected);
  });

  test('the table covers at least 20 invalid specs', () => {
    expect(badSpecs.length).toBeGreaterThanOrEqual(20);
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
  test('the reference example parses, in declaration order, with defaults applied', () => {
    const parsed = parsePipelineSpec(parseYaml(REFERENCE_EXAMPLE));
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

describe('launch options that name stages', () => {
  const spec = parsePipelineSpec({
    experiment: 'e',
    stages: {
      a: { command: 'x', outputs: { o: 'o' } },
      b: { command: 'x', inputs: { i: 'stages.a.outputs.o' }, outputs: { o: 'o' } },
      c: { command: 'x', inputs: { i: 'stages.b.outputs.o', raw: { uri: 's3://bucket/raw/', copy: true } } },
      side: { command: 'x' },
    },
  });

  test('refresh and from must be stages of the spec', () => {
    expect(() => checkStageOptions(spec, { refresh: ['a', 'nope'], from: 'ghost' })).toThrow(
      new SpecError(["refresh[1]: unknown stage 'nope'", "from: unknown stage 'ghost'"]),
    );
    expect(() => checkStageOptions(spec, { refresh: ['a'], from: 'c' })).not.toThrow();
  });

  test('upstream stages are every ancestor, nothing else', () => {
    expect(upstreamOf(spec, 'c')).toEqual(['a', 'b']);
    expect(upstreamOf(spec, 'a')).toEqual([]);
    expect(upstreamOf(spec, 'side')).toEqual([]);
  });

  test('an input with options is a dependency like any other, and keeps its copy flag', () => {
    expect(spec.stages.c?.inputs?.raw).toEqual({ uri: 's3://bucket/raw/', copy: true });
  });
});

describe('declared code paths', () => {
  test.each([
    ['train.py', ['train.py'], true],
    ['model/net.py', ['model/'], true],
    ['model/net.py', ['./model'], true],
    ['modelx/net.py', ['model'], false],
    ['prepare.py', ['train.py', 'model/'], false],
    ['anything', ['.'], true],
  ])('%s under %j: %s', (path, declared, expected) => {
    expect(isDeclaredCodePath(path, declared)).toBe(expected);
  });
});
