import { descendants, findCycle, findCycles, stageDependencies, topologicalOrder, upstreamOf } from '../../domain/dag';

/** A stage reading output `out` of each of `from`. */
const stage = (...from: string[]) => ({
  command: 'run',
  inputs: Object.fromEntries(from.map((s, i) => [`in${i}`, `stages.${s}.outputs.out`])),
  outputs: { out: 'out/' },
});

// Declared out of dependency order on purpose: evaluate first, prepare last.
const churn = {
  stages: {
    evaluate: stage('train_logreg', 'train_tree', 'prepare'),
    train_tree: stage('prepare'),
    report: stage(),
    train_logreg: stage('prepare'),
    prepare: { command: 'run', inputs: { raw: 's3://bucket/raw/' }, outputs: { out: 'out/' } },
  },
};

describe('stageDependencies', () => {
  test('lists upstream stages in input order, deduplicated, ignoring URIs', () => {
    expect(stageDependencies(churn)).toEqual({
      evaluate: ['train_logreg', 'train_tree', 'prepare'],
      train_tree: ['prepare'],
      report: [],
      train_logreg: ['prepare'],
      prepare: [],
    });
    const twice = { stages: { a: stage(), b: { command: 'x', inputs: { x: 'stages.a.outputs.out', y: 'stages.a.outputs.other' } } } };
    expect(stageDependencies(twice)).toEqual({ a: [], b: ['a'] });
  });

  test('leaves out references to unknown stages and to the stage itself', () => {
    expect(stageDependencies({ stages: { a: stage('a', 'ghost') } })).toEqual({ a: [] });
  });
});

describe('findCycle / findCycles', () => {
  test('no cycle in a DAG', () => {
    expect(findCycle(stageDependencies(churn))).toBeUndefined();
    expect(findCycles({})).toEqual([]);
  });

  test('a two-stage cycle, as a closed path in data-flow order', () => {
    expect(findCycle({ a: ['b'], b: ['a'] })).toEqual(['a', 'b', 'a']);
  });

  test('a three-stage cycle starts at its first declared stage', () => {
    // c feeds b, b feeds a, a feeds c.
    expect(findCycle({ x: [], c: ['a'], a: ['b'], b: ['c'] })).toEqual(['c', 'b', 'a', 'c']);
  });

  test('a self-loop is a cycle of one', () => {
    expect(findCycle({ a: [], b: ['b'] })).toEqual(['b', 'b']);
  });

  test('one shortest cycle per group of mutually dependent stages, in declaration order', () => {
    // Group {a, b, c}: a -> b -> a and a -> b -> c -> a; the shortest is reported.
    const deps = { d: ['e'], a: ['b', 'c'], b: ['a'], c: ['b'], e: ['d'], f: ['a'] };
    expect(findCycles(deps)).toEqual([
      ['d', 'e', 'd'],
      ['a', 'b', 'a'],
    ]);
  });

  test('edges to undeclared stages are ignored', () => {
    expect(findCycle({ a: ['ghost'] })).toBeUndefined();
  });
});

describe('topologicalOrder', () => {
  test('upstreams first, declaration order among stages that are ready', () => {
    expect(topologicalOrder(churn)).toEqual(['report', 'prepare', 'train_tree', 'train_logreg', 'evaluate']);
  });

  test('keeps declaration order when there are no dependencies', () => {
    expect(topologicalOrder({ stages: { z: stage(), y: stage(), x: stage() } })).toEqual(['z', 'y', 'x']);
  });

  test('throws on a cycle, naming it', () => {
    expect(() => topologicalOrder({ stages: { ok: stage(), a: stage('b'), b: stage('a') } })).toThrow('cycle: a -> b -> a');
  });
});

describe('descendants / upstreamOf', () => {
  test('descendants: the stage and everything downstream, in run order', () => {
    expect(descendants(churn, 'prepare')).toEqual(['prepare', 'train_tree', 'train_logreg', 'evaluate']);
    expect(descendants(churn, 'train_tree')).toEqual(['train_tree', 'evaluate']);
    expect(descendants(churn, 'evaluate')).toEqual(['evaluate']);
    expect(descendants(churn, 'report')).toEqual(['report']);
  });

  test('upstreamOf: everything the stage reads from, transitively, without itself', () => {
    expect(upstreamOf(churn, 'evaluate')).toEqual(['prepare', 'train_tree', 'train_logreg']);
    expect(upstreamOf(churn, 'train_logreg')).toEqual(['prepare']);
    expect(upstreamOf(churn, 'prepare')).toEqual([]);
  });

  test('a chain', () => {
    const chain = { stages: { a: stage(), b: stage('a'), c: stage('b'), d: stage('c') } };
    expect(upstreamOf(chain, 'c')).toEqual(['a', 'b']);
    expect(descendants(chain, 'b')).toEqual(['b', 'c', 'd']);
  });

  test('unknown stages are an error', () => {
    expect(() => descendants(churn, 'trian')).toThrow("unknown stage 'trian'");
    expect(() => upstreamOf(churn, 'toString')).toThrow("unknown stage 'toString'");
  });
});
