import type pg from 'pg';
import { AWS_PRICE_SOURCE } from '../../clouds/pricing/aws-prices';
import { bundledCatalog } from '../../clouds/pricing/catalog';
import { catalogFreshness, currentOffers, refreshPrices } from '../../activities/prices';
import type { PriceSource } from '../../clouds/pricing/price-sources';
import type { Offer } from '../../domain/offer';
import { createPool } from '../../store/pool';
import { uniqueId } from '../helpers/launches';
import { startMoto, type Moto } from '../helpers/moto';
import { billingSku, type PriceApiFake, retailPrice, startAzureRetailPrices, startGcpBillingCatalog, startSpotPriceProxy } from '../helpers/price-apis';
import { testEnv } from '../helpers/services';

// Every test runs in one transaction that is rolled back: other test files ranking offers at the
// same time never see these snapshots.
let pool: pg.Pool;
let db: pg.PoolClient;
let moto: Moto;
const fakes: PriceApiFake[] = [];

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  moto = await startMoto();
});

afterAll(async () => {
  await Promise.all(fakes.map((fake) => fake.stop()));
  await moto.stop();
  await pool.end();
});

beforeEach(async () => {
  db = await pool.connect();
  await db.query('BEGIN');
});

afterEach(async () => {
  await db.query('ROLLBACK');
  db.release();
});

const started = async (fake: Promise<PriceApiFake>): Promise<PriceApiFake> => {
  const running = await fake;
  fakes.push(running);
  return running;
};

const bundledOf = (cloud: Offer['cloud']) => bundledCatalog().offers.filter((o) => o.cloud === cloud);
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('aws, through moto', () => {
  const types = ['g4dn.xlarge', 'p4de.24xlarge', 'm6i.xlarge'];
  const zones = ['a', 'b', 'c', 'd', 'e', 'f'].map((z) => `us-east-1${z}`);
  // A distinct price per zone and type, 30-40 % of on-demand.
  const prices = Object.fromEntries(
    types.flatMap((type, t) =>
      zones.map((zone, z) => {
        const onDemand = bundledOf('aws').find((o) => o.region === 'us-east-1' && o.instance_type === type)?.on_demand_price ?? NaN;
        return [`${zone} ${type}`, Number((onDemand * (0.3 + 0.01 * (t + z))).toFixed(4))];
      }),
    ),
  );

  test('spot prices per zone (the newest, over every page), shapes from DescribeInstanceTypes; they replace the bundled AWS rows', async () => {
    const proxy = await started(startSpotPriceProxy(moto.endpoint, prices));
    const source: PriceSource = { kind: 'aws', name: uniqueId('aws'), regions: ['us-east-1'], instanceTypes: types, endpoint: proxy.baseUrl, credentials };
    const [result] = await refreshPrices(db, [source]);
    expect(result).toMatchObject({ source: source.name, cloud: 'aws', status: 'ok' });
    // moto answers in one page; the proxy cut it into several, and all were read.
    expect(proxy.requests.length).toBeGreaterThan(3);

    const live = (await currentOffers(db)).filter((o) => o.cloud === 'aws');
    expect(live.length).toBe(result?.rows);
    expect(live.length).toBeGreaterThanOrEqual(types.length * 3);
    for (const offer of live) {
      const key = `${offer.zone ?? ''} ${offer.instance_type}`;
      expect({ key, spot: offer.spot_price }).toEqual({ key, spot: prices[key] });
      const bundled = bundledOf('aws').find((o) => o.region === 'us-east-1' && o.instance_type === offer.instance_type);
      expect(offer).toMatchObject({ source: AWS_PRICE_SOURCE, region: 'us-east-1', on_demand_price: bundled?.on_demand_price });
    }
    expect(live.find((o) => o.instance_type === 'p4de.24xlarge')).toMatchObject({ gpu_type: 'A100-80GB', gpu_count: 8, vcpus: 96, memory_gb: 1152 });
    expect(live.find((o) => o.instance_type === 'g4dn.xlarge')).toMatchObject({ gpu_type: 'T4', gpu_count: 1, vcpus: 4, memory_gb: 16 });
    expect(live.find((o) => o.instance_type === 'm6i.xlarge')).toMatchObject({ gpu_type: null, gpu_count: 0 });
    // The other clouds keep their bundled rows.
    expect((await currentOffers(db)).filter((o) => o.cloud === 'gcp')).toEqual(bundledOf('gcp'));
  });

  test("moto's own synthetic 0.00001 fails the sanity check, and the last good snapshot stays in use", async () => {
    const proxy = await started(startSpotPriceProxy(moto.endpoint, prices));
    const name = uniqueId('aws');
    const good = await refreshPrices(db, [{ kind: 'aws', name, regions: ['us-east-1'], instanceTypes: types, endpoint: proxy.baseUrl, credentials }]);
    const before = await currentOffers(db);

    const [failed] = await refreshPrices(db, [{ kind: 'aws', name, regions: ['us-east-1'], instanceTypes: types, endpoint: moto.endpoint, credentials }]);
    expect(failed).toMatchObject({ status: 'failed', rows: 0, kept: { rows: good[0]?.rows } });
    expect(failed?.error).toMatch(/^sanity check failed: row 0 \(aws us-east-1\/us-east-1\w [\w.]+\): spot\/on-demand ratio \S+ \(0\.00001 \/ [\d.]+\) is below 0\.05/);
    expect(failed?.message).toContain(`${name}: refresh failed, keeping the snapshot of ${failed?.kept?.fetchedAt ?? '?'}`);
    expect(await currentOffers(db)).toEqual(before);
    const freshness = (await catalogFreshness(db)).find((f) => f.source === name);
    expect(freshness).toMatchObject({ clouds: ['aws'], rows: good[0]?.rows, last_attempt: { status: 'failed', error: failed?.error } });
  });
});

