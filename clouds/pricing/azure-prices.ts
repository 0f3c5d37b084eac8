import { z } from 'zod';
import type { Offer } from '../../domain/offer';
import { fetchJson } from './fetch-json';
import type { PriceReference } from './price-reference';

export const AZURE_PRICE_SOURCE = 'azure:retail-prices';
export const AZURE_RETAIL_PRICES_URL = 'https://prices.azure.com';
const API_VERSION = '2023-01-01-preview';

export interface AzurePriceSource {
  kind: 'azure';
  regions: string[];
  /** VM sizes to price; those of the reference catalog when absent (it also gives their shapes). */
  sizes?: string[];
  /** The Retail Prices API's origin (a local fake in tests). */
  baseUrl?: string;
}

/** The fields of a Retail Prices item this reads; the API sends more. */
const RetailPrice = z
  .object({
    currencyCode: z.string(),
    retailPrice: z.number(),
    armRegionName: z.string(),
    armSkuName: z.string(),
    productName: z.string(),
    skuName: z.string(),
    serviceName: z.string(),
    type: z.string(),
    unitOfMeasure: z.string(),
    effectiveStartDate: z.string(),
  })
  .loose();
type RetailPrice = z.infer<typeof RetailPrice>;

const RetailPricesPage = z.object({ Items: z.array(RetailPrice), NextPageLink: z.string().nullable().optional() }).loose();

/**
 * Whether an item prices a Linux VM by the hour, and at which market. Windows, Cloud Services
 * and legacy Low Priority meters are dropped, and so are zero prices (SkyPilot filters alike).
 */
function marketOf(item: RetailPrice): 'spot' | 'on_demand' | undefined {
  if (item.serviceName !== 'Virtual Machines' || item.type !== 'Consumption' || item.currencyCode !== 'USD') return undefined;
  if (item.unitOfMeasure !== '1 Hour' || !(item.retailPrice > 0)) return undefined;
  if (/ Win|Cloud ?Services/.test(item.productName) || item.skuName.endsWith(' Low Priority')) return undefined;
  return item.skuName.includes(' Spot') ? 'spot' : 'on_demand';
}

const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/**
 * Live Azure offers from the Retail Prices API: per region, the Linux pay-as-you-go and spot
 * hourly prices of each size (the newest meter when several apply), following NextPageLink.
 * Shapes (GPUs, vCPUs, memory) and interruption rates come from the reference catalog; a size it
 * does not describe, or one without both prices, is left out. Azure prices a region, not a zone.
 */
export async function fetchAzureOffers(source: AzurePriceSource, reference: PriceReference, now = new Date()): Promise<Offer[]> {
  const sizes = source.sizes ?? reference.instanceTypes('azure');
  const offers: Offer[] = [];
  for (const region of source.regions) {
    // Filter values are case-sensitive since 2023-01-01-preview; ARM names are lower-case regions.
    const filter = [
      `serviceName eq 'Virtual Machines'`,
      `priceType eq 'Consumption'`,
      `armRegionName eq ${quoted(region)}`,
      `(${sizes.map((size) => `armSkuName eq ${quoted(size)}`).join(' or ')})`,
    ].join(' and ');
    const url = new URL('/api/retail/prices', source.baseUrl ?? AZURE_RETAIL_PRICES_URL);
    url.searchParams.set('api-version', API_VERSION);
    url.searchParams.set('$filter', filter);

    const newest = new Map<string, RetailPrice>();
    let next: string | null | undefined = url.toString();
    while (next) {
      const page = RetailPricesPage.parse(await fetchJson(next, 'Azure Retail Prices API'));
      for (const item of page.Items) {
        const market = marketOf(item);
        if (market === undefined || item.armRegionName !== region) continue;
        const key = `${item.armSkuName} ${market}`;
        const seen = newest.get(key);
        if (!seen || item.effectiveStartDate > seen.effectiveStartDate) newest.set(key, item);
      }
      next = page.NextPageLink;
    }

    for (const size of sizes) {
      const onDemand = newest.get(`${size} on_demand`);
      const spot = newest.get(`${size} spot`);
      const shape = reference.describe('azure', region, null, size);
      if (!onDemand || !shape) continue;
      offers.push({
        cloud: 'azure',
        region,
        zone: null,
        instance_type: size,
        gpu_type: shape.gpu_type,
        gpu_count: shape.gpu_count,
        vcpus: shape.vcpus,
        memory_gb: shape.memory_gb,
        on_demand_price: onDemand.retailPrice,
        spot_price: spot?.retailPrice ?? null,
        interruption_rate: shape.interruption_rate,
        fetched_at: now.toISOString(),
        source: AZURE_PRICE_SOURCE,
      });
    }
  }
  return offers;
}
