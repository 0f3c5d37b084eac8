import { createHash } from 'node:crypto';

/** A lease id that is a valid VM name on every cloud (lowercase, starts with a letter, ≤ 63 chars) and the same on every retry. */
export const leaseIdOf = (stageKey: string, placementAttempt: number): string =>
  `mlfleet-${createHash('sha256').update(`${stageKey}#${placementAttempt}`).digest('hex').slice(0, 24)}`;
