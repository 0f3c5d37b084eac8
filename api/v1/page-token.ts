import type { z } from 'zod';

/**
 * An opaque page token: base64url of the JSON of the last item's position in the ordering, which
 * `schema` checks on the way back (a token is client input like any other).
 */
export function pageTokenCodec<T>(schema: z.ZodType<T>): { encode(position: T): string; decode(token: string): T | undefined } {
  return {
    encode: (position) => Buffer.from(JSON.stringify(position)).toString('base64url'),
    decode(token) {
      if (!/^[A-Za-z0-9_-]{1,1000}$/.test(token)) return undefined;
      try {
        const parsed = schema.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
