import type { Offer } from '../../domain/offer';
import type { Cloud } from '../../domain/pipeline-spec';
import { AWS_PRICE_SOURCE, type AwsPriceSource, fetchAwsOffers } from './aws-prices';
import { AZURE_PRICE_SOURCE, type AzurePriceSource, fetchAzureOffers } from './azure-prices';
import { CatalogError, offerLabel, parseOffers } from './catalog';
import { fetchGcpOffers, GCP_PRICE_SOURCE, type GcpPriceSource } from './gcp-prices';
import type { PriceReference } from './price-reference';

/**
 * One live price source to refresh. `name` tells apart several sources of one cloud (two accounts,
 * a test endpoint); by default it is the API's name, e.g. `aws:DescribeSpotPriceHistory`.
 */
export type PriceSource = (AwsPriceSource | AzurePriceSource | GcpPriceSource) & { name?: string };

export const SOURCE_OF_KIND: Readonly<Record<PriceSource['kind'], { name: string; cloud: Cloud }>> = {
  aws: { name: AWS_PRICE_SOURCE, cloud: 'aws' },
  azure: { name: AZURE_PRICE_SOURCE, cloud: 'azure' },
  gcp: { name: GCP_PRICE_SOURCE, cloud: 'gcp' },
};

export const sourceNameOf = (source: PriceSource): string => source.name ?? SOURCE_OF_KIND[source.kind].name;


async function fetchOffers(source: PriceSource, reference: PriceReference, now: Date): Promise<Offer[]> {
  switch (source.kind) {
    case 'aws':
      return fetchAwsOffers(source, reference, now);
    case 'azure':
      return fetchAzureOffers(source, reference, now);
    case 'gcp':
      return fetchGcpOffers(source, reference, now);
  }
}

/** Why a refresh failed, in one paragraph: the sanity problems when that is what failed. */
export function priceFailureText(err: unknown): string {
  if (err instanceof CatalogError) return `sanity check failed: ${err.problems.join('; ')}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One source's offers, read through its API and checked: rows failing the catalog's sanity checks,
 * no rows at all, or a row of another cloud make it throw, so nothing of a bad answer is stored.
 */
export async function readPriceSource(source: PriceSource, reference: PriceReference, now: Date): Promise<Offer[]> {
  const { cloud } = SOURCE_OF_KIND[source.kind];
  const offers = parseOffers(await fetchOffers(source, reference, now), sourceNameOf(source));
  if (offers.length === 0) throw new Error('the source priced none of the configured instance types and regions');
  const foreign = offers.find((offer) => offer.cloud !== cloud);
  if (foreign) throw new Error(`row ${offerLabel(foreign)} is not a ${cloud} offer`);
  return offers;
}
