// Read off the SDK's error shape without loading the SDK: callers that only classify errors (the
// stage agent's file:// paths) must not pay for its import.
const statusOf = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

/** True for the SDK's 404s (NotFound from HEAD, NoSuchKey from GET). */
export const isNotFound = (err: unknown): boolean => statusOf(err) === 404;

/**
 * True for a 403, which is also what S3 answers for a missing key to a caller that may not list the
 * bucket there (a stage's prefix-scoped credentials): such a key may still be a folder.
 */
export const isForbidden = (err: unknown): boolean => statusOf(err) === 403;
