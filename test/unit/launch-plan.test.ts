import { type LaunchInput, launchSpec, parseLaunchInput, resolveLaunch, reuseOf } from '../../domain/launch';
import { parsePipelineSpec, SpecError } from '../../domain/pipeline-spec';
import { readsData, stagePlans } from '../../domain/stage-plan';

// A launch's plan, built once: its spec (overrides applied, whichever caller checks it) and its
// stages, planned in DAG order with all that settling and running them needs.

const written = {
  experiment: 'churn',
  stages: {
    // Declared before what it reads, so DAG order and declaration order differ.
    train: {
      command: 'train --epochs ${params.epochs} ${inputs.table} ${outputs.model}',
      params: { epochs: 10 },
      env: { SEED: '1' },
      inputs: { table: 'stages.prepare.outputs.table' },
      outputs: { model: 'model.pkl' },
      resources: { gpu: { type: 'T4' } },
      code: ['train.py'],
    },
    prepare: { command: 'prepare ${inputs.raw} ${outputs.table}', inputs: { raw: { uri: 's3://bucket/raw/', copy: true } }, outputs: { table: 't.csv' } },
    report: { command: 'report', cache: { enabled: false, version: 2 } },
  },
};
const spec = parsePipelineSpec(written);

describe('launchSpec: the one place a launch applies its param overrides', () => {
  test('applies them to a copy, once the stage options name stages of the spec', () => {
    expect(launchSpec(spec, { params: { 'train.epochs': '20' } }).stages.train?.params).toEqual({ epochs: 20 });
    expect(spec.stages.train?.params).toEqual({ epochs: 10 });
    expect(() => launchSpec(spec, { params: { 'train.epochs': 'many' } })).toThrow(new SpecError(["params.train.epochs: expected a number, got 'many'"]));
    expect(() => launchSpec(spec, { refresh: ['ghost'] })).toThrow(new SpecError(["refresh[0]: unknown stage 'ghost'"]));
  });
});

describe('resolveLaunch', () => {
  const registered = jest.fn((ref: string) =>
    ref === 'churn@1' ? Promise.resolve({ spec: written, codeBundle: `sha256:${'a'.repeat(64)}` }) : Promise.reject(new Error(`unknown pipeline version '${ref}'`)),
  );

  test('an inline spec: its overrides applied, its code as given; nothing is looked up', async () => {
    const input = parseLaunchInput({ spec: written, params: { 'train.epochs': 3 }, code: { dir: '/code' } });
    const resolved = await resolveLaunch(input, registered);
    expect(resolved.spec.stages.train?.params).toEqual({ epochs: 3 });
    expect(resolved.code).toEqual({ dir: '/code' });
    expect(registered).not.toHaveBeenCalled();
  });

  test('a registered version: checked like any spec, overrides applied, its code unless the input names other code', async () => {
    const input = parseLaunchInput({ pipeline: 'churn@1', params: { 'train.epochs': 3 } });
    const resolved = await resolveLaunch(input, registered);
    expect(resolved.spec.stages.train?.params).toEqual({ epochs: 3 });
    expect(resolved.code).toEqual({ bundle: `sha256:${'a'.repeat(64)}` });
    expect((await resolveLaunch({ ...input, code: { dir: '/mine' } }, registered)).code).toEqual({ dir: '/mine' });
    await expect(resolveLaunch({ ...input, params: { 'train.nope': 1 } }, registered)).rejects.toThrow("params.train.nope: stage 'train' has no param 'nope'");
    await expect(resolveLaunch(parseLaunchInput({ pipeline: 'churn@2' }), registered)).rejects.toThrow("unknown pipeline version 'churn@2'");
  });

  test('a re-execution reuses every stage upstream of from', () => {
    expect(reuseOf(spec, { from: 'train', reuse: 'l1' })).toEqual({ launchId: 'l1', stages: ['prepare'] });
    expect(reuseOf(spec, {})).toBeUndefined();
  });
});

describe('stagePlans', () => {
  const code = { codeDigest: 'sha256:bundle', stageCodeDigests: { train: 'sha256:train' } };
  const runIds = { train: 'r-train', prepare: 'r-prepare', report: 'r-report' };
  const plan = (options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'> = {}) => stagePlans(spec, options, code, runIds);

  test('every stage in DAG order, with its run, inputs, outputs, key material and resources', () => {
    const [prepare, train, report] = plan();
    expect([prepare?.name, train?.name, report?.name]).toEqual(['prepare', 'train', 'report']);
    expect(train).toEqual({
      name: 'train',
      runId: 'r-train',
      lookup: true,
      register: 'first',
      upstream: ['prepare'],
      inputs: { table: { stage: 'prepare', output: 'table' } },
      outputs: { model: 'model.pkl' },
      material: { command: written.stages.train.command, code: 'sha256:train', params: { epochs: 10 }, env: { SEED: '1' } },
      resources: { gpu: { type: 'T4', count: 1 } },
    });
    expect(prepare).toMatchObject({ upstream: [], inputs: { raw: { uri: 's3://bucket/raw/', copy: true } }, material: { code: 'sha256:bundle' }, resources: {} });
    expect(report).toMatchObject({ lookup: false, register: 'never', material: { version: 2 } });
  });

  test('--no-cache, --refresh and --from run their stages again and replace what is memoized', () => {
    const policies = (options: Pick<LaunchInput, 'no_cache' | 'refresh' | 'from'>) => plan(options).map((s) => `${s.name}:${s.lookup}/${s.register}`);
    expect(policies({ no_cache: true })).toEqual(['prepare:false/replace', 'train:false/replace', 'report:false/never']);
    expect(policies({ refresh: ['prepare'] })).toEqual(['prepare:false/replace', 'train:true/first', 'report:false/never']);
    expect(policies({ from: 'prepare' })).toEqual(['prepare:false/replace', 'train:false/replace', 'report:false/never']);
  });

  test('readsData: whether some stage reads a data URI', () => {
    expect(readsData(spec)).toBe(true);
    expect(readsData(parsePipelineSpec({ experiment: 'e', stages: { a: { command: 'x' } } }))).toBe(false);
  });
});
