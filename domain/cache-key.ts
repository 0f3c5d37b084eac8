import { z } from 'zod';
import { ParamValue } from './param-value';

/**
 * Everything a stage's result depends on, so equal keys mean reusable results: the cache key is the sha256 of
 * the canonical JSON of this. Resources are left out on purpose: where a stage runs must not
 * change what it computes.
 */
export const CacheKeyMaterial = z
  .object({
    command: z.string(),
    image: z.string().optional(),
    /** The code bundle's digest, or the digest of the files the stage's `code:` paths narrow it to. */
    code: z.string().optional(),
    params: z.record(z.string(), ParamValue),
    /** Input name → snapshot digest (data URIs) or output digest (upstream stages). */
    inputs: z.record(z.string(), z.string()),
    env: z.record(z.string(), z.string()),
    version: z.union([z.number(), z.string()]).optional(),
  })
  .strict();
export type CacheKeyMaterial = z.infer<typeof CacheKeyMaterial>;

/** Whether `path` of the code bundle is one of a stage's declared `code:` paths or under one of them. */
export function isDeclaredCodePath(path: string, declared: readonly string[]): boolean {
  return declared.some((entry) => {
    const prefix = entry.split(/[\\/]/).filter((part) => part !== '' && part !== '.').join('/');
    return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
  });
}
