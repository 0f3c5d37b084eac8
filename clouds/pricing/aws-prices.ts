import {
  EC2Client,
  type EC2ClientConfig,
  type InstanceTypeInfo,
  type _InstanceType,
  paginateDescribeInstanceTypes,
  paginateDescribeSpotPriceHistory,
  type SpotPrice,
} from '@aws-sdk/client-ec2';
import type { Offer } from '../../domain/offer';
import type { PriceReference } from './price-reference';

export const AWS_PRICE_SOURCE = 'aws:DescribeSpotPriceHistory';

export interface AwsPriceSource {
  kind: 'aws';
  regions: string[];
  /** The instance types to price; those of the reference catalog when absent. */
  instanceTypes?: string[];
  /** A local endpoint (moto) instead of AWS's. */
  endpoint?: string;
  credentials?: EC2ClientConfig['credentials'];
}

// `Linux/UNIX (Amazon VPC)` is the same price in a VPC, which is where every instance runs now.
const LINUX_DESCRIPTIONS = new Set(['Linux/UNIX', 'Linux/UNIX (Amazon VPC)']);

/** The newest price of each (availability zone, instance type) among `history`. */
export function latestSpotPrices(history: readonly SpotPrice[]): Map<string, { zone: string; instanceType: string; price: number }> {
  const latest = new Map<string, { zone: string; instanceType: string; price: number; at: number }>();
  for (const row of history) {
    if (!row.AvailabilityZone || !row.InstanceType || !row.SpotPrice || !LINUX_DESCRIPTIONS.has(row.ProductDescription ?? '')) continue;
    const key = `${row.AvailabilityZone} ${row.InstanceType}`;
    const at = row.Timestamp?.getTime() ?? 0;
    const previous = latest.get(key);
    if (!previous || at > previous.at) latest.set(key, { zone: row.AvailabilityZone, instanceType: row.InstanceType, price: Number(row.SpotPrice), at });
  }
  return latest;
}

/** The canonical GPU name of an instance type; p4d and p4de both report `A100`, told apart by memory. */
function gpuOf(info: InstanceTypeInfo): { type: string | null; count: number } {
  const gpu = info.GpuInfo?.Gpus?.[0];
  if (!gpu?.Name) return { type: null, count: 0 };
  const memoryMiB = gpu.MemoryInfo?.SizeInMiB ?? 0;
  const type = gpu.Name === 'A100' && memoryMiB >= 80 * 1024 ? 'A100-80GB' : gpu.Name;
  return { type, count: (info.GpuInfo?.Gpus ?? []).reduce((sum, g) => sum + (g.Count ?? 0), 0) };
}

/**
 * Live AWS offers: shapes from DescribeInstanceTypes and the current spot price of every zone from
 * DescribeSpotPriceHistory (StartTime now: one current row per zone and type). EC2 has no on-demand
 * price call (that is the Price List bulk file), so on-demand prices and interruption rates come
 * from the reference catalog, and a type it does not price in that region is left out.
 */
export async function fetchAwsOffers(source: AwsPriceSource, reference: PriceReference, now = new Date()): Promise<Offer[]> {
  // The SDK's union lists the types it was generated with; newer ones are valid names all the same.
  const instanceTypes = (source.instanceTypes ?? reference.instanceTypes('aws')) as _InstanceType[];
  const offers: Offer[] = [];
  for (const region of source.regions) {
    // One attempt: a refresh that fails is recorded and retried by the next refresh, not here.
    const client = new EC2Client({
      region,
      maxAttempts: 1,
      ...(source.endpoint !== undefined && { endpoint: source.endpoint }),
      ...(source.credentials !== undefined && { credentials: source.credentials }),
    });
    try {
      const shapes = new Map<string, InstanceTypeInfo>();
      for await (const page of paginateDescribeInstanceTypes({ client }, { InstanceTypes: instanceTypes })) {
        for (const info of page.InstanceTypes ?? []) if (info.InstanceType) shapes.set(info.InstanceType, info);
      }
      const history: SpotPrice[] = [];
      for await (const page of paginateDescribeSpotPriceHistory(
        { client },
        { InstanceTypes: instanceTypes, ProductDescriptions: ['Linux/UNIX'], StartTime: now },
      )) {
        history.push(...(page.SpotPriceHistory ?? []));
      }
      for (const { zone, instanceType, price } of latestSpotPrices(history).values()) {
        const shape = shapes.get(instanceType);
        const known = reference.find('aws', region, zone, instanceType);
        if (!shape || !known || !shape.VCpuInfo?.DefaultVCpus || !shape.MemoryInfo?.SizeInMiB) continue;
        const gpu = gpuOf(shape);
        offers.push({
          cloud: 'aws',
          region,
          zone,
          instance_type: instanceType,
          gpu_type: gpu.type,
          gpu_count: gpu.count,
          vcpus: shape.VCpuInfo.DefaultVCpus,
          memory_gb: shape.MemoryInfo.SizeInMiB / 1024,
          on_demand_price: known.on_demand_price,
          spot_price: price,
          interruption_rate: known.interruption_rate,
          fetched_at: now.toISOString(),
          source: AWS_PRICE_SOURCE,
        });
      }
    } finally {
      client.destroy();
    }
  }
  return offers;
}
