import { ProvisionError, type ProvisionScope } from '../provision-error';

// EC2 error codes (API reference "Error codes"), grouped by how far a failed RunInstances reaches.
// SkyPilot blocks only the tried zone for any AWS error but credentials; we keep that default for
// codes we do not know, and widen or narrow it where the code says more.

/** The pool (type × zone) is out of capacity: the same type may well be free in the next zone. */
const ZONE_CODES = new Set(['InsufficientInstanceCapacity', 'InsufficientCapacity', 'InsufficientHostCapacity', 'UnfulfillableCapacity']);

/** Quotas and prices are per region, and so is the list of instance types a region sells. */
const REGION_CODES = new Set([
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'VcpuLimitExceeded',
  'InstanceLimitExceeded',
  'Unsupported',
  'InvalidParameterCombination',
  // An opt-in region the account has not enabled.
  'OptInRequired',
]);

/** The account itself cannot launch anything, in any region. */
const CLOUD_CODES = new Set(['Blocked', 'PendingVerification']);

/** Throttling and EC2's own failures: the same offer may succeed a moment later. */
const RETRY_CODES = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'InternalError', 'ServiceUnavailable', 'Unavailable']);

/** Credentials, permissions and malformed requests: no other offer fixes them. */
const FATAL_CODES = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'InvalidParameterValue',
  'InvalidParameter',
  'MissingParameter',
  'InvalidUserData.Malformed',
  // The same ClientToken with a different request: a bug in how tokens are derived.
  'IdempotentParameterMismatch',
]);
const FATAL_PREFIXES = ['InvalidAMIID.'];

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  /** Node's code for a network failure (`ECONNREFUSED`, `ECONNRESET`, …). */
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The EC2 error code of an SDK v3 error (EC2 errors are not modelled as classes: the code is `name`). */
export function ec2ErrorCode(err: unknown): string | undefined {
  const { name } = (err ?? {}) as SdkErrorShape;
  return typeof name === 'string' ? name : undefined;
}

/** How far a failure with this code (and HTTP status, when EC2 answered at all) reaches. */
export function ec2ErrorScope(code: string, httpStatus: number | undefined): ProvisionScope {
  if (ZONE_CODES.has(code)) return 'zone';
  if (REGION_CODES.has(code)) return 'region';
  if (CLOUD_CODES.has(code)) return 'cloud';
  if (RETRY_CODES.has(code)) return 'retry';
  if (FATAL_CODES.has(code) || FATAL_PREFIXES.some((prefix) => code.startsWith(prefix))) return 'fatal';
  // No status: EC2 never answered (refused, reset, timed out), so nothing is known about the offer.
  if (httpStatus === undefined || httpStatus >= 500) return 'retry';
  return 'zone';
}

/** A failed RunInstances as a {@link ProvisionError}, its scope from the EC2 error code. */
export function classifyEc2Error(err: unknown): ProvisionError {
  const shape = (err ?? {}) as SdkErrorShape;
  const httpStatus = shape.$metadata?.httpStatusCode;
  const networkCode = httpStatus === undefined && typeof shape.code === 'string' ? shape.code : undefined;
  const code = networkCode ?? ec2ErrorCode(err) ?? 'Error';
  const message = typeof shape.message === 'string' ? shape.message : String(err);
  return new ProvisionError(ec2ErrorScope(code, httpStatus), code, `EC2 RunInstances failed (${code}${httpStatus === undefined ? '' : `, HTTP ${httpStatus}`}): ${message}`);
}
