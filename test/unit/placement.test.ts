import { EGRESS_USD_PER_GB, egressUsdPerGb } from '../../domain/egress';
import type { Offer, PlacementBlock } from '../../domain/offer';
import type { Resources } from '../../domain/pipeline-spec';
import {
  canonicalGpuName,
  DEFAULT_EXPECTED_HOURS,
  interruptionPenalty,
  type PlacementRequest,
  rankOffers,
} from '../../domain/placement';

const GB = 1e9;

/** A T4 spot offer in aws us-east-1a unless told otherwise. */
function offer(fields: Partial<Offer> & Pick<Offer, 'instance_type'>): Offer {
  return {
    cloud: 'aws',
    region: 'us-east-1',
    zone: 'us-east-1a',
    gpu_type: 'T4',
    gpu_count: 1,
    vcpus: 4,
    memory_gb: 16,
    on_demand_price: 1,
    spot_price: 0.5,
    interruption_rate: 0,
    fetched_at: '2026-11-20T00:00:00.000Z',
    source: 'bundled',
    ...fields,
  };
}

// Spot unless a case says otherwise: most cases are about one market (the default, both, has its own cases).
const request = (resources: Resources = {}, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({ resources: { spot: true, ...resources }, inputs: [], ...extra });
const types = (offers: readonly Offer[], req: PlacementRequest, blocks: PlacementBlock[] = []): string[] =>
  rankOffers(offers, req, blocks).map((r) => r.offer.instance_type);

const t4 = { type: 'T4', count: 1 };

describe('constraints', () => {
  const fleet: Offer[] = [
    offer({ instance_type: 'aws-t4', spot_price: 0.3 }),
    offer({ instance_type: 'aws-t4x4', gpu_count: 4, vcpus: 48, memory_gb: 192, spot_price: 1.5, on_demand_price: 3.9 }),
    offer({ instance_type: 'gcp-t4', cloud: 'gcp', region: 'us-central1', zone: 'us-central1-a', spot_price: 0.25, on_demand_price: 0.55 }),
    offer({ instance_type: 'azure-t4', cloud: 'azure', region: 'eastus', zone: null, spot_price: 0.2, on_demand_price: 0.526, memory_gb: 28 }),
    offer({ instance_type: 'aws-a100', gpu_type: 'A100', gpu_count: 8, vcpus: 96, memory_gb: 1152, spot_price: 9, on_demand_price: 22 }),
    offer({ instance_type: 'aws-a100-80', gpu_type: 'A100-80GB', gpu_count: 8, vcpus: 96, memory_gb: 1152, spot_price: 8.5, on_demand_price: 27 }),
    offer({ instance_type: 'aws-cpu', gpu_type: null, gpu_count: 0, vcpus: 8, memory_gb: 32, spot_price: 0.1, on_demand_price: 0.34 }),
    offer({ instance_type: 'gcp-cpu-no-spot', cloud: 'gcp', region: 'us-east4', zone: 'us-east4-a', gpu_type: null, gpu_count: 0, spot_price: null, on_demand_price: 0.13 }),
  ];

  test.each<[string, PlacementRequest, PlacementBlock[], string[]]>([
    ['a T4 fits only T4 offers, cheapest first', request({ gpu: t4 }), [], ['azure-t4', 'gcp-t4', 'aws-t4', 'aws-t4x4']],
    ['a GPU count needs at least that many GPUs', request({ gpu: { type: 'T4', count: 2 } }), [], ['aws-t4x4']],
    ['GPU names compare canonically', request({ gpu: { type: 'nvidia-tesla-t4', count: 1 } }), [], ['azure-t4', 'gcp-t4', 'aws-t4', 'aws-t4x4']],
    ['A100 is not A100-80GB', request({ gpu: { type: 'a100', count: 8 } }), [], ['aws-a100']],
    ['A100-80GB spelled otherwise', request({ gpu: { type: 'A100_80GB', count: 1 } }), [], ['aws-a100-80']],
    ['an unknown GPU fits nothing', request({ gpu: { type: 'B200', count: 1 } }), [], []],
    ['vCPUs and memory are minimums', request({ cpus: 8, memory_gb: 100 }), [], ['aws-t4x4', 'aws-a100-80', 'aws-a100']],
    ['max price excludes dearer offers (spot price)', request({ gpu: t4, max_price_per_hour: 0.26 }), [], ['azure-t4', 'gcp-t4']],
    ['max price applies to the on-demand price when spot is false', request({ gpu: t4, spot: false, max_price_per_hour: 0.6 }), [], ['azure-t4', 'gcp-t4']],
    ['spot false ranks by on-demand price', request({ gpu: t4, spot: false }), [], ['azure-t4', 'gcp-t4', 'aws-t4', 'aws-t4x4']],
    ['spot leaves out offers without a spot market', request({ cpus: 1, memory_gb: 1, clouds: ['gcp'] }), [], ['gcp-t4']],
    ['on-demand includes them', request({ gpu: undefined, clouds: ['gcp'], spot: false }), [], ['gcp-cpu-no-spot', 'gcp-t4']],
    ['the stage narrows clouds', request({ gpu: t4, clouds: ['aws', 'gcp'] }), [], ['gcp-t4', 'aws-t4', 'aws-t4x4']],
    ['the stage narrows regions', request({ gpu: t4, regions: ['us-east-1', 'eastus'] }), [], ['azure-t4', 'aws-t4', 'aws-t4x4']],
    ['the deployment narrows clouds', request({ gpu: t4 }, { enabledClouds: ['aws'] }), [], ['aws-t4', 'aws-t4x4']],
    ['stage and deployment clouds intersect', request({ gpu: t4, clouds: ['gcp', 'azure'] }, { enabledClouds: ['aws', 'gcp'] }), [], ['gcp-t4']],
    ['no offer fits: an empty list', request({ gpu: t4, clouds: ['azure'], max_price_per_hour: 0.1 }), [], []],
  ])('%s', (_name, req, blocks, expected) => {
    expect(types(fleet, req, blocks)).toEqual(expected);
  });

  test('unset, spot and on-demand compete: every offer once per market it has, by expected cost', () => {
    const both = rankOffers(fleet, { resources: { cpus: 1, memory_gb: 1, clouds: ['gcp'] }, inputs: [] });
    expect(both.map((r) => [r.offer.instance_type, r.spot])).toEqual([
      ['gcp-cpu-no-spot', false],
      ['gcp-t4', true],
      ['gcp-t4', false],
    ]);
  });

  test("a preemption closes only the region's spot market; capacity and quota close every offer there", () => {
    const region: PlacementBlock = { scope: 'region', cloud: 'gcp', region: 'us-central1', reason: 'capacity' };
    const spotOnly: PlacementBlock = { ...region, market: 'spot', reason: 'preempted' };
    const gcp = { resources: { gpu: t4, clouds: ['gcp' as const] }, inputs: [] };
    expect(rankOffers(fleet, gcp, [spotOnly]).map((r) => [r.offer.instance_type, r.spot])).toEqual([['gcp-t4', false]]);
    expect(rankOffers(fleet, gcp, [region])).toEqual([]);
  });

  test('unset, on-demand wins where the interruption penalty outweighs the spot discount', () => {
    const restless = offer({ instance_type: 'restless', spot_price: 0.5, on_demand_price: 1, interruption_rate: 0.5 });
    const long = rankOffers([restless], { resources: { gpu: t4, expected_hours: 10 }, inputs: [] });
    expect(long.map((r) => r.spot)).toEqual([false, true]);
    const short = rankOffers([restless], { resources: { gpu: t4, expected_hours: 0.1 }, inputs: [] });
    expect(short.map((r) => r.spot)).toEqual([true, false]);
  });

  test('a block rules out its zone, its region or its whole cloud, and only that', () => {
    const zones: Offer[] = [
      offer({ instance_type: 'a', zone: 'us-east-1a', spot_price: 0.1 }),
      offer({ instance_type: 'b', zone: 'us-east-1b', spot_price: 0.2 }),
      offer({ instance_type: 'c', region: 'us-west-2', zone: 'us-west-2a', spot_price: 0.3 }),
      offer({ instance_type: 'd', cloud: 'gcp', region: 'us-east-1', zone: 'us-east-1a', spot_price: 0.4 }),
    ];
    const block = (scope: PlacementBlock['scope'], fields: Partial<PlacementBlock> = {}): PlacementBlock => ({
      scope,
      cloud: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      reason: 'InsufficientInstanceCapacity',
      ...fields,
    });
    expect(types(zones, request())).toEqual(['a', 'b', 'c', 'd']);
    expect(types(zones, request(), [block('zone')])).toEqual(['b', 'c', 'd']);
    expect(types(zones, request(), [block('region')])).toEqual(['c', 'd']);
    expect(types(zones, request(), [block('cloud')])).toEqual(['d']);
    // The same names in another cloud are another place.
    expect(types(zones, request(), [block('cloud', { cloud: 'gcp' })])).toEqual(['a', 'b', 'c']);
    expect(types(zones, request(), [block('zone'), block('region', { region: 'us-west-2' })])).toEqual(['b', 'd']);
  });
});

describe('egress', () => {
  const cheapFar = offer({ instance_type: 'gcp-cheap', cloud: 'gcp', region: 'us-central1', zone: 'us-central1-a', spot_price: 0.4 });
  const dearNear = offer({ instance_type: 'aws-near', spot_price: 0.5 });
  const dearOtherRegion = offer({ instance_type: 'aws-other-region', region: 'us-west-2', zone: 'us-west-2a', spot_price: 0.45 });
  const offers = [cheapFar, dearNear, dearOtherRegion];

  test('input bytes at home flip the winner to the offer next to them', () => {
    expect(types(offers, request())[0]).toBe('gcp-cheap');
    const inputs = [{ cloud: 'aws' as const, region: 'us-east-1', bytes: 50 * GB }];
    const ranked = rankOffers(offers, request({}, { inputs }));
    expect(ranked.map((r) => r.offer.instance_type)).toEqual(['aws-near', 'aws-other-region', 'gcp-cheap']);
    const egressOf = (type: string) => ranked.find((r) => r.offer.instance_type === type)?.egress_usd;
    expect(egressOf('aws-near')).toBe(0);
    expect(egressOf('aws-other-region')).toBeCloseTo(50 * EGRESS_USD_PER_GB.aws.crossRegion, 10);
    expect(egressOf('gcp-cheap')).toBeCloseTo(50 * EGRESS_USD_PER_GB.aws.internet, 10);
    for (const r of ranked) expect(r.expected_cost_usd).toBeCloseTo(r.compute_usd + r.egress_usd, 10);
  });

  test('a few bytes do not outweigh a cheaper price; local inputs and every input add up', () => {
    expect(types(offers, request({}, { inputs: [{ cloud: 'aws', region: 'us-east-1', bytes: 0.1 * GB }] }))[0]).toBe('gcp-cheap');
    expect(types(offers, request({}, { inputs: [{ cloud: 'local', region: null, bytes: 1000 * GB }] }))[0]).toBe('gcp-cheap');
    const two = rankOffers([cheapFar], request({}, { inputs: [{ cloud: 'aws', region: 'us-east-1', bytes: GB }, { cloud: 'azure', region: 'eastus', bytes: 2 * GB }] }));
    expect(two[0]?.egress_usd).toBeCloseTo(EGRESS_USD_PER_GB.aws.internet + 2 * EGRESS_USD_PER_GB.azure.internet, 10);
  });

  test('rates: free in one region and into local ingress, cross-region inside a cloud, internet across clouds', () => {
    expect(egressUsdPerGb({ cloud: 'gcp', region: 'us-central1' }, { cloud: 'gcp', region: 'us-central1' })).toBe(0);
    expect(egressUsdPerGb({ cloud: 'local', region: null }, { cloud: 'azure', region: 'eastus' })).toBe(0);
    expect(egressUsdPerGb({ cloud: 'gcp', region: 'us-central1' }, { cloud: 'gcp', region: 'us-east4' })).toBe(EGRESS_USD_PER_GB.gcp.crossRegion);
    expect(egressUsdPerGb({ cloud: 'aws', region: null }, { cloud: 'aws', region: 'us-east-1' })).toBe(EGRESS_USD_PER_GB.aws.crossRegion);
    expect(egressUsdPerGb({ cloud: 'azure', region: 'eastus' }, { cloud: 'aws', region: 'us-east-1' })).toBe(EGRESS_USD_PER_GB.azure.internet);
  });
});

describe('interruption penalty', () => {
  const flaky = offer({ instance_type: 'flaky', spot_price: 1, interruption_rate: 0.5 });
  const steady = offer({ instance_type: 'steady', spot_price: 1.2, interruption_rate: 0 });

  test('a frequently interrupted cheaper offer loses to a steady dearer one', () => {
    expect(types([flaky, steady], request({ expected_hours: 0.01 }))).toEqual(['flaky', 'steady']);
    expect(types([flaky, steady], request({ expected_hours: 1 }))).toEqual(['steady', 'flaky']);
    const [winner, loser] = rankOffers([flaky, steady], request({ expected_hours: 1 }));
    expect(winner?.interruption_penalty).toBe(0);
    expect(loser?.interruption_penalty).toBeCloseTo(interruptionPenalty(0.5, 1), 12);
    expect(loser?.compute_usd).toBeCloseTo(1 * 1 * (1 + interruptionPenalty(0.5, 1)), 12);
  });

  test('grows with rate and hours, is about λH/2 when small, and is 0 on demand', () => {
    expect(interruptionPenalty(0, 10)).toBe(0);
    expect(interruptionPenalty(0.001, 1)).toBeCloseTo(0.0005, 6);
    expect(interruptionPenalty(0.1, 2)).toBeLessThan(interruptionPenalty(0.1, 4));
    expect(interruptionPenalty(0.1, 4)).toBeLessThan(interruptionPenalty(0.2, 4));
    expect(Number.isFinite(interruptionPenalty(1, 1e6))).toBe(true);
    const onDemand = rankOffers([flaky], request({ spot: false, expected_hours: 5 }));
    expect(onDemand[0]).toMatchObject({ spot: false, interruption_penalty: 0, price_per_hour: flaky.on_demand_price });
    expect(onDemand[0]?.compute_usd).toBeCloseTo(flaky.on_demand_price * 5, 12);
  });
});

describe('expected hours', () => {
  const one = [offer({ instance_type: 'only', spot_price: 0.5 })];

  test.each<[string, PlacementRequest, number, string]>([
    ['the spec wins over history', request({ expected_hours: 3 }, { historyHours: 7 }), 3, 'spec'],
    ['history when the spec says nothing', request({}, { historyHours: 7 }), 7, 'history'],
    ['the default without either', request(), DEFAULT_EXPECTED_HOURS, 'default'],
    ['a history of 0 hours is no history', request({}, { historyHours: 0 }), DEFAULT_EXPECTED_HOURS, 'default'],
  ])('%s', (_name, req, hours, source) => {
    const [ranked] = rankOffers(one, req);
    expect(ranked).toMatchObject({ expected_hours: hours, hours_source: source });
    expect(ranked?.compute_usd).toBeCloseTo(0.5 * hours, 12);
  });
});

describe('ties', () => {
  // Equal expected cost everywhere: the order must come from price, then place and type.
  const tied: Offer[] = [
    offer({ instance_type: 'x', cloud: 'gcp', region: 'us-central1', zone: 'us-central1-b' }),
    offer({ instance_type: 'x', cloud: 'gcp', region: 'us-central1', zone: 'us-central1-a' }),
    offer({ instance_type: 'y', cloud: 'aws', region: 'us-east-1', zone: 'us-east-1a' }),
    offer({ instance_type: 'x', cloud: 'aws', region: 'us-east-1', zone: 'us-east-1a' }),
    offer({ instance_type: 'x', cloud: 'azure', region: 'eastus', zone: null }),
    offer({ instance_type: 'x', cloud: 'aws', region: 'eu-west-1', zone: 'eu-west-1a' }),
  ];
  const place = (offers: readonly Offer[]) => rankOffers(offers, request()).map((r) => `${r.offer.cloud}/${r.offer.region}/${r.offer.zone ?? '-'}/${r.offer.instance_type}`);

  test('are broken by cloud, region, zone and type', () => {
    expect(place(tied)).toEqual([
      'aws/eu-west-1/eu-west-1a/x',
      'aws/us-east-1/us-east-1a/x',
      'aws/us-east-1/us-east-1a/y',
      'azure/eastus/-/x',
      'gcp/us-central1/us-central1-a/x',
      'gcp/us-central1/us-central1-b/x',
    ]);
  });

  test('give the same order whatever the input order', () => {
    const expected = place(tied);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 20; round += 1) {
      const shuffled = [...tied].sort(() => random() - 0.5);
      expect(place(shuffled)).toEqual(expected);
    }
  });

  test('on equal cost the lower price comes first', () => {
    // 0.4 + 0.1 egress vs 0.5 with no egress: same cost, cheaper hourly price first.
    const near = offer({ instance_type: 'near', spot_price: 0.5 });
    const far = offer({ instance_type: 'far', region: 'us-west-2', zone: 'us-west-2a', spot_price: 0.4 });
    const bytes = (0.1 / EGRESS_USD_PER_GB.aws.crossRegion) * GB;
    const ranked = rankOffers([near, far], request({}, { inputs: [{ cloud: 'aws', region: 'us-east-1', bytes }] }));
    // Exactly equal, so only the price can order them (by region, us-east-1 would come first).
    expect(ranked[0]?.expected_cost_usd).toBe(ranked[1]?.expected_cost_usd);
    expect(ranked.map((r) => r.offer.instance_type)).toEqual(['far', 'near']);
  });
});

test('canonical GPU names', () => {
  expect(['T4', 't4', 'nvidia-tesla-t4', 'NVIDIA T4'].map(canonicalGpuName)).toEqual(['T4', 'T4', 'T4', 'T4']);
  expect(['a100', 'A100-40GB', 'nvidia_a100_80gb', 'A100-80G', 'h100-80gb', 'A10G', 'a10'].map(canonicalGpuName)).toEqual([
    'A100',
    'A100',
    'A100-80GB',
    'A100-80GB',
    'H100',
    'A10G',
    'A10',
  ]);
});
