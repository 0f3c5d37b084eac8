import { createHash } from 'node:crypto';
import { canonicalJson } from '../../domain/canonical-json';

describe('canonicalJson', () => {
  test('sorts object keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test('key order of the input does not matter; array order does', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  test('sorts keys by UTF-16 code unit, not by locale', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, é: 4, _: 5, '10': 6, '9': 7 })).toBe('{"10":6,"9":7,"B":2,"_":5,"a":3,"b":1,"é":4}');
  });

  test('drops undefined members, keeps null', () => {
    expect(canonicalJson({ a: undefined, b: null, c: { d: undefined } })).toBe('{"b":null,"c":{}}');
  });

  test('scalars and escaping as JSON', () => {
    expect(canonicalJson('he said "hi"\n')).toBe('"he said \\"hi\\"\\n"');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(canonicalJson(0.1)).toBe('0.1');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });

  test('uses toJSON, as JSON does', () => {
    expect(canonicalJson({ at: new Date(Date.UTC(2024, 0, 2)) })).toBe('{"at":"2024-01-02T00:00:00.000Z"}');
  });

  test('rejects what JSON would silently change', () => {
    expect(() => canonicalJson({ a: [1, NaN] })).toThrow('canonicalJson: non-finite number NaN at $.a[1]');
    expect(() => canonicalJson(Infinity)).toThrow('non-finite number Infinity at $');
    expect(() => canonicalJson([1, undefined])).toThrow('undefined at $[1]');
    expect(() => canonicalJson(undefined)).toThrow('cannot encode undefined at $');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('cannot encode function at $.f');
    expect(() => canonicalJson({ n: 10n })).toThrow('cannot encode bigint at $.n');
    expect(() => canonicalJson(new Map([['a', 1]]))).toThrow('cannot encode a Map or Set at $');
  });

  test('rejects circular structures but allows shared ones', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow('circular reference at $.self');
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"v":1},"b":[{"v":1}]}');
  });

  test('round-trips through JSON.parse and gives stable digests', () => {
    const value = { stage: 'train', params: { lr: 0.1, epochs: 10 }, inputs: [{ digest: 'sha256:ab' }] };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
    const digest = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');
    expect(digest(value)).toBe(digest({ inputs: [{ digest: 'sha256:ab' }], params: { epochs: 10, lr: 0.1 }, stage: 'train' }));
  });
});
