import type { Offer } from '../../domain/offer';
import { VM_CLOUDS, type VmCloud } from '../../domain/clouds';
import type { PlacementRequest } from '../../domain/placement';
import { pick } from '../common/random';

const CLOUDS: readonly VmCloud[] = VM_CLOUDS;
const GPUS = ['T4', 'L4', 'A10G', 'A10', 'A100', 'A100-80GB', 'H100', 'V100'] as const;
// Rough on-demand USD per GPU-hour, so synthetic prices keep real proportions.
const GPU_HOUR_USD: Readonly<Record<(typeof GPUS)[number], number>> = { T4: 0.5, L4: 0.8, A10G: 1, A10: 1.1, A100: 3, 'A100-80GB': 4, H100: 7, V100: 2.5 };

/**
 * `count` offers spread over 3 clouds × many regions × zones, GPU and CPU types with prices in
 * real proportions: the ranking's input at a size no real catalog has yet.
 */
export function syntheticOffers(count: number, random: () => number): Offer[] {
  const offers: Offer[] = [];
  for (let i = 0; i < count; i += 1) {
    const cloud = pick(random, CLOUDS);
    const region = `${cloud}-region-${Math.floor(random() * 40)}`;
    const gpu = random() < 0.7 ? pick(random, GPUS) : null;
    const gpuCount = gpu === null ? 0 : pick(random, [1, 1, 2, 4, 8]);
    const vcpus = gpu === null ? pick(random, [2, 4, 8, 16, 32, 64]) : gpuCount * pick(random, [4, 8, 12]);
    const onDemand = gpu === null ? vcpus * 0.048 : gpuCount * GPU_HOUR_USD[gpu] * (0.8 + 0.4 * random());
    offers.push({
      cloud,
      region,
      // A unique zone per row keeps (cloud, region, zone, type) unique, as the catalog requires.
      zone: `${region}-z${i}`,
      instance_type: `${gpu ?? 'cpu'}-${gpuCount}x-${vcpus}`,
      gpu_type: gpu,
      gpu_count: gpuCount,
      vcpus,
      memory_gb: vcpus * pick(random, [2, 4, 8]),
      on_demand_price: onDemand,
      spot_price: random() < 0.9 ? onDemand * (0.2 + 0.6 * random()) : null,
      interruption_rate: 0.01 + 0.14 * random(),
      fetched_at: '2026-11-20T00:00:00.000Z',
      source: 'synthetic',
    });
  }
  return offers;
}

const inputIn = (cloud: VmCloud, random: () => number) => ({ cloud, region: `${cloud}-region-${Math.floor(random() * 40)}`, bytes: random() * 500e9 });

/** `count` different stage requests: GPU or CPU, spot or not, some with a price cap, history or inputs. */
export function syntheticRequests(count: number, random: () => number): PlacementRequest[] {
  return Array.from({ length: count }, (): PlacementRequest => {
    const gpu = random() < 0.7 ? { type: pick(random, GPUS), count: pick(random, [1, 1, 2, 8]) } : undefined;
    return {
      resources: {
        ...(gpu !== undefined ? { gpu } : { cpus: pick(random, [2, 4, 8]), memory_gb: pick(random, [4, 16, 32]) }),
        spot: random() < 0.8,
        ...(random() < 0.3 && { max_price_per_hour: 5 + 20 * random() }),
        ...(random() < 0.3 && { expected_hours: 0.5 + 10 * random() }),
      },
      ...(random() < 0.5 && { historyHours: 0.2 + 5 * random() }),
      inputs: random() < 0.5 ? [inputIn(pick(random, CLOUDS), random)] : [],
    };
  });
}
