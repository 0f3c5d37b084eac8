import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Offer, type OfferSnapshot, type SourceFreshness } from '../../domain/offer';
import type { CatalogFreshness } from '../../domain/placement';
import { formatSpecIssues, specErrorMap } from '../../domain/pipeline-spec';

// A spot price below this share of on-demand is a unit or matching error (moto's synthetic
// 0.00001, a per-GPU price on an 8-GPU VM), not a discount: the deepest real ones are about 91 %.
export const MIN_SPOT_RATIO = 0.05;

const BUNDLED_CATALOG = join(__dirname, 'catalog.json');

/** The bundled catalog file: the offline default until a live refresh replaces a cloud's rows. */
export const CatalogFile = z
  .object({
    fetched_at: z.iso.datetime(),
    notes: z.string(),
    offers: z.array(z.unknown()),
  })
  .strict();
export type CatalogFile = z.infer<typeof CatalogFile>;

/** Offer rows that must not be used; `problems` names every bad row (or field of the file) and what is wrong with it. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';

  constructor(
    readonly label: string,
    readonly problems: string[],
  ) {
    super(`${label}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** `aws us-east-1/us-east-1a g4dn.xlarge`: how a problem names its row. */
export function offerLabel(offer: Pick<Offer, 'cloud' | 'region' | 'zone' | 'instance_type'>): string {
  return `${offer.cloud} ${offer.region}${offer.zone === null ? '' : `/${offer.zone}`} ${offer.instance_type}`;
}

/**
 * The sanity checks every row must pass before it is used or stored: positive prices, spot at most
 * on-demand, the spot/on-demand ratio at least MIN_SPOT_RATIO, and one row per (cloud, region,
 * zone, instance type). Returns one message per problem, naming the row.
 */
export function offerProblems(offers: readonly Offer[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  offers.forEach((offer, index) => {
    const row = `row ${index} (${offerLabel(offer)})`;
    if (!(offer.on_demand_price > 0)) problems.push(`${row}: on-demand price must be positive, got ${offer.on_demand_price}`);
    if (offer.spot_price !== null) {
      if (!(offer.spot_price > 0)) {
        problems.push(`${row}: spot price must be positive, got ${offer.spot_price}`);
      } else if (offer.on_demand_price > 0) {
        const ratio = offer.spot_price / offer.on_demand_price;
        if (ratio > 1) {
          problems.push(`${row}: spot price ${offer.spot_price} is above the on-demand price ${offer.on_demand_price}`);
        } else if (ratio < MIN_SPOT_RATIO) {
          problems.push(
            `${row}: spot/on-demand ratio ${ratio.toPrecision(2)} (${offer.spot_price} / ${offer.on_demand_price}) is below ${MIN_SPOT_RATIO}`,
          );
        }
      }
    }
    const key = JSON.stringify([offer.cloud, offer.region, offer.zone, offer.instance_type]);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else problems.push(`${row}: duplicate of row ${first} (same cloud, region, zone and instance type)`);
  });
  return problems;
}

/** Validates raw rows (schema, then the sanity checks); throws CatalogError naming every bad row. */
export function parseOffers(rows: readonly unknown[], label: string): Offer[] {
  const offers: Offer[] = [];
  const problems: string[] = [];
  rows.forEach((raw, index) => {
    const parsed = Offer.safeParse(raw, { error: specErrorMap });
    if (parsed.success) offers.push(parsed.data);
    else problems.push(...formatSpecIssues(parsed.error, ['offers', index], raw));
  });
  if (problems.length > 0) throw new CatalogError(label, problems);
  const insane = offerProblems(offers);
  if (insane.length > 0) throw new CatalogError(label, insane);
  return offers;
}

export interface Catalog {
  /** When the catalog's prices were read (ISO 8601). */
  fetchedAt: string;
  offers: Offer[];
}

/** Parses and checks a catalog document. */
export function parseCatalog(document: unknown, label: string): Catalog {
  const file = CatalogFile.safeParse(document, { error: specErrorMap });
  if (!file.success) throw new CatalogError(label, formatSpecIssues(file.error, [], document, 'catalog'));
  return { fetchedAt: file.data.fetched_at, offers: parseOffers(file.data.offers, label) };
}

let bundled: Catalog | undefined;

/** The catalog shipped in clouds/pricing/catalog.json, read and checked once. */
export function bundledCatalog(): Catalog {
  bundled ??= parseCatalog(JSON.parse(readFileSync(BUNDLED_CATALOG, 'utf8')), 'clouds/pricing/catalog.json');
  return bundled;
}

const placeKey = (offer: Offer): string => JSON.stringify([offer.cloud, offer.region, offer.zone, offer.instance_type]);

/**
 * The offers placement ranks: the bundled catalog, where every cloud with a good live snapshot has
 * its bundled rows replaced by its live ones. Several sources of one cloud are merged, the newest
 * snapshot's row winning for a place they both price.
 */
export function currentOffersOf(goodSnapshots: readonly OfferSnapshot[]): Offer[] {
  const snapshots = [...goodSnapshots].sort((a, b) => b.fetchedAt - a.fetchedAt || b.snapshotId - a.snapshotId);
  const liveClouds = new Set(snapshots.map((s) => s.cloud));
  const live = new Map<string, Offer>();
  for (const snapshot of snapshots) {
    for (const offer of snapshot.rows) if (!live.has(placeKey(offer))) live.set(placeKey(offer), offer);
  }
  return [...bundledCatalog().offers.filter((offer) => !liveClouds.has(offer.cloud)), ...live.values()];
}

/** The freshness of the catalog currentOffersOf builds, per source. */
export function catalogFreshnessOf(live: readonly SourceFreshness[]): CatalogFreshness[] {
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
    ...live.map((s): CatalogFreshness => ({
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