describe('azure, Retail Prices API', () => {
  const items = [
    retailPrice({ region: 'eastus', size: 'Standard_NC4as_T4_v3', skuName: 'NC4as T4 v3', price: 0.5, effectiveStartDate: '2025-01-01T00:00:00Z' }),
    retailPrice({ region: 'eastus', size: 'Standard_NC4as_T4_v3', skuName: 'NC4as T4 v3', price: 0.52 }),
    retailPrice({ region: 'eastus', size: 'Standard_NC4as_T4_v3', skuName: 'NC4as T4 v3 Spot', price: 0.16 }),
    retailPrice({ region: 'eastus', size: 'Standard_NC4as_T4_v3', skuName: 'NC4as T4 v3 Low Priority', price: 0.1 }),
    retailPrice({ region: 'eastus', size: 'Standard_NC4as_T4_v3', skuName: 'NC4as T4 v3', price: 0.9, productName: 'Virtual Machines NCasT4 v3 Series Windows' }),
    retailPrice({ region: 'eastus', size: 'Standard_D4s_v5', skuName: 'D4s v5', price: 0.192 }),
    retailPrice({ region: 'eastus', size: 'Standard_D4s_v5', skuName: 'D4s v5 Spot', price: 0 }),
    retailPrice({ region: 'westeurope', size: 'Standard_D4s_v5', skuName: 'D4s v5', price: 0.23 }),
    retailPrice({ region: 'westeurope', size: 'Standard_D4s_v5', skuName: 'D4s v5 Spot', price: 0.05 }),
  ];
  const source = (fake: PriceApiFake, name = uniqueId('azure')): PriceSource => ({
    kind: 'azure',
    name,
    regions: ['eastus', 'westeurope'],
    sizes: ['Standard_NC4as_T4_v3', 'Standard_D4s_v5'],
    baseUrl: fake.baseUrl,
  });

  test('Linux hourly prices per size, the newest meter, spot by skuName, over NextPageLink pages', async () => {
    const fake = await started(startAzureRetailPrices(items, 2));
    const [result] = await refreshPrices(db, [source(fake)]);
    expect(result).toMatchObject({ status: 'ok', rows: 3 });
    const live = (await currentOffers(db)).filter((o) => o.cloud === 'azure');
    const row = (region: string, size: string) => live.find((o) => o.region === region && o.instance_type === size);
    expect(row('eastus', 'Standard_NC4as_T4_v3')).toMatchObject({ on_demand_price: 0.52, spot_price: 0.16, zone: null, gpu_type: 'T4', gpu_count: 1 });
    // A zero spot price is no spot market.
    expect(row('eastus', 'Standard_D4s_v5')).toMatchObject({ on_demand_price: 0.192, spot_price: null, gpu_type: null });
    expect(row('westeurope', 'Standard_D4s_v5')).toMatchObject({ on_demand_price: 0.23, spot_price: 0.05 });
    expect(live).toHaveLength(3);
    // eastus has 7 items: 4 pages of 2; westeurope 1 page.
    expect(fake.requests.filter((r) => r.includes('%24skip') || r.includes('$skip'))).toHaveLength(3);
    expect(new URL(fake.requests[0] ?? '', fake.baseUrl).searchParams.get('$filter')).toBe(
      "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq 'eastus' and (armSkuName eq 'Standard_NC4as_T4_v3' or armSkuName eq 'Standard_D4s_v5')",
    );
    expect(new URL(fake.requests[0] ?? '', fake.baseUrl).searchParams.get('api-version')).toBe('2023-01-01-preview');
  });

  test('an HTTP error keeps the last good snapshot, or the bundled rows when there is none, and says which', async () => {
    const fake = await started(startAzureRetailPrices(items, 2));
    const name = uniqueId('azure');
    await refreshPrices(db, [source(fake, name)]);
    const before = await currentOffers(db);
    fake.failNext(503);
    const [failed] = await refreshPrices(db, [source(fake, name)]);
    expect(failed).toMatchObject({ status: 'failed', kept: { rows: 3 } });
    expect(failed?.error).toMatch(/^Azure Retail Prices API: GET \/api\/retail\/prices answered HTTP 503/);
    expect(await currentOffers(db)).toEqual(before);

    fake.failNext(500);
    const fresh = uniqueId('azure');
    const [first] = await refreshPrices(db, [source(fake, fresh)]);
    expect(first?.kept).toBeUndefined();
    expect(first?.message).toContain(`${fresh}: refresh failed, no earlier good snapshot: azure keeps the bundled catalog's rows`);
  });
});

