import type { Offer } from '../../domain/offer';
import type { CatalogFreshness } from '../../domain/placement';
import type { Cloud } from '../../domain/pipeline-spec';
import type { Queryable } from '../../store/pool';
import { latestGoodSnapshots, listSourceFreshness, recordOfferSnapshot, type SourceFreshness } from '../../store/offer-snapshots';
import { AWS_PRICE_SOURCE, type AwsPriceSource, fetchAwsOffers } from './aws-prices';
import { AZURE_PRICE_SOURCE, type AzurePriceSource, fetchAzureOffers } from './azure-prices';
import { bundledCatalog, CatalogError, offerLabel, parseOffers } from './catalog';
import { fetchGcpOffers, GCP_PRICE_SOURCE, type GcpPriceSource } from './gcp-prices';
import { PriceReference } from './price-reference';

/**
 * One live price source to refresh. `name` tells apart several sources of one cloud (two accounts,
 * a test endpoint); by default it is the API's name, e.g. `aws:DescribeSpotPriceHistory`.
 */
export type PriceSource = (AwsPriceSource | AzurePriceSource | GcpPriceSource) & { name?: string };

const SOURCE_OF_KIND: Readonly<Record<PriceSource['kind'], { name: string; cloud: Cloud }>> = {
  aws: { name: AWS_PRICE_SOURCE, cloud: 'aws' },
  azure: { name: AZURE_PRICE_SOURCE, cloud: 'azure' },
  gcp: { name: GCP_PRICE_SOURCE, cloud: 'gcp' },
};

export const sourceNameOf = (source: PriceSource): string => source.name ?? SOURCE_OF_KIND[source.kind].name;

export interface RefreshResult {
  source: string;
  cloud: Cloud;
  status: 'ok' | 'failed';
  /** Rows stored (0 for a failed refresh). */
  rows: number;
  /** ISO 8601: when this refresh read its source. */
  fetchedAt: string;
  error?: string;
  /** A failed refresh: the good snapshot placement keeps using, if the source ever had one. */
  kept?: { snapshotId: number; fetchedAt: string; rows: number };
  /** One line for a log or a CLI. */
  message: string;
}

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
function failureText(err: unknown): string {
  if (err instanceof CatalogError) return `sanity check failed: ${err.problems.join('; ')}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Refreshes every source in turn: reads it through its API, runs the catalog's sanity checks, and
 * stores a snapshot. A source that fails (HTTP error, bad answer, a row failing a check, no rows at
 * all) stores a failed snapshot instead, and placement keeps the last good one (or the bundled
 * rows): the result says which. One failing source does not stop the others.
 */
export async function refreshPrices(
  db: Queryable,
  sources: readonly PriceSource[],
  opts: { reference?: readonly Offer[]; now?: () => Date } = {},
): Promise<RefreshResult[]> {
  const reference = new PriceReference(opts.reference ?? bundledCatalog().offers);
  const results: RefreshResult[] = [];
  for (const source of sources) {
    const name = sourceNameOf(source);
    const { cloud } = SOURCE_OF_KIND[source.kind];
    const now = opts.now?.() ?? new Date();
    let offers: Offer[];
    try {
      offers = parseOffers(await fetchOffers(source, reference, now), name);
      if (offers.length === 0) throw new Error('the source priced none of the configured instance types and regions');
      const foreign = offers.find((offer) => offer.cloud !== cloud);
      if (foreign) throw new Error(`row ${offerLabel(foreign)} is not a ${cloud} offer`);
    } catch (err) {
      const error = failureText(err);
      await recordOfferSnapshot(db, { source: name, cloud, fetchedAt: now.getTime(), status: 'failed', error });
      const [good] = await latestGoodSnapshots(db, [name]);
      const kept = good && { snapshotId: good.snapshotId, fetchedAt: new Date(good.fetchedAt).toISOString(), rows: good.rowCount };
      const keeping = kept
        ? `keeping the snapshot of ${kept.fetchedAt} (${kept.rows} rows)`
        : `no earlier good snapshot: ${cloud} keeps the bundled catalog's rows`;
      results.push({ source: name, cloud, status: 'failed', rows: 0, fetchedAt: now.toISOString(), error, ...(kept && { kept }), message: `${name}: refresh failed, ${keeping}: ${error}` });
      continue;
    }
    await recordOfferSnapshot(db, { source: name, cloud, fetchedAt: now.getTime(), status: 'ok', rows: offers });
    results.push({ source: name, cloud, status: 'ok', rows: offers.length, fetchedAt: now.toISOString(), message: `${name}: ${offers.length} offers refreshed` });
  }
  return results;
}

const placeKey = (offer: Offer): string => JSON.stringify([offer.cloud, offer.region, offer.zone, offer.instance_type]);

/**
 * The offers placement ranks: the bundled catalog, where every cloud with a good live snapshot has
 * its bundled rows replaced by its live ones. Several sources of one cloud are merged, the newest
 * snapshot's row winning for a place they both price.
 */
export async function currentOffers(db: Queryable, sources?: readonly string[]): Promise<Offer[]> {
  const snapshots = (await latestGoodSnapshots(db, sources)).sort((a, b) => b.fetchedAt - a.fetchedAt || b.snapshotId - a.snapshotId);
  const liveClouds = new Set(snapshots.map((s) => s.cloud));
  const live = new Map<string, Offer>();
  for (const snapshot of snapshots) {
    for (const offer of snapshot.rows) if (!live.has(placeKey(offer))) live.set(placeKey(offer), offer);
  }
  return [...bundledCatalog().offers.filter((offer) => !liveClouds.has(offer.cloud)), ...live.values()];
}

/** The freshness of the catalog currentOffers builds, per source. */
export async function catalogFreshness(db: Queryable, sources?: readonly string[]): Promise<CatalogFreshness[]> {
  const live = await listSourceFreshness(db, sources);
  const liveClouds = new Set(live.filter((s) => s.lastGood).map((s) => s.cloud));
  const bundled = bundledCatalog();
  const bundledClouds = [...new Set(bundled.offers.map((o) => o.cloud))].filter((cloud) => !liveClouds.has(cloud));
  return [
    {
      source: 'bundled',
      clouds: bundledClouds,
      fetched_at: bundled.fetchedAt,
      rows: bundled.offers.filter((o) => bundledClouds.includes(o.cloud)).length,
    },
    ...live.map((s: SourceFreshness): CatalogFreshness => ({
      source: s.source,
      clouds: s.lastGood ? [s.cloud] : [],
      ...(s.lastGood && { fetched_at: new Date(s.lastGood.fetchedAt).toISOString() }),
      rows: s.lastGood?.rowCount ?? 0,
      last_attempt: {
        at: new Date(s.lastAttempt.fetchedAt).toISOString(),
        status: s.lastAttempt.status,
        ...(s.lastAttempt.error !== undefined && { error: s.lastAttempt.error }),
      },
    })),
  ];
}
