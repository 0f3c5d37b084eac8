import type { VmCloud } from './clouds';
import type { Cloud } from './pipeline-spec';

/**
 * What moving data out of a cloud costs, USD per GB (10^9 bytes), by the cloud that sends it:
 * ingress is free everywhere, and a cross-cloud copy is billed by the source as internet egress.
 * First-tier list prices from third-party summaries (clouds.md §5.2, 2025–early 2026); the free
 * monthly allowances are left out, since a deployment's other traffic uses them up.
 */
export const EGRESS_USD_PER_GB: Readonly<Record<VmCloud, { crossRegion: number; internet: number }>> = {
  aws: { crossRegion: 0.02, internet: 0.09 },
  // Premium tier, GCP's default network tier.
  gcp: { crossRegion: 0.02, internet: 0.12 },
  azure: { crossRegion: 0.02, internet: 0.087 },
};

export const BYTES_PER_GB = 1e9;

/** Where bytes live or go: a cloud region; null when only the cloud is known (an s3:// URI without its bucket's region). */
export interface DataLocation {
  cloud: Cloud;
  region: string | null;
}

/**
 * USD per GB to move data from `from` to `to`: free within one region (inter-zone traffic is
 * left out) and from `local` (the data is uploaded, which is ingress); the source cloud's
 * cross-region rate inside one cloud, its internet rate across clouds or out to `local`. An unknown
 * source region inside the same cloud is priced as cross-region, the likelier and dearer case.
 */
export function egressUsdPerGb(from: DataLocation, to: DataLocation): number {
  if (from.cloud === 'local') return 0;
  const rates = EGRESS_USD_PER_GB[from.cloud];
  if (from.cloud !== to.cloud) return rates.internet;
  return from.region !== null && from.region === to.region ? 0 : rates.crossRegion;
}

/** USD to move `bytes` from `from` to `to`. */
export function egressUsd(bytes: number, from: DataLocation, to: DataLocation): number {
  return (bytes / BYTES_PER_GB) * egressUsdPerGb(from, to);
}
