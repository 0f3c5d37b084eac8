/**
 * How far a failed VM create reaches: `zone`, `region` or `cloud` block that much for the rest of
 * the stage's placement and the next offer is tried; `retry` is transient (throttling, a 5xx) and
 * the same offer may be tried again; `fatal` is a mistake no other offer fixes (bad credentials,
 * a malformed request) and fails the stage.
 */
export type ProvisionScope = 'zone' | 'region' | 'cloud' | 'retry' | 'fatal';

/** A VM create (or its long-running operation) failed, classified from the cloud's error code. */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';

  constructor(
    readonly scope: ProvisionScope,
    /** The cloud's own error code, e.g. `InsufficientInstanceCapacity`, `ZONE_RESOURCE_POOL_EXHAUSTED`, `SkuNotAvailable`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
