import { z } from 'zod';
import { Cloud } from './pipeline-spec';

/**
 * One machine a cloud sells in one place, with its prices: a row of the offer catalog. Prices are
 * USD per hour; a GCP row prices the host VM and its GPUs together.
 */
export const Offer = z
  .object({
    cloud: Cloud,
    region: z.string().min(1),
    /** Null when the price holds for the whole region (the cloud picks the zone). */
    zone: z.string().min(1).nullable(),
    instance_type: z.string().min(1),
    /** Canonical GPU name (`A100`, `A100-80GB`, `H100`, `L4`, `T4`, `V100`, `A10G`, `A10`), null for CPU offers. */
    gpu_type: z.string().min(1).nullable(),
    gpu_count: z.number().int().min(0),
    vcpus: z.number().positive(),
    memory_gb: z.number().positive(),
    on_demand_price: z.number().positive(),
    /** Null when the offer has no spot market. */
    spot_price: z.number().positive().nullable(),
    /** Expected spot interruptions per hour of running (0 ≤ rate ≤ 1). */
    interruption_rate: z.number().min(0).max(1),
    /** ISO 8601: when the prices were read from their source. */
    fetched_at: z.string().datetime(),
    /** Where the prices came from: `bundled`, `aws:DescribeSpotPriceHistory`, `azure:retail-prices`, … */
    source: z.string().min(1),
  })
  .strict();
export type Offer = z.infer<typeof Offer>;

/**
 * Where failover must not try again: a capacity or quota error, or a preemption, blocks a zone,
 * a region or a whole cloud (SkyPilot's granularity).
 */
export const PlacementBlock = z
  .object({
    scope: z.enum(['zone', 'region', 'cloud']),
    cloud: Cloud,
    region: z.string().min(1).optional(),
    zone: z.string().min(1).optional(),
    /** `spot`: only that place's spot market is closed (a preemption); unset: every offer there (capacity, quota). */
    market: z.literal('spot').optional(),
    reason: z.string(),
  })
  .strict();
export type PlacementBlock = z.infer<typeof PlacementBlock>;

/** The `ApplicationFailure` type of a VM create that failed for capacity or quota; its details hold the PlacementBlock. */
export const PROVISION_BLOCKED_FAILURE = 'ProvisionBlocked';

/** Whether a block rules an offer out in the given market. */
export function isBlocked(offer: Offer, blocks: readonly PlacementBlock[], spot: boolean): boolean {
  return blocks.some(
    (block) =>
      block.cloud === offer.cloud &&
      (block.market === undefined || spot) &&
      (block.scope === 'cloud' ||
        (block.scope === 'region' && block.region === offer.region) ||
        (block.scope === 'zone' && block.region === offer.region && block.zone === offer.zone)),
  );
}

export const OfferSnapshotStatus = z.enum(['ok', 'failed']);
export type OfferSnapshotStatus = z.infer<typeof OfferSnapshotStatus>;

/** One refresh of one price source, without its rows. */
export const OfferSnapshotInfo = z.object({
  snapshotId: z.number().int(),
  source: z.string(),
  cloud: Cloud,
  status: OfferSnapshotStatus,
  /** Epoch milliseconds: when the refresh read (or failed to read) its source. */
  fetchedAt: z.number(),
  rowCount: z.number().int(),
  error: z.string().optional(),
});
export type OfferSnapshotInfo = z.infer<typeof OfferSnapshotInfo>;

export type OfferSnapshot = OfferSnapshotInfo & { rows: Offer[] };

/** What one source's refreshes say now: its newest attempt, and its newest good snapshot if it ever had one. */
export interface SourceFreshness {
  source: string;
  cloud: Cloud;
  lastAttempt: OfferSnapshotInfo;
  lastGood?: OfferSnapshotInfo;
}
