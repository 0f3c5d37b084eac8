import { z } from 'zod';
import { CLOUDS } from './clouds';
import { egressUsd } from './egress';
import { isBlocked, Offer, type PlacementBlock } from './offer';
import { Cloud, Resources } from './pipeline-spec';

/** Where a pinned input lives, and how big it is. */
export const InputFootprint = z
  .object({
    cloud: Cloud,
    /** Null when only the cloud is known. */
    region: z.string().min(1).nullable(),
    bytes: z.number().nonnegative(),
  })
  .strict();
export type InputFootprint = z.infer<typeof InputFootprint>;

export const PlacementRequest = z
  .object({
    /** From the stage spec; may be {}. */
    resources: Resources,
    /** This stage's own median past duration, if it has run before. */
    historyHours: z.number().positive().optional(),
    inputs: z.array(InputFootprint),
    /** Deployment-level: which clouds this mlfleet may use (all when absent). */
    enabledClouds: z.array(Cloud).optional(),
  })
  .strict();
export type PlacementRequest = z.infer<typeof PlacementRequest>;

/** An offer that fits the request, with every term of its expected cost. */
export const RankedOffer = z
  .object({
    offer: Offer,
    spot: z.boolean(),
    price_per_hour: z.number(),
    expected_hours: z.number(),
    hours_source: z.enum(['spec', 'history', 'default']),
    /** The multiplier's extra term: compute = price × hours × (1 + penalty). */
    interruption_penalty: z.number(),
    compute_usd: z.number(),
    egress_usd: z.number(),
    expected_cost_usd: z.number(),
  })
  .strict();
export type RankedOffer = z.infer<typeof RankedOffer>;

/** Hours assumed for a stage that declares none and has never run (SkyPilot assumes the same). */
export const DEFAULT_EXPECTED_HOURS = 1;

// Beyond this many expected interruptions the penalty is astronomically large anyway; the cap keeps it finite.
const MAX_EXPECTED_INTERRUPTIONS = 50;

const GPU_ALIASES: Readonly<Record<string, string>> = {
  'A100-40GB': 'A100',
  'A100-40G': 'A100',
  'A100-80G': 'A100-80GB',
  'H100-80GB': 'H100',
  'H100-80G': 'H100',
  'V100-16GB': 'V100',
};

/** The catalog's name for a GPU as a user may write it: `nvidia-tesla-t4` → `T4`, `a100_80gb` → `A100-80GB`. */
export function canonicalGpuName(name: string): string {
  const words = name
    .trim()
    .toUpperCase()
    .split(/[\s_-]+/)
    .filter((word) => word !== '' && word !== 'NVIDIA' && word !== 'TESLA');
  const joined = words.join('-');
  return GPU_ALIASES[joined] ?? joined;
}

/**
 * The expected extra running time a spot VM costs, as a fraction of the stage's hours. A stage has
 * no checkpoint contract, so a preemption restarts it from scratch elsewhere; with interruptions
 * arriving as a Poisson process of rate λ per hour, finishing H uninterrupted hours takes
 * (e^{λH} − 1)/λ hours on average, so the penalty is (e^{λH} − 1)/(λH) − 1 (≈ λH/2 when λH is small).
 */
export function interruptionPenalty(ratePerHour: number, hours: number): number {
  const expectedInterruptions = Math.min(ratePerHour * hours, MAX_EXPECTED_INTERRUPTIONS);
  if (!(expectedInterruptions > 0)) return 0;
  return Math.expm1(expectedInterruptions) / expectedInterruptions - 1;
}

/** The spec's estimate, else the stage's own history, else the default. */
export function expectedHoursOf(request: Pick<PlacementRequest, 'resources' | 'historyHours'>): {
  hours: number;
  source: RankedOffer['hours_source'];
} {
  const declared = request.resources.expected_hours;
  if (declared !== undefined && declared > 0) return { hours: declared, source: 'spec' };
  const history = request.historyHours;
  if (history !== undefined && Number.isFinite(history) && history > 0) return { hours: history, source: 'history' };
  return { hours: DEFAULT_EXPECTED_HOURS, source: 'default' };
}

/** The price the request would pay for `offer`, or undefined when the offer does not fit the request. */
function fittingPrice(offer: Offer, resources: Resources, spot: boolean, wantedGpu: string | undefined, allowed: ReadonlySet<Cloud> | undefined): number | undefined {
  if (allowed && !allowed.has(offer.cloud)) return undefined;
  if (resources.regions && !resources.regions.includes(offer.region)) return undefined;
  if (wantedGpu !== undefined && (offer.gpu_type !== wantedGpu || offer.gpu_count < (resources.gpu?.count ?? 1))) return undefined;
  if (resources.cpus !== undefined && offer.vcpus < resources.cpus) return undefined;
  if (resources.memory_gb !== undefined && offer.memory_gb < resources.memory_gb) return undefined;
  const price = spot ? offer.spot_price : offer.on_demand_price;
  if (price === null) return undefined;
  if (resources.max_price_per_hour !== undefined && price > resources.max_price_per_hour) return undefined;
  return price;
}

