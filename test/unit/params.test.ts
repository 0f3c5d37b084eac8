import { applyParamOverrides, parseParamAssignment } from '../../domain/params';
import { parsePipelineSpec, SpecError } from '../../domain/pipeline-spec';

const spec = parsePipelineSpec({
  experiment: 'churn',
  stages: {
    prepare: { command: 'prepare --rows ${params.rows}', params: { rows: 3000 } },
    train: {
      command: 'train --epochs ${params.epochs}',
      params: { epochs: 10, lr: 0.5, model: 'logreg', early_stop: false },
    },
  },
});

function issuesOf(run: () => unknown): string[] {
  try {
    run();
    return [];
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    return error.issues;
  }
}

describe('applyParamOverrides', () => {
  test('returns a new spec with the overrides applied, leaving the original untouched', () => {
    const before = structuredClone(spec);
    const result = applyParamOverrides(spec, { 'train.epochs': 20, 'train.model': 'tree', 'prepare.rows': 100 });
    expect(result.stages.train?.params).toEqual({ epochs: 20, lr: 0.5, model: 'tree', early_stop: false });
    expect(result.stages.prepare?.params).toEqual({ rows: 100 });
    expect(spec).toEqual(before);
    expect(result).not.toBe(spec);
    expect(result.stages.train?.command).toBe(spec.stages.train?.command);
  });

  test('no overrides: an equal spec', () => {
    expect(applyParamOverrides(spec, {})).toEqual(spec);
  });

  test('strings from the CLI take the declared type', () => {
    const result = applyParamOverrides(spec, {
      'train.epochs': '20',
      'train.lr': ' 1e-3 ',
      'train.early_stop': 'true',
      'prepare.rows': '-5',
    });
    expect(result.stages.train?.params).toEqual({ epochs: 20, lr: 0.001, model: 'logreg', early_stop: true });
    expect(result.stages.prepare?.params).toEqual({ rows: -5 });
    expect(applyParamOverrides(spec, { 'train.early_stop': 'false' }).stages.train?.params?.early_stop).toBe(false);
  });

  test('a string param takes any scalar as text', () => {
    expect(applyParamOverrides(spec, { 'train.model': 3 }).stages.train?.params?.model).toBe('3');
  });

  test('every problem is reported at once, in override order', () => {
    expect(
      issuesOf(() =>
        applyParamOverrides(spec, {
          epochs: 20,
          'trian.epochs': 20,
          'train.epoch': 20,
          'train.epochs': 'abc',
          'train.lr': '0x10',
          'prepare.rows': true,
          'train.early_stop': 'yes',
          'train.model': 'ok',
          '.x': 1,
          'train.': 1,
          'train.toString': 1,
          'constructor.x': 1,
        }),
      ),
    ).toEqual([
      'params.epochs: expected <stage>.<param>',
      "params.trian.epochs: unknown stage 'trian'",
      "params.train.epoch: stage 'train' has no param 'epoch'",
      "params.train.epochs: expected a number, got 'abc'",
      "params.train.lr: expected a number, got '0x10'",
      'params.prepare.rows: expected a number, got true',
      "params.train.early_stop: expected true or false, got 'yes'",
      'params..x: expected <stage>.<param>',
      'params.train.: expected <stage>.<param>',
      "params.train.toString: stage 'train' has no param 'toString'",
      "params.constructor.x: unknown stage 'constructor'",
    ]);
  });

  test('the SpecError message lists the issues', () => {
    expect(() => applyParamOverrides(spec, { 'train.epochs': '' })).toThrow("params.train.epochs: expected a number, got ''");
  });
});

describe('parseParamAssignment', () => {
  test('splits at the first =', () => {
    expect(parseParamAssignment('train.epochs=20')).toEqual(['train.epochs', '20']);
    expect(parseParamAssignment('train.filter=a=b')).toEqual(['train.filter', 'a=b']);
    expect(parseParamAssignment('train.model=')).toEqual(['train.model', '']);
  });

  test('a missing = or key is an error', () => {
    expect(issuesOf(() => parseParamAssignment('train.epochs'))).toEqual(['--param train.epochs: expected <stage>.<param>=<value>']);
    expect(issuesOf(() => parseParamAssignment('=20'))).toEqual(['--param =20: expected <stage>.<param>=<value>']);
  });

  test('composes with applyParamOverrides', () => {
    const overrides = Object.fromEntries(['train.epochs=30', 'train.early_stop=true'].map(parseParamAssignment));
    expect(applyParamOverrides(spec, overrides).stages.train?.params).toMatchObject({ epochs: 30, early_stop: true });
  });
});
