import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// Local stand-ins for the price APIs the refreshers read, following their public contracts: the
// Azure Retail Prices API (NextPageLink paging), the GCP Cloud Billing Catalog (pageToken paging),
// and, in front of moto, EC2's DescribeSpotPriceHistory with real-looking prices (moto's are all
// 0.00001) and NextToken paging (moto has none). Each can be told to fail its next requests.

export interface PriceApiFake {
  baseUrl: string;
  /** Every request's path and query, in order. */
  requests: string[];
  /** Answers the next `count` requests with `status` instead. */
  failNext(status: number, count?: number): void;
  stop(): Promise<void>;
}

type Answer = { status: number; type: string; body: string };

async function serve(handle: (req: IncomingMessage, url: URL, baseUrl: string) => Answer | Promise<Answer>): Promise<PriceApiFake> {
  const requests: string[] = [];
  let failures: { status: number; left: number } | undefined;
  let baseUrl = '';
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', baseUrl);
    requests.push(`${url.pathname}${url.search}`);
    const answer = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (failures && failures.left > 0) {
      failures.left -= 1;
      answer(failures.status, 'application/json', JSON.stringify({ error: { code: failures.status, message: 'injected failure' } }));
      return;
    }
    Promise.resolve()
      .then(() => handle(req, url, baseUrl))
      .then(
      ({ status, type, body }) => answer(status, type, body),
      (err: unknown) => answer(500, 'text/plain', String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    requests,
    failNext(status, count = 1) {
      failures = { status, left: count };
    },
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

const json = (body: unknown): Answer => ({ status: 200, type: 'application/json', body: JSON.stringify(body) });

/** One Retail Prices item, as the API writes it. */
export function retailPrice(fields: { region: string; size: string; skuName: string; price: number; productName?: string; effectiveStartDate?: string }): Record<string, unknown> {
  return {
    currencyCode: 'USD',
    tierMinimumUnits: 0,
    retailPrice: fields.price,
    unitPrice: fields.price,
    armRegionName: fields.region,
    location: fields.region,
    effectiveStartDate: fields.effectiveStartDate ?? '2026-01-01T00:00:00Z',
    meterId: `${fields.size}-${fields.skuName}`,
    meterName: fields.skuName,
    productId: 'DZH318Z0BQPS',
    skuId: 'DZH318Z0BQPS/00TG',
    productName: fields.productName ?? 'Virtual Machines Series Linux',
    skuName: fields.skuName,
    serviceName: 'Virtual Machines',
    serviceId: 'DZH313Z7MMC8',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    type: 'Consumption',
    isPrimaryMeterRegion: true,
    armSkuName: fields.size,
  };
}

/**
 * The Retail Prices API: honours the `armRegionName eq '…'` and `armSkuName eq '…'` terms of
 * `$filter`, and pages `pageSize` items at a time through an absolute NextPageLink with `$skip`.
 */
export function startAzureRetailPrices(items: readonly Record<string, unknown>[], pageSize = 3): Promise<PriceApiFake> {
  return serve((_req, url, baseUrl) => {
    if (url.pathname !== '/api/retail/prices') return { status: 404, type: 'text/plain', body: 'not found' };
    const filter = url.searchParams.get('$filter') ?? '';
    const region = /armRegionName eq '([^']*)'/.exec(filter)?.[1];
    const sizes = [...filter.matchAll(/armSkuName eq '([^']*)'/g)].map((m) => m[1]);
    const matching = items.filter((item) => (region === undefined || item.armRegionName === region) && (sizes.length === 0 || sizes.includes(item.armSkuName as string)));
    const skip = Number(url.searchParams.get('$skip') ?? '0');
    const page = matching.slice(skip, skip + pageSize);
    let next: string | null = null;
    if (skip + pageSize < matching.length) {
      const link = new URL(url.pathname + url.search, baseUrl);
      link.searchParams.set('$skip', String(skip + pageSize));
      next = link.toString();
    }
    return json({ BillingCurrency: 'USD', CustomerEntityId: 'Default', CustomerEntityType: 'Retail', Items: page, NextPageLink: next, Count: page.length });
  });
}

/** One Billing Catalog SKU priced per hour (or per GiB-hour) in `regions`. */
export function billingSku(fields: { description: string; resourceGroup: string; usageType: 'OnDemand' | 'Preemptible' | 'Commit1Yr'; regions: string[]; price: number }): Record<string, unknown> {
  const units = Math.floor(fields.price);
  return {
    name: `services/6F81-5844-456A/skus/${fields.description.replace(/\W+/g, '-')}`,
    skuId: fields.description.replace(/\W+/g, '-'),
    description: fields.description,
    category: { serviceDisplayName: 'Compute Engine', resourceFamily: 'Compute', resourceGroup: fields.resourceGroup, usageType: fields.usageType },
    serviceRegions: fields.regions,
    pricingInfo: [
      {
        effectiveTime: '2026-11-01T00:00:00Z',
        pricingExpression: {
          usageUnit: 'h',
          displayQuantity: 1,
          tieredRates: [{ startUsageAmount: 0, unitPrice: { currencyCode: 'USD', units: String(units), nanos: Math.round((fields.price - units) * 1e9) } }],
        },
      },
    ],
    serviceProviderName: 'Google',
  };
}

/** The Billing Catalog's `GET /v1/services/6F81-5844-456A/skus`, `pageSize` SKUs a page, by pageToken. */
export function startGcpBillingCatalog(skus: readonly Record<string, unknown>[], pageSize = 4): Promise<PriceApiFake> {
  return serve((_req, url) => {
    if (url.pathname !== '/v1/services/6F81-5844-456A/skus') return { status: 404, type: 'application/json', body: '{"error":{"code":404}}' };
    const start = Number(url.searchParams.get('pageToken') ?? '0');
    const end = start + pageSize;
    return json({ skus: skus.slice(start, end), nextPageToken: end < skus.length ? String(end) : '' });
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += (chunk as Buffer).toString('utf8');
  return body;
}

/**
 * A proxy in front of moto's EC2. DescribeSpotPriceHistory answers with moto's rows (one per zone
 * and type it offers), each priced from `prices` (`<zone> <type>` → USD) and preceded by an older,
 * dearer row, `pageSize` rows a page by NextToken. Everything else goes to moto untouched.
 */
export function startSpotPriceProxy(motoEndpoint: string, prices: Readonly<Record<string, number>>, pageSize = 3): Promise<PriceApiFake> {
  return serve(async (req, url) => {
    const body = await readBody(req);
    const form = new URLSearchParams(body);
    const forward = async (text: string) => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length'].includes(k)) as [string, string][]);
      const response = await fetch(new URL(url.pathname + url.search, motoEndpoint), { method: req.method ?? 'POST', headers, ...(req.method === 'GET' ? {} : { body: text }) });
      return { status: response.status, type: response.headers.get('content-type') ?? 'text/xml', body: await response.text() };
    };
    if (form.get('Action') !== 'DescribeSpotPriceHistory') return forward(body);
    const token = Number(form.get('NextToken') ?? '0');
    form.delete('NextToken');
    form.delete('MaxResults');
    const moto = await forward(form.toString());
    if (moto.status !== 200) return moto;
    const rows = [...moto.body.matchAll(/<item>([\s\S]*?)<\/item>/g)].flatMap(([, item = '']) => {
      const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(item)?.[1] ?? '';
      const price = prices[`${field('availabilityZone')} ${field('instanceType')}`];
      if (price === undefined) return [item];
      const at = (when: string, usd: number) =>
        item.replace(/<spotPrice>[^<]*<\/spotPrice>/, `<spotPrice>${usd}</spotPrice>`).replace(/<timestamp>[^<]*<\/timestamp>/, `<timestamp>${when}</timestamp>`);
      const now = Date.now();
      return [at(new Date(now - 86_400_000).toISOString(), price * 1.5), at(new Date(now - 60_000).toISOString(), price)];
    });
    const page = rows.slice(token, token + pageSize).map((item) => `<item>${item}</item>`).join('');
    const next = token + pageSize < rows.length ? `<nextToken>${token + pageSize}</nextToken>` : '';
    return {
      status: 200,
      type: 'text/xml',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>proxy</requestId><spotPriceHistorySet>${page}</spotPriceHistorySet>${next}</DescribeSpotPriceHistoryResponse>`,
    };
  });
}
