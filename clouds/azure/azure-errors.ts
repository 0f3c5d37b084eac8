import { z } from 'zod';
import { ProvisionError, type ProvisionScope } from '../provision-error';

/**
 * What the Azure SDK throws for a failed request: a RestError. It comes from
 * @azure/core-rest-pipeline, which mlfleet does not depend on directly, so it is recognised by shape.
 */
const RestErrorShape = z.object({
  name: z.literal('RestError'),
  message: z.string(),
  code: z.string().optional(),
  statusCode: z.number().optional(),
});

// @azure/core-lro reports an operation that ended Failed as a plain Error whose message carries the
// operation's error: "The long-running operation has failed. <code>. <message>".
const OPERATION_FAILURE = /^The long-running operation has failed\. ([A-Za-z][\w.-]*)\. ([\s\S]*)$/;

/** @azure/identity's errors when no credential works; the SDK passes them through unchanged. */
const CREDENTIAL_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError', 'AuthenticationRequiredError']);

/** Stockouts: the VM size has no (spot) capacity where it was asked for. */
const CAPACITY_CODES = new Set([
  'SkuNotAvailable',
  'AllocationFailed',
  'ZonalAllocationFailed',
  'OverconstrainedAllocationRequest',
  'OverconstrainedZonalAllocationRequest',
]);

/** Refusals that hold for the whole region: its spot price, or spot for this size there. */
const REGION_CODES = new Set(['SpotPriceGreaterThanProvidedMaxPrice', 'AzureSpotIsNotSupportedForThisVMSize']);

/**
 * Refusals of the subscription or its credentials. They block Azure, not the stage: AWS and GCP
 * may still place it, which `fatal` would forbid. Spot not enabled for the subscription is one of
 * them, since every Azure offer a spot stage considers is a spot offer.
 */
const CLOUD_CODES = new Set([
  'AuthorizationFailed',
  'AuthenticationFailed',
  'InvalidAuthenticationToken',
  'InvalidAuthenticationTokenTenant',
  'ExpiredAuthenticationToken',
  'SubscriptionNotFound',
  'ReadOnlyDisabledSubscription',
  'AzureSpotFeatureNotEnabledForSubscription',
]);

/** Azure's own words for "try again": throttling and internal errors, also inside an operation. */
const RETRY_CODES = new Set(['TooManyRequests', 'RetryableError', 'InternalExecutionError', 'InternalOperationError', 'ServerTimeout', 'REQUEST_SEND_ERROR']);

export interface AzureFailure {
  code: string;
  /** Absent for a failed long-running operation (its HTTP status was 200) and for network errors. */
  statusCode?: number;
  message: string;
}

/** The code, status and message of anything the Azure SDK (or its credential) threw. */
export function azureFailure(err: unknown): AzureFailure {
  const rest = RestErrorShape.safeParse(err);
  if (rest.success) {
    const { code, statusCode, message } = rest.data;
    return { code: code || `HTTP${statusCode ?? ''}`, ...(statusCode === undefined ? {} : { statusCode }), message };
  }
  if (err instanceof Error) {
    const operation = OPERATION_FAILURE.exec(err.message);
    if (operation) return { code: operation[1] ?? '', message: operation[2] ?? '' };
    const systemCode = (err as NodeJS.ErrnoException).code;
    return { code: typeof systemCode === 'string' ? systemCode : err.name, message: err.message };
  }
  return { code: 'Unknown', message: String(err) };
}

/** True when Azure answered 404: the VM (or its resource group) does not exist. */
export function isAzureNotFound(err: unknown): boolean {
  return azureFailure(err).statusCode === 404;
}

/**
 * How far a failed Azure VM create reaches (SkyPilot's granularity): a stockout blocks the zone
 * when one was asked for, else the region; quota and spot-price refusals block the region; auth
 * and subscription refusals block Azure; throttling, 5xx and network errors are retried; anything
 * else is a request no other offer fixes.
 */
export function classifyAzureError(err: unknown, attempt: { zoneRequested: boolean }): ProvisionError {
  const failure = azureFailure(err);
  const scope = err instanceof Error && CREDENTIAL_ERRORS.has(err.name) ? 'cloud' : scopeOf(failure, attempt.zoneRequested);
  return new ProvisionError(scope, failure.code, failure.message);
}

function scopeOf({ code, statusCode, message }: AzureFailure, zoneRequested: boolean): ProvisionScope {
  if (CAPACITY_CODES.has(code)) return zoneRequested ? 'zone' : 'region';
  // OperationNotAllowed is Azure's quota refusal, and also its answer to a VM busy with another operation.
  if (code === 'OperationNotAllowed') return /quota/i.test(message) ? 'region' : 'retry';
  if (REGION_CODES.has(code)) return 'region';
  if (CLOUD_CODES.has(code)) return 'cloud';
  if (RETRY_CODES.has(code) || statusCode === 429 || (statusCode !== undefined && statusCode >= 500)) return 'retry';
  if (statusCode === 401 || statusCode === 403) return 'cloud';
  // No HTTP answer at all: the connection failed (ECONNRESET, ETIMEDOUT, …).
  if (statusCode === undefined && /^E[A-Z]+$/.test(code)) return 'retry';
  return 'fatal';
}