/** The clouds both the deployment and the stage allow; undefined when neither restricts them. */
function allowedClouds(request: PlacementRequest): ReadonlySet<Cloud> | undefined {
  const { enabledClouds } = request;
  const stageClouds = request.resources.clouds;
  if (!enabledClouds && !stageClouds) return undefined;
  return new Set((enabledClouds ?? stageClouds ?? []).filter((cloud) => !stageClouds || stageClouds.includes(cloud)));
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Cheapest expected cost first; equal costs by price, then by place and type, so the order never depends on the input's. */
function compareRanked(a: RankedOffer, b: RankedOffer): number {
  return (
    a.expected_cost_usd - b.expected_cost_usd ||
    a.price_per_hour - b.price_per_hour ||
    compareText(a.offer.cloud, b.offer.cloud) ||
    compareText(a.offer.region, b.offer.region) ||
    compareText(a.offer.zone ?? '', b.offer.zone ?? '') ||
    compareText(a.offer.instance_type, b.offer.instance_type)
  );
}

/**
 * The offers that fit the request (GPU type and count, vCPUs, memory, spot or on-demand, max price,
 * the stage's and the deployment's clouds, the stage's regions, no block), cheapest expected cost
 * first: price × expected hours × (1 + interruption penalty, spot only) + egress of every input
 * from where it lives to the offer's region.
 */
export function rankOffers(offers: readonly Offer[], request: PlacementRequest, blocks: readonly PlacementBlock[] = []): RankedOffer[] {
  const { resources } = request;
  // Unset, both markets compete on expected cost: a spot discount that the interruption penalty
  // outweighs (long stages, restless offers) loses to on-demand (docs/benchmarks.md, Placement).
  const markets = resources.spot === undefined ? [true, false] : [resources.spot];
  const wantedGpu = resources.gpu ? canonicalGpuName(resources.gpu.type) : undefined;
  const allowed = allowedClouds(request);
  const { hours, source } = expectedHoursOf(request);
  // Egress depends only on the candidate's cloud and region: computed once per place.
  const egressByPlace = new Map<Cloud, Map<string, number>>();
  const egressTo = (cloud: Cloud, region: string): number => {
    if (request.inputs.length === 0) return 0;
    let byRegion = egressByPlace.get(cloud);
    if (!byRegion) egressByPlace.set(cloud, (byRegion = new Map<string, number>()));
    let usd = byRegion.get(region);
    if (usd === undefined) {
      usd = request.inputs.reduce((sum, input) => sum + egressUsd(input.bytes, input, { cloud, region }), 0);
      byRegion.set(region, usd);
    }
    return usd;
  };

  const ranked: RankedOffer[] = [];
  for (const offer of offers) {
    for (const spot of markets) {
      if (blocks.length > 0 && isBlocked(offer, blocks, spot)) continue;
      const price = fittingPrice(offer, resources, spot, wantedGpu, allowed);
      if (price === undefined) continue;
      const penalty = spot ? interruptionPenalty(offer.interruption_rate, hours) : 0;
      const computeUsd = price * hours * (1 + penalty);
      const egressUsdTotal = egressTo(offer.cloud, offer.region);
      ranked.push({
        offer,
        spot,
        price_per_hour: price,
        expected_hours: hours,
        hours_source: source,
        interruption_penalty: penalty,
        compute_usd: computeUsd,
        egress_usd: egressUsdTotal,
        expected_cost_usd: computeUsd + egressUsdTotal,
      });
    }
  }
  return ranked.sort(compareRanked);
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/offers: the ranking of one stage's resources, asked over HTTP (`mlfleet plan`).
// ---------------------------------------------------------------------------------------------

const MAX_TOP = 100;
const DEFAULT_TOP = 10;

const positiveNumber = (what: string) =>
  z
    .string()
    .regex(/^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().positive(`expected ${what}`));

const positiveInteger = (what: string, max: number) =>
  z
    .string()
    .regex(/^[1-9][0-9]*$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().int().max(max, `expected ${what}`));

/** `a,b,c`, each item checked by `item`. */
const commaList = <T>(item: z.ZodType<T, string>) =>
  z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()))
    .pipe(z.array(item).min(1));

