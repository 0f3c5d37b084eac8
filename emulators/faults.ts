import { z } from 'zod';

/**
 * A failure to inject into the next matching VM creates: `capacity` (the cloud's stockout code)
 * or `quota` (its quota code). Unset match fields match anything.
 */
export const Fault = z
  .object({
    kind: z.enum(['capacity', 'quota']),
    region: z.string().min(1).optional(),
    zone: z.string().min(1).optional(),
    instance_type: z.string().min(1).optional(),
    /** How many creates it fails before it is used up. */
    count: z.number().int().min(1).default(1),
  })
  .strict();
export type Fault = z.infer<typeof Fault>;

export interface CreateAttempt {
  region: string;
  zone: string | null;
  instance_type: string;
}

/** The faults waiting to be injected, consumed one create at a time, first injected first. */
export class FaultBook {
  private readonly faults: Fault[] = [];

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  /** The fault this create must fail with, if any; using it counts it down. */
  take(attempt: CreateAttempt): Fault['kind'] | undefined {
    const index = this.faults.findIndex(
      (f) =>
        (f.region === undefined || f.region === attempt.region) &&
        (f.zone === undefined || f.zone === attempt.zone) &&
        (f.instance_type === undefined || f.instance_type === attempt.instance_type),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.count -= 1;
    if (fault.count === 0) this.faults.splice(index, 1);
    return fault.kind;
  }

  clear(): void {
    this.faults.length = 0;
  }
}
