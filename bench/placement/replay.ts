import { egressUsd } from '../../domain/egress';
import type { Offer, PlacementBlock } from '../../domain/offer';
import type { Cloud } from '../../domain/pipeline-spec';
import { type PlacementRequest, rankOffers } from '../../domain/placement';
import { exponential, pick, seededRandom } from '../common/random';

// A replay of the bundled catalog: a set of GPU stages placed one after another, each offer's spot
// VMs interrupted at the instants of its own seeded trace. A preempted stage restarts from scratch
// (no checkpoint contract), and every hour it ran before is paid.

/** How stages are placed, and re-placed after a preemption. */
export type Strategy = 'mlfleet' | 'mlfleet-spot-only' | 'cheapest-single-cloud' | 'on-demand-only';

export interface ReplayStage {
  request: PlacementRequest;
  /** How long it really runs, uninterrupted. */
  hours: number;
}

export interface ReplayCost {
  usd: number;
  preemptions: number;
  /** Hours paid for that a preemption threw away. */
  lostHours: number;
}

// GPU types all three clouds sell, so a single-cloud baseline can place every stage.
const GPUS = ['T4', 'V100', 'A100', 'A100-80GB', 'H100'];
const TRACE_HORIZON_HOURS = 24 * 365;
// A stage that keeps being preempted everywhere stops here (none did in the measured runs).
const MAX_ATTEMPTS = 50;

/** `count` GPU stages: their GPU, true running hours (the spec says so for half of them), and inputs in some cloud. */
export function replayStages(count: number, seed: number, inputRegions: readonly { cloud: Cloud; region: string }[]): ReplayStage[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const hours = 0.25 + random() * random() * 24;
    const home = pick(random, inputRegions);
    return {
      hours,
      request: {
        resources: { gpu: { type: pick(random, GPUS), count: 1 }, ...(random() < 0.5 && { expected_hours: hours }) },
        // Otherwise the stage's history: a past median near its true duration.
        ...(random() < 0.8 && { historyHours: hours * (0.7 + 0.6 * random()) }),
        inputs: random() < 0.6 ? [{ ...home, bytes: random() * 300e9 }] : [],
      },
    };
  });
}

/** Per offer, the instants (hours from the start of the replay) its spot VMs are interrupted. */
export class PreemptionTrace {
  private readonly events = new Map<Offer, number[]>();

  constructor(offers: readonly Offer[], seed: number) {
    const random = seededRandom(seed);
    for (const offer of offers) {
      const times: number[] = [];
      for (let t = exponential(random, offer.interruption_rate); t < TRACE_HORIZON_HOURS; t += exponential(random, offer.interruption_rate)) times.push(t);
      this.events.set(offer, times);
    }
  }

  /** The first interruption of `offer` after `from`, or Infinity. */
  next(offer: Offer, from: number): number {
    const times = this.events.get(offer) ?? [];
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((times[mid] ?? Infinity) <= from) lo = mid + 1;
      else hi = mid;
    }
    return times[lo] ?? Infinity;
  }
}

/** Runs every stage in turn with `strategy`; `cloud` is the one cloud of the single-cloud baseline. */
export function replay(stages: readonly ReplayStage[], offers: readonly Offer[], trace: PreemptionTrace, strategy: Strategy, cloud?: Cloud): ReplayCost {
  const cost: ReplayCost = { usd: 0, preemptions: 0, lostHours: 0 };
  let clock = 0;
  for (const stage of stages) {
    // mlfleet's default leaves `spot` unset: spot and on-demand compete on expected cost.
    const spot = strategy === 'mlfleet-spot-only' ? true : strategy === 'on-demand-only' ? false : undefined;
    const { spot: _ignored, ...resources } = stage.request.resources;
    const request: PlacementRequest = {
      ...stage.request,
      resources: spot === undefined ? resources : { ...resources, spot },
      ...(cloud !== undefined && { enabledClouds: [cloud] }),
    };
    const blocks: PlacementBlock[] = [];
    const place = () => rankOffers(offers, request, blocks)[0];
    for (let attempt = 0; ; attempt += 1) {
      let best = place();
      if (!best && blocks.length > 0) {
        // Every region is blocked: start over, as SkyPilot's EAGER_NEXT_REGION retries the whole space.
        blocks.length = 0;
        best = place();
      }
      if (!best) throw new Error(`no offer for ${JSON.stringify(stage.request.resources)} with ${strategy}${cloud ? ` on ${cloud}` : ''}`);
      const { offer } = best;
      for (const input of stage.request.inputs) cost.usd += egressUsd(input.bytes, input, offer);
      const preemptedAt = best.spot && attempt < MAX_ATTEMPTS ? trace.next(offer, clock) : Infinity;
      if (preemptedAt >= clock + stage.hours) {
        cost.usd += best.price_per_hour * stage.hours;
        clock += stage.hours;
        break;
      }
      const ran = preemptedAt - clock;
      cost.usd += best.price_per_hour * ran;
      cost.preemptions += 1;
      cost.lostHours += ran;
      clock = preemptedAt;
      blocks.push({ scope: 'region', cloud: offer.cloud, region: offer.region, market: 'spot', reason: 'preempted' });
    }
  }
  return cost;
}
