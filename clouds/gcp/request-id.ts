import { createHash } from 'node:crypto';

// mlfleet's own UUIDv5 namespace, so our request ids never collide with another tool's v5 ids.
const MLFLEET_NAMESPACE = Buffer.from('c0a8f29ff2c04858a70364b063d8c9c9', 'hex');

/**
 * The GCP `requestId` for an idempotency token: a UUIDv5 (RFC 9562) of the token, so a retried
 * insert carries the same id and Compute Engine returns the first operation instead of creating
 * a second VM. The version and variant bits make it non-zero, which GCP requires.
 */
export function gcpRequestId(idempotencyToken: string): string {
  const bytes = createHash('sha1').update(MLFLEET_NAMESPACE).update(idempotencyToken, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
