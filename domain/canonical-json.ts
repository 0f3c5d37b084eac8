/**
 * Deterministic JSON for digests (cache keys, snapshot ids, pipeline digests): object keys sorted
 * recursively by UTF-16 code unit, no whitespace, undefined members dropped. Anything JSON would
 * silently alter (NaN and Infinity become null, functions vanish, undefined in arrays becomes
 * null) throws instead, so two different values can never share a digest by accident.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', new Set());
}

function encode(value: unknown, at: string, ancestors: Set<object>): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value} at ${at}`);
    return JSON.stringify(value);
  }
  if (typeof value !== 'object') throw new TypeError(`canonicalJson: cannot encode ${typeof value} at ${at}`);

  // Dates and similar keep their JSON form, as JSON.stringify would give them.
  const withJson = value as { toJSON?: unknown };
  if (typeof withJson.toJSON === 'function') return encode((withJson.toJSON as () => unknown)(), at, ancestors);

  // Their entries are not own properties, so they would encode as {} and collide.
  if (value instanceof Map || value instanceof Set) {
    throw new TypeError(`canonicalJson: cannot encode a Map or Set at ${at}`);
  }

  if (ancestors.has(value)) throw new TypeError(`canonicalJson: circular reference at ${at}`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.map((item: unknown, i) => {
        if (item === undefined) throw new TypeError(`canonicalJson: undefined at ${at}[${i}]`);
        return encode(item, `${at}[${i}]`, ancestors);
      });
      return `[${items.join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${encode(record[key], `${at}.${key}`, ancestors)}`);
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}