describe('gcp, Cloud Billing Catalog', () => {
  const central = ['us-central1'];
  const skus = [
    billingSku({ description: 'N1 Predefined Instance Core running in Americas', resourceGroup: 'N1Standard', usageType: 'OnDemand', regions: central, price: 0.031611 }),
    billingSku({ description: 'N1 Predefined Instance Ram running in Americas', resourceGroup: 'N1Standard', usageType: 'OnDemand', regions: central, price: 0.004237 }),
    billingSku({ description: 'Spot Preemptible N1 Predefined Instance Core running in Americas', resourceGroup: 'N1Standard', usageType: 'Preemptible', regions: central, price: 0.0066 }),
    billingSku({ description: 'Spot Preemptible N1 Predefined Instance Ram running in Americas', resourceGroup: 'N1Standard', usageType: 'Preemptible', regions: central, price: 0.00089 }),
    billingSku({ description: 'Nvidia Tesla T4 GPU running in Americas', resourceGroup: 'GPU', usageType: 'OnDemand', regions: central, price: 0.35 }),
    billingSku({ description: 'Nvidia Tesla T4 GPU attached to Spot Preemptible VMs running in Americas', resourceGroup: 'GPU', usageType: 'Preemptible', regions: central, price: 0.175 }),
    billingSku({ description: 'Commitment v1: Nvidia Tesla T4 GPU running in Americas for 1 Year', resourceGroup: 'GPU', usageType: 'Commit1Yr', regions: central, price: 0.22 }),
    billingSku({ description: 'E2 Instance Core running in Americas', resourceGroup: 'CPU', usageType: 'OnDemand', regions: central, price: 0.021811 }),
    billingSku({ description: 'E2 Instance Ram running in Americas', resourceGroup: 'RAM', usageType: 'OnDemand', regions: central, price: 0.002923 }),
    billingSku({ description: 'Spot Preemptible E2 Instance Core running in Americas', resourceGroup: 'CPU', usageType: 'Preemptible', regions: central, price: 0.006543 }),
    billingSku({ description: 'Spot Preemptible E2 Instance Ram running in Americas', resourceGroup: 'RAM', usageType: 'Preemptible', regions: central, price: 0.000877 }),
  ];

  test('a VM is its series vCPU and memory SKUs plus its GPU SKU, on demand and Preemptible, over pageToken pages', async () => {
    const fake = await started(startGcpBillingCatalog(skus, 4));
    const [result] = await refreshPrices(db, [{ kind: 'gcp', name: uniqueId('gcp'), baseUrl: fake.baseUrl, regions: central }]);
    expect(result?.status).toBe('ok');
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests.slice(1).map((r) => new URL(r, fake.baseUrl).searchParams.get('pageToken'))).toEqual(['4', '8']);

    const live = (await currentOffers(db)).filter((o) => o.cloud === 'gcp');
    // Machines whose parts are all priced, in every zone the bundled catalog places them.
    const priced = bundledOf('gcp').filter((o) => o.region === 'us-central1' && ['n1-standard-4', 'e2-standard-4'].includes(o.instance_type));
    expect(live.map((o) => `${o.zone ?? ''} ${o.instance_type}`).sort()).toEqual(priced.map((o) => `${o.zone ?? ''} ${o.instance_type}`).sort());
    const t4 = live.find((o) => o.instance_type === 'n1-standard-4');
    const round = (usd: number) => Math.round(usd * 1e4) / 1e4;
    expect(t4).toMatchObject({
      gpu_type: 'T4',
      on_demand_price: round(4 * 0.031611 + 15 * 0.004237 + 0.35),
      spot_price: round(4 * 0.0066 + 15 * 0.00089 + 0.175),
    });
    expect(live.find((o) => o.instance_type === 'e2-standard-4')).toMatchObject({ on_demand_price: round(4 * 0.021811 + 16 * 0.002923) });
  });

  test('a spot price above on-demand fails the refresh, naming the row', async () => {
    const dearSpot = billingSku({ description: 'Nvidia Tesla T4 GPU attached to Spot Preemptible VMs running in Americas', resourceGroup: 'GPU', usageType: 'Preemptible', regions: central, price: 0.6 });
    const fake = await started(startGcpBillingCatalog([...skus.filter((s) => !String(s.description).includes('T4 GPU attached')), dearSpot]));
    const [failed] = await refreshPrices(db, [{ kind: 'gcp', name: uniqueId('gcp'), baseUrl: fake.baseUrl, regions: central }]);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatch(/^sanity check failed: row \d+ \(gcp us-central1\/us-central1-a n1-standard-4\): spot price [\d.]+ is above the on-demand price [\d.]+/);
    expect((await currentOffers(db)).filter((o) => o.cloud === 'gcp')).toEqual(bundledOf('gcp'));
  });
});
