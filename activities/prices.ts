import type { Offer } from '../domain/offer';
import type { Cloud } from '../domain/pipeline-spec';
import type { CatalogFreshness } from '../domain/placement';
import { bundledCatalog, catalogFreshnessOf, currentOffersOf } from '../clouds/pricing/catalog';
import { priceFailureText, readPriceSource, SOURCE_OF_KIND, sourceNameOf, type PriceSource } from '../clouds/pricing/price-sources';
import { PriceReference } from '../clouds/pricing/price-reference';
import { latestGoodSnapshots, listSourceFreshness, recordOfferSnapshot } from '../store/offer-snapshots';
import type { Queryable } from '../store/pool';
import type { ActivityDeps } from './deps';

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
      offers = await readPriceSource(source, reference, now);
    } catch (err) {
      const error = priceFailureText(err);
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

/** The offers placement ranks now: the bundled catalog with every live snapshot's rows in place of its cloud's. */
export const currentOffers = async (db: Queryable, sources?: readonly string[]): Promise<Offer[]> =>
  currentOffersOf(await latestGoodSnapshots(db, sources));

/** The freshness of what currentOffers returns, per source. */
export const catalogFreshness = async (db: Queryable, sources?: readonly string[]): Promise<CatalogFreshness[]> =>
  catalogFreshnessOf(await listSourceFreshness(db, sources));

/** The offer catalog's live refresh: every configured source read, checked and stored (or its failure recorded). */
export function createPriceActivities(deps: ActivityDeps) {
  return {
    async refreshOfferCatalog(): Promise<RefreshResult[]> {
      return refreshPrices(deps.pool, deps.clouds?.priceSources ?? []);
    },
  };
}
