import { z } from 'zod';
import type { Offer } from '../../domain/offer';
import { fetchJson } from './fetch-json';
import type { PriceReference } from './price-reference';

export const GCP_PRICE_SOURCE = 'gcp:cloud-billing-catalog';
export const GCP_BILLING_URL = 'https://cloudbilling.googleapis.com';
/** Compute Engine's service id in the Cloud Billing Catalog. */
const COMPUTE_SERVICE = '6F81-5844-456A';

export interface GcpPriceSource {
  kind: 'gcp';
  /** API key of the Billing Catalog (it needs a key or OAuth); none for a local fake. */
  apiKey?: string;
  /** The Billing Catalog's origin (a local fake in tests). */
  baseUrl?: string;
  /** The regions to price; the reference catalog's GCP regions when absent. */
  regions?: string[];
}

const Money = z.object({ units: z.string().optional(), nanos: z.number().optional() }).loose();

const Sku = z
  .object({
    description: z.string(),
    category: z.object({ resourceFamily: z.string(), resourceGroup: z.string(), usageType: z.string() }).loose(),
    serviceRegions: z.array(z.string()),
    pricingInfo: z.array(
      z.object({ pricingExpression: z.object({ tieredRates: z.array(z.object({ unitPrice: Money }).loose()) }).loose() }).loose(),
    ),
  })
  .loose();
type Sku = z.infer<typeof Sku>;

const SkusPage = z.object({ skus: z.array(Sku), nextPageToken: z.string().optional() }).loose();

/** The SKU description of each canonical GPU name; `H100 80GB GPU` excludes the Mega and Plus variants. */
const GPU_SKU_PATTERNS: Readonly<Record<string, RegExp>> = {
  T4: /\bT4 GPU\b/,
  L4: /\bL4 GPU\b/,
  V100: /\bV100 GPU\b/,
  A100: /\bA100 GPU\b/,
  'A100-80GB': /\bA100 80GB GPU\b/,
  H100: /\bH100 80GB GPU\b/,
};

/** The SKU name of each machine series' vCPU and memory prices (`<name> Core`, `<name> Ram`). */
const SERIES_SKU_NAMES: Readonly<Record<string, string>> = {
  n1: 'N1 Predefined Instance',
  n2: 'N2 Instance',
  e2: 'E2 Instance',
  g2: 'G2 Instance',
  a2: 'A2 Instance',
  a3: 'A3 Instance',
};

type Market = 'spot' | 'on_demand';

/** USD per unit of the SKU's last tier (the rate past any free tier). */
function unitPrice(sku: Sku): number | undefined {
  const rates = sku.pricingInfo[0]?.pricingExpression.tieredRates ?? [];
  const money = rates[rates.length - 1]?.unitPrice;
  if (!money) return undefined;
  return Number(money.units ?? '0') + (money.nanos ?? 0) / 1e9;
}

/** Preemptible is the Billing Catalog's name for Spot; commitments and the rest are not offers. */
function marketOf(sku: Sku): Market | undefined {
  if (sku.category.resourceFamily !== 'Compute') return undefined;
  if (sku.category.usageType === 'OnDemand') return 'on_demand';
  if (sku.category.usageType === 'Preemptible') return 'spot';
  return undefined;
}

/** Per (region, market): the hourly price of each GPU and each series' vCPU and GiB of memory. */
class ComponentPrices {
  private readonly prices = new Map<string, number>();

  add(sku: Sku): void {
    const market = marketOf(sku);
    const price = unitPrice(sku);
    if (market === undefined || price === undefined || !(price > 0)) return;
    if (/Custom|Sole Tenancy|Premium|Commitment|Extended|Reserved/.test(sku.description)) return;
    const components: string[] = [];
    if (sku.category.resourceGroup === 'GPU') {
      for (const [gpu, pattern] of Object.entries(GPU_SKU_PATTERNS)) if (pattern.test(sku.description)) components.push(`gpu ${gpu}`);
    } else {
      for (const [series, name] of Object.entries(SERIES_SKU_NAMES)) {
        if (sku.description.includes(`${name} Core running in`)) components.push(`core ${series}`);
        if (sku.description.includes(`${name} Ram running in`)) components.push(`ram ${series}`);
      }
    }
    for (const region of sku.serviceRegions) for (const component of components) this.prices.set(`${region} ${market} ${component}`, price);
  }

  /** The price of a VM: vCPUs × core + GiB × RAM of its series, plus its GPUs; undefined when a part is unpriced. */
  machine(region: string, market: Market, offer: Offer): number | undefined {
    const series = offer.instance_type.split('-')[0] ?? '';
    const core = this.prices.get(`${region} ${market} core ${series}`);
    const ram = this.prices.get(`${region} ${market} ram ${series}`);
    if (core === undefined || ram === undefined) return undefined;
    let price = offer.vcpus * core + offer.memory_gb * ram;
    if (offer.gpu_type !== null && offer.gpu_count > 0) {
      const gpu = this.prices.get(`${region} ${market} gpu ${offer.gpu_type}`);
      if (gpu === undefined) return undefined;
      price += offer.gpu_count * gpu;
    }
    // Billing prices carry nine decimals; four are what a catalog row needs.
    return Math.round(price * 1e4) / 1e4;
  }
}

/**
 * Live GCP offers from the Cloud Billing Catalog (every Compute Engine SKU, by pageToken): a VM's
 * price is its series' vCPU and memory SKUs plus its GPU SKU, on demand (OnDemand) and spot
 * (Preemptible). The Billing Catalog prices regions, so which machines each zone offers comes from
 * the reference catalog, as do interruption rates; a machine with an unpriced part is left out.
 */
export async function fetchGcpOffers(source: GcpPriceSource, reference: PriceReference, now = new Date()): Promise<Offer[]> {
  const prices = new ComponentPrices();
  let pageToken: string | undefined;
  do {
    const url = new URL(`/v1/services/${COMPUTE_SERVICE}/skus`, source.baseUrl ?? GCP_BILLING_URL);
    url.searchParams.set('pageSize', '5000');
    if (source.apiKey !== undefined) url.searchParams.set('key', source.apiKey);
    if (pageToken !== undefined) url.searchParams.set('pageToken', pageToken);
    const page = SkusPage.parse(await fetchJson(url.toString(), 'GCP Cloud Billing Catalog'));
    for (const sku of page.skus) prices.add(sku);
    // The last page has an empty (or no) token.
    pageToken = page.nextPageToken || undefined;
  } while (pageToken !== undefined);

  const regions = source.regions ? new Set(source.regions) : undefined;
  const offers: Offer[] = [];
  for (const known of reference.of('gcp')) {
    if (regions && !regions.has(known.region)) continue;
    const onDemand = prices.machine(known.region, 'on_demand', known);
    if (onDemand === undefined) continue;
    offers.push({
      ...known,
      on_demand_price: onDemand,
      spot_price: prices.machine(known.region, 'spot', known) ?? null,
      fetched_at: now.toISOString(),
      source: GCP_PRICE_SOURCE,
    });
  }
  return offers;
}