/** `<cloud>:<region>:<bytes>`, the region empty when only the cloud is known: `aws:us-east-1:5000000000`, `aws::1e9`. */
const InputFootprintText = z.string().transform((text, ctx): InputFootprint => {
  const match = /^([a-z]+):([^:,]*):([0-9]+(?:\.[0-9]*)?(?:[eE]\+?[0-9]+)?)$/.exec(text);
  const cloud = Cloud.safeParse(match?.[1]);
  if (!match || !cloud.success) {
    ctx.addIssue({ code: 'custom', message: `expected <cloud>:<region>:<bytes> (cloud ${CLOUDS.slice(0, -1).join(', ')} or ${CLOUDS[CLOUDS.length - 1]}; region may be empty), got '${text}'` });
    return z.NEVER;
  }
  return { cloud: cloud.data, region: match[2] === '' ? null : (match[2] ?? null), bytes: Number(match[3]) };
});

/** The query string of `GET /api/v1/offers`: a stage's resources, its history, its inputs; every value arrives as a string. */
export const OffersQuery = z
  .strictObject({
    gpu: z.string().regex(/\S/, 'must not be empty').optional().meta({ description: 'GPU type, e.g. T4, A100-80GB (compared by canonical name)' }),
    gpu_count: positiveInteger('an integer from 1 to 64', 64).optional().meta({ description: 'GPUs per VM, at least (default 1; needs gpu)' }),
    cpus: positiveNumber('a positive number').optional().meta({ description: 'vCPUs, at least' }),
    memory_gb: positiveNumber('a positive number').optional().meta({ description: 'memory in GB, at least' }),
    spot: z.enum(['true', 'false']).transform((value) => value === 'true').optional().meta({ description: 'spot offers (default true) or on-demand ones' }),
    max_price_per_hour: positiveNumber('a positive number').optional().meta({ description: 'USD per hour, at most, on the price used' }),
    clouds: commaList(Cloud).optional().meta({ description: 'comma-separated clouds to consider, e.g. aws,gcp' }),
    regions: commaList(z.string().regex(/\S/, 'must not be empty')).optional().meta({ description: 'comma-separated regions to consider' }),
    expected_hours: positiveNumber('a positive number').optional().meta({ description: "the stage's own estimate of its running hours" }),
    experiment: z.string().min(1).optional().meta({ description: "with stage: the experiment whose past runs of the stage give its hours" }),
    stage: z.string().min(1).optional().meta({ description: 'with experiment: the stage whose median past duration gives its hours' }),
    inputs: commaList(InputFootprintText)
      .optional()
      .meta({ description: 'comma-separated pinned inputs as <cloud>:<region>:<bytes> (region empty when unknown), for egress' }),
    top: positiveInteger(`an integer from 1 to ${MAX_TOP}`, MAX_TOP).optional().meta({ description: `how many offers to answer with (default ${DEFAULT_TOP})` }),
  })
  .superRefine((query, ctx) => {
    if (query.gpu_count !== undefined && query.gpu === undefined) ctx.addIssue({ code: 'custom', path: ['gpu_count'], message: 'needs gpu' });
    if ((query.experiment === undefined) !== (query.stage === undefined)) {
      ctx.addIssue({ code: 'custom', path: [query.experiment === undefined ? 'experiment' : 'stage'], message: 'experiment and stage go together' });
    }
  })
  .transform(({ gpu, gpu_count, top, experiment, stage, inputs, ...rest }) => ({
    resources: Resources.parse({ ...rest, ...(gpu !== undefined && { gpu: { type: gpu, count: gpu_count ?? 1 } }) }),
    top: top ?? DEFAULT_TOP,
    experiment,
    stage,
    inputs: inputs ?? [],
  }));
export type OffersQuery = z.infer<typeof OffersQuery>;

/** How fresh one part of the catalog is: the bundled file, or a live price source. */
export const CatalogFreshness = z
  .object({
    source: z.string(),
    /** Which clouds' rows it provides now; empty for a source none of whose refreshes succeeded. */
    clouds: z.array(Cloud),
    /** ISO 8601: when the prices in use were read, if any are. */
    fetched_at: z.string().optional(),
    rows: z.number().int(),
    last_attempt: z.object({ at: z.string(), status: z.enum(['ok', 'failed']), error: z.string().optional() }).strict().optional(),
  })
  .strict();
export type CatalogFreshness = z.infer<typeof CatalogFreshness>;

/** The answer of `GET /api/v1/offers`. */
export const OfferList = z
  .object({
    /** How many offers fit, of which `offers` are the first. */
    matched: z.number().int(),
    /** The stage's past runs, when the query named one that has finished runs. */
    history: z.object({ hours: z.number(), runs: z.number().int() }).strict().optional(),
    offers: z.array(RankedOffer),
    freshness: z.array(CatalogFreshness),
  })
  .strict();
export type OfferList = z.infer<typeof OfferList>;
