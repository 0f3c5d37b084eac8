import { ProvisionError, type ProvisionScope } from '../provision-error';

/**
 * How Compute Engine reports a failed VM create, classified the way SkyPilot's GCP failover
 * handler does. Two paths reach here: the
 * finished zone operation's `error.errors[]` (stockouts and most quota errors), and the HTTP
 * error envelope `{"error":{"code","message","errors":[{reason}]}}` that the SDK throws as a
 * GoogleError (permissions, bad requests, throttling, some quota checks).
 */

/** One entry of an operation's `error.errors[]`. */
export interface OperationErrorEntry {
  code?: string | null;
  message?: string | null;
}

// The zone cannot give this machine now; another zone of the region may.
const ZONE_CODES = new Set([
  'ZONE_RESOURCE_POOL_EXHAUSTED',
  'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
  // Observed (by SkyPilot) when a spot VM is preempted while it is being created.
  'UNSUPPORTED_OPERATION',
  'insufficientCapacity',
  // The machine or accelerator type is not offered in this zone.
  'RESOURCE_NOT_FOUND',
  // Still STOPPING, or a machine-image copy across zones throttled: SkyPilot blocks the zone rather than spin.
  'RESOURCE_NOT_READY',
  'RESOURCE_OPERATION_RATE_EXCEEDED',
]);

const QUOTA_CODES = new Set(['QUOTA_EXCEEDED', 'quotaExceeded']);

// Project-wide: VPCs are global, so no other GCP region fixes a missing one.
const CLOUD_CODES = new Set(['VPC_NOT_FOUND']);

const PERMISSION_CODES = new Set(['IAM_PERMISSION_DENIED', 'forbidden', 'insufficientPermissions', 'accessNotConfigured']);

// Throttling reasons GCP sends with a 403 as well as a 429: asking again later works.
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);

// Node's socket-level failures: the request never got an answer, so trying again may.
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

// gRPC status codes (google-gax maps HTTP onto them) that mean "try again": DEADLINE_EXCEEDED, UNAVAILABLE.
const TRANSIENT_GRPC_CODES = new Set([4, 14]);

// Our own code (not GCP's) for a failure GCP did not name.
const UNKNOWN_CODE = 'mlfleet.Unknown';

// When several errors come back, the widest block wins: SkyPilot blocks for each of them.
const SCOPE_WIDTH: Record<ProvisionScope, number> = { retry: 0, zone: 1, region: 2, cloud: 3, fatal: 4 };

/** A global GPU quota (`Quota 'GPUS_ALL_REGIONS' exceeded. Limit: 1.0 globally.`) fails in every region. */
function quotaScope(message: string): ProvisionScope {
  return message.includes('GPUS_ALL_REGIONS') ? 'cloud' : 'region';
}

function operationCodeScope(code: string, message: string): ProvisionScope {
  if (QUOTA_CODES.has(code)) return quotaScope(message);
  if (ZONE_CODES.has(code)) return 'zone';
  if (CLOUD_CODES.has(code)) return 'cloud';
  if (PERMISSION_CODES.has(code)) return 'fatal';
  // The request was accepted, so it was well-formed: an unknown code blocks the zone, as SkyPilot does.
  return 'zone';
}

/** The ProvisionError for a zone operation that finished DONE with `error.errors[]`. */
export function operationProvisionError(errors: readonly OperationErrorEntry[], zone: string): ProvisionError {
  const entries = errors.map((e) => ({ code: e.code ?? UNKNOWN_CODE, message: e.message ?? '' }));
  if (entries.length === 0) entries.push({ code: UNKNOWN_CODE, message: 'the operation failed without saying why' });
  const classified = entries.map((e) => ({ ...e, scope: operationCodeScope(e.code, e.message) }));
  const widest = classified.reduce((a, b) => (SCOPE_WIDTH[b.scope] > SCOPE_WIDTH[a.scope] ? b : a));
  const summary = entries.map((e) => `${e.code}: ${e.message}`).join('; ');
  return new ProvisionError(widest.scope, widest.code, `GCP create in ${zone} failed: ${summary}`);
}

interface HttpErrorFacts {
  status: number | undefined;
  reasons: string[];
  message: string;
}

// google-gax keeps the raw HTTP body on its errors under this registered symbol (googleError.ts).
const RAW_HTTP_PAYLOAD = Symbol.for('google-gax.rawHttpResponsePayload');

/** The HTTP status, the `errors[].reason`s and the message of a GoogleError from the REST transport. */
function httpErrorFacts(err: unknown): HttpErrorFacts {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    httpStatusCode?: unknown;
    reason?: unknown;
    message?: unknown;
    [RAW_HTTP_PAYLOAD]?: unknown;
  };
  const reasons: string[] = typeof e.reason === 'string' && e.reason !== '' ? [e.reason] : [];
  let status = typeof e.httpStatusCode === 'number' ? e.httpStatusCode : undefined;
  const raw = e[RAW_HTTP_PAYLOAD];
  if (typeof raw === 'string') {
    try {
      const body = JSON.parse(raw) as { error?: { code?: unknown; errors?: { reason?: unknown }[] } };
      for (const entry of body.error?.errors ?? []) if (typeof entry.reason === 'string') reasons.push(entry.reason);
      if (status === undefined && typeof body.error?.code === 'number') status = body.error.code;
    } catch {
      // Not JSON (a proxy's HTML page): the status alone classifies it.
    }
  }
  return { status, reasons, message: typeof e.message === 'string' ? e.message : String(err) };
}

function isNetworkError(err: unknown): boolean {
  for (let cause: unknown = err, depth = 0; cause !== null && typeof cause === 'object' && depth < 5; depth += 1) {
    const { code } = cause as { code?: unknown };
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    if (typeof code === 'number' && TRANSIENT_GRPC_CODES.has(code) && (cause as { httpStatusCode?: unknown }).httpStatusCode === undefined) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

function httpScope({ status, reasons, message }: HttpErrorFacts): ProvisionScope {
  // A reason says more than a status: GCP sends quota and rate limits as 403s.
  if (reasons.some((r) => QUOTA_CODES.has(r))) return quotaScope(message);
  if (reasons.some((r) => ZONE_CODES.has(r))) return 'zone';
  if (reasons.some((r) => RATE_LIMIT_REASONS.has(r)) || status === 429 || (status !== undefined && status >= 500)) return 'retry';
  // A zone this project may not use (`Location us-east1-d is not found or access is unauthorized.`).
  if (message.includes('is not found or access is unauthorized')) return 'zone';
  // The insert path names only the project and the zone: a 404 is a zone this project does not have.
  if (status === 404) return 'zone';
  // 401/403 are credentials or IAM; any other 4xx is a request no other offer would fix.
  return 'fatal';
}

/** The ProvisionError for anything the SDK threw during a create. */
export function googleProvisionError(err: unknown): ProvisionError {
  if (err instanceof ProvisionError) return err;
  const facts = httpErrorFacts(err);
  if (facts.status === undefined) {
    return isNetworkError(err)
      ? new ProvisionError('retry', 'mlfleet.Unreachable', `GCP unreachable: ${facts.message}`)
      : new ProvisionError('fatal', UNKNOWN_CODE, `GCP create failed: ${facts.message}`);
  }
  const code = facts.reasons[0] ?? `HTTP_${facts.status}`;
  return new ProvisionError(httpScope(facts), code, `GCP create failed (HTTP ${facts.status} ${code}): ${facts.message}`);
}

/** The HTTP status of a GoogleError from the REST transport (undefined when there was no answer). */
export function httpStatusOf(err: unknown): number | undefined {
  return httpErrorFacts(err).status;
}
