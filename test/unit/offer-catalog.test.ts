import { bundledCatalog, CatalogError, MIN_SPOT_RATIO, offerProblems, parseCatalog, parseOffers } from '../../clouds/pricing/catalog';
import type { Offer } from '../../domain/offer';
import type { Cloud } from '../../domain/pipeline-spec';

const good = (fields: Partial<Offer> = {}): Offer => ({
  cloud: 'aws',
  region: 'us-east-1',
  zone: 'us-east-1a',
  instance_type: 'g4dn.xlarge',
  gpu_type: 'T4',
  gpu_count: 1,
  vcpus: 4,
  memory_gb: 16,
  on_demand_price: 0.526,
  spot_price: 0.22,
  interruption_rate: 0.03,
  fetched_at: '2026-11-20T00:00:00.000Z',
  source: 'bundled',
  ...fields,
});

/** The problems parseOffers reports for `rows`, or [] when it accepts them. */
function problemsOf(rows: unknown[]): string[] {
  try {
    parseOffers(rows, 'test rows');
    return [];
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    expect(err.message).toContain('test rows: ');
    return err.problems;
  }
}

describe('the bundled catalog', () => {
  const { offers, fetchedAt } = bundledCatalog();
  const of = (cloud: Cloud) => offers.filter((o) => o.cloud === cloud);

  test('passes its own checks, is dated and says where every row came from', () => {
    expect(offerProblems(offers)).toEqual([]);
    expect(Number.isNaN(Date.parse(fetchedAt))).toBe(false);
    for (const offer of offers) expect(offer).toMatchObject({ source: 'bundled', fetched_at: fetchedAt });
  });

  test.each<[Cloud, string[]]>([
    ['aws', ['T4', 'L4', 'A10G', 'A100', 'A100-80GB', 'H100', 'V100']],
    ['gcp', ['T4', 'L4', 'A100', 'A100-80GB', 'H100', 'V100']],
    ['azure', ['T4', 'A10', 'A100', 'A100-80GB', 'H100', 'V100']],
  ])('%s: several regions, its GPU types and CPU-only types', (cloud, gpus) => {
    const rows = of(cloud);
    expect(new Set(rows.map((o) => o.region)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(rows.map((o) => o.gpu_type).filter((g) => g !== null))).toEqual(new Set(gpus));
    expect(new Set(rows.filter((o) => o.gpu_type === null && o.gpu_count === 0).map((o) => o.instance_type)).size).toBeGreaterThanOrEqual(2);
    if (cloud !== 'azure') {
      // Zonal clouds: some region offers a type in several zones.
      const zonesOfPlace = new Map<string, Set<string | null>>();
      for (const o of rows) zonesOfPlace.set(`${o.region} ${o.instance_type}`, (zonesOfPlace.get(`${o.region} ${o.instance_type}`) ?? new Set()).add(o.zone));
      expect(Math.max(...[...zonesOfPlace.values()].map((z) => z.size))).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('every sanity check fails on a bad row, naming it', () => {
  test('a sound set of rows passes', () => {
    expect(problemsOf([good(), good({ zone: 'us-east-1b' }), good({ zone: 'us-east-1c', spot_price: null })])).toEqual([]);
  });

  test('spot above on-demand', () => {
    expect(problemsOf([good(), good({ zone: 'us-east-1b', spot_price: 0.6 })])).toEqual([
      'row 1 (aws us-east-1/us-east-1b g4dn.xlarge): spot price 0.6 is above the on-demand price 0.526',
    ]);
  });

  test('a spot/on-demand ratio below the bound', () => {
    expect(problemsOf([good({ cloud: 'azure', region: 'eastus', zone: null, instance_type: 'Standard_NC4as_T4_v3', spot_price: 0.00001 })])).toEqual([
      `row 0 (azure eastus Standard_NC4as_T4_v3): spot/on-demand ratio 0.000019 (0.00001 / 0.526) is below ${MIN_SPOT_RATIO}`,
    ]);
    // Right at the bound is still a (deep) discount.
    expect(problemsOf([good({ spot_price: 0.526 * MIN_SPOT_RATIO })])).toEqual([]);
  });

  test('a duplicate (cloud, region, zone, instance type)', () => {
    expect(problemsOf([good(), good({ zone: 'us-east-1b' }), good({ spot_price: 0.3 })])).toEqual([
      'row 2 (aws us-east-1/us-east-1a g4dn.xlarge): duplicate of row 0 (same cloud, region, zone and instance type)',
    ]);
    // The same type in another zone, region or cloud is another offer.
    expect(problemsOf([good(), good({ region: 'us-east-2', zone: 'us-east-1a' }), good({ cloud: 'gcp' })])).toEqual([]);
  });

  test('prices that are not positive', () => {
    // The schema refuses them first, naming the row and the field ...
    expect(problemsOf([good(), good({ on_demand_price: 0 }), good({ spot_price: -1 })])).toEqual([
      'offers[1].on_demand_price: must be > 0, got 0',
      'offers[2].spot_price: must be > 0, got -1',
    ]);
    // ... and the check itself holds for rows that never went through the schema.
    expect(offerProblems([good({ on_demand_price: 0, spot_price: null }), good({ zone: 'b', spot_price: 0 })])).toEqual([
      'row 0 (aws us-east-1/us-east-1a g4dn.xlarge): on-demand price must be positive, got 0',
      'row 1 (aws us-east-1/b g4dn.xlarge): spot price must be positive, got 0',
    ]);
  });

  test('a row that is not an offer at all', () => {
    expect(problemsOf([{ ...good(), cloud: 'ibm', extra: 1 }])).toEqual([
      "offers[0]: unknown field 'extra'",
      "offers[0].cloud: expected 'aws', 'gcp', 'azure' or 'local', got 'ibm'",
    ]);
  });

  test('a catalog file without its date', () => {
    expect(() => parseCatalog({ notes: '', offers: [] }, 'catalog.json')).toThrow('catalog.json: 1 problem:\n  fetched_at: required (expected a string)');
  });
});
