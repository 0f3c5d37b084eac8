import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** `sha256:<hex>` of a text: the form of every digest mlfleet records (cache keys, snapshots, code bundles, specs). */
export const digestOf = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** The hex sha256 of a file's bytes, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
