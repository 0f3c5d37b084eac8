import { bundledCatalog } from '../../clouds/pricing/catalog';
import { VM_CLOUDS } from '../../domain/clouds';
import type { Cloud } from '../../domain/pipeline-spec';
import { rankOffers } from '../../domain/placement';
import { machine, type Machine } from '../common/machine';
import { parseOptions } from '../common/options';
import { markdownHeading, writeResults } from '../common/results';
import { consoleTable, markdownTable } from '../common/table';
import { seededRandom } from '../common/random';
import { PreemptionTrace, replay, type ReplayCost, replayStages } from './replay';
import { syntheticOffers, syntheticRequests } from './synthetic';

// The placement benchmark: (a) how long ranking takes at catalog sizes no real cloud has yet, and
// (b) on a replay of the bundled catalog under seeded preemption traces, what mlfleet's placement
// costs against a single-cloud and an on-demand-only baseline. `npm run bench:placement`.

const PARTS = ['ranking', 'replay'] as const;
type Part = (typeof PARTS)[number];

const options = parseOptions(
  {
    script: 'bench:placement',
    integers: {
      offers: { env: 'BENCH_OFFERS', default: 100_000 },
      stages: { env: 'BENCH_STAGES', default: 50 },
      rounds: { env: 'BENCH_ROUNDS', default: 5 },
      replayStages: { env: 'BENCH_REPLAY_STAGES', default: 40 },
      replaySeeds: { env: 'BENCH_REPLAY_SEEDS', default: 20 },
    },
    list: { env: 'BENCH_PARTS', known: PARTS, noun: 'part' },
  },
  process.argv.slice(2),
  process.env,
);

const SEED = 20_261_120;
const t0 = performance.now();
const log = (line: string): void => console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

interface RankingResult {
  offers: number;
  stages: number;
  rounds: number;
  /** Per round, ms to rank every stage. */
  roundMs: number[];
  medianMs: number;
  msPerStage: number;
  /** Offers that fit, per stage on average: what each sort sorted. */
  meanFitting: number;
}

type Baseline = 'mlfleet' | 'mlfleet-spot-only' | 'cheapest-single-cloud' | 'on-demand-only';

interface ReplayResult {
  stages: number;
  seeds: number;
  offers: number;
  catalogFetchedAt: string;
  /** Mean over seeds of the whole stage set's cost, USD, and its preemptions and lost hours. */
  mean: Record<Baseline, ReplayCost>;
  /** How often each cloud was the hindsight choice of the single-cloud baseline. */
  singleCloudPicks: Partial<Record<Cloud, number>>;
}

interface PlacementBench {
  date: string;
  machine: Machine;
  ranking?: RankingResult;
  replay?: ReplayResult;
}

function benchRanking(): RankingResult {
  const offers = syntheticOffers(options.integers.offers, seededRandom(SEED));
  const requests = syntheticRequests(options.integers.stages, seededRandom(SEED + 1));
  log(`ranking: ${offers.length} offers × ${requests.length} stages, ${options.integers.rounds} rounds (+1 warm-up)`);
  const roundMs: number[] = [];
  let fitting = 0;
  for (let round = 0; round <= options.integers.rounds; round += 1) {
    const start = performance.now();
    let matched = 0;
    for (const request of requests) matched += rankOffers(offers, request).length;
    const ms = performance.now() - start;
    if (round > 0) roundMs.push(ms);
    fitting = matched;
    log(`  round ${round}${round === 0 ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms`);
  }
  const medianMs = median(roundMs);
  return { offers: offers.length, stages: requests.length, rounds: roundMs.length, roundMs, medianMs, msPerStage: medianMs / requests.length, meanFitting: fitting / requests.length };
}

function benchReplay(): ReplayResult {
  const catalog = bundledCatalog();
  const offers = catalog.offers.filter((o) => o.gpu_type !== null);
  const homes = [...new Map(offers.map((o) => [`${o.cloud} ${o.region}`, { cloud: o.cloud, region: o.region }])).values()];
  const clouds: Cloud[] = [...VM_CLOUDS];
  const totals: Record<Baseline, ReplayCost> = {
    mlfleet: { usd: 0, preemptions: 0, lostHours: 0 },
    'mlfleet-spot-only': { usd: 0, preemptions: 0, lostHours: 0 },
    'cheapest-single-cloud': { usd: 0, preemptions: 0, lostHours: 0 },
    'on-demand-only': { usd: 0, preemptions: 0, lostHours: 0 },
  };
  const picks: Partial<Record<Cloud, number>> = {};
  const add = (baseline: Baseline, cost: ReplayCost) => {
    totals[baseline].usd += cost.usd;
    totals[baseline].preemptions += cost.preemptions;
    totals[baseline].lostHours += cost.lostHours;
  };
  const seeds = options.integers.replaySeeds;
  log(`replay: ${options.integers.replayStages} GPU stages on ${offers.length} bundled GPU offers, ${seeds} seeds`);
  for (let seed = 0; seed < seeds; seed += 1) {
    const stages = replayStages(options.integers.replayStages, SEED + 100 + seed, homes);
    const trace = new PreemptionTrace(offers, SEED + 200 + seed);
    add('mlfleet', replay(stages, offers, trace, 'mlfleet'));
    add('mlfleet-spot-only', replay(stages, offers, trace, 'mlfleet-spot-only'));
    add('on-demand-only', replay(stages, offers, trace, 'on-demand-only'));
    // In hindsight: the one cloud that would have cost least on this very trace.
    const perCloud = clouds.map((cloud) => ({ cloud, cost: replay(stages, offers, trace, 'cheapest-single-cloud', cloud) }));
    const best = perCloud.reduce((a, b) => (b.cost.usd < a.cost.usd ? b : a));
    add('cheapest-single-cloud', best.cost);
    picks[best.cloud] = (picks[best.cloud] ?? 0) + 1;
  }
  const mean = Object.fromEntries(
    Object.entries(totals).map(([name, t]) => [name, { usd: t.usd / seeds, preemptions: t.preemptions / seeds, lostHours: t.lostHours / seeds }]),
  ) as Record<Baseline, ReplayCost>;
  return { stages: options.integers.replayStages, seeds, offers: offers.length, catalogFetchedAt: catalog.fetchedAt, mean, singleCloudPicks: picks };
}

const fmt = (value: number, digits = 2): string => value.toFixed(digits);

function rankingRows(r: RankingResult): string[][] {
  return [
    ['workload', 'offers', 'stages', 'median ms (all stages)', 'ms / stage', 'fitting offers / stage'],
    ['rank offers for 50 stage requests', String(r.offers), String(r.stages), fmt(r.medianMs, 1), fmt(r.msPerStage, 2), fmt(r.meanFitting, 0)],
  ];
}

function replayRows(r: ReplayResult): string[][] {
  const base = r.mean.mlfleet.usd;
  const row = (name: Baseline, label: string) => [label, fmt(r.mean[name].usd), fmt(r.mean[name].usd / base, 2) + '×', fmt(r.mean[name].preemptions, 1), fmt(r.mean[name].lostHours, 1)];
  return [
    ['placement', 'expected cost $', '÷ mlfleet', 'preemptions', 'lost hours'],
    row('mlfleet', 'mlfleet (all clouds, spot or on-demand by expected cost: the default)'),
    row('mlfleet-spot-only', 'mlfleet with `spot: true` (all clouds, spot only)'),
    row('cheapest-single-cloud', 'cheapest single cloud (in hindsight), same ranking'),
    row('on-demand-only', 'on-demand only (cheapest anywhere)'),
  ];
}

function renderMarkdown(bench: PlacementBench): string {
  const lines = [...markdownHeading('placement', bench.date)];
  lines.push(`Machine: ${bench.machine.cores} cores (${bench.machine.cpu}), ${bench.machine.memoryGiB} GiB, Node ${bench.machine.node}.`, '');
  if (bench.ranking) {
    const r = bench.ranking;
    lines.push('## Ranking', '', ...markdownTable(rankingRows(r)), '');
    lines.push(
      `${r.offers.toLocaleString('en')} synthetic offers (seeded: 3 clouds × 40 regions, GPU and CPU types) and ${r.stages} different stage requests (GPU type and count or vCPUs and memory, spot or not, some with a price cap, spec hours, history or an input to move); \`rankOffers\` over the whole list per request, median of ${r.rounds} rounds after a warm-up (rounds: ${r.roundMs.map((ms) => fmt(ms, 0)).join(', ')} ms).`,
      '',
    );
  }
  if (bench.replay) {
    const r = bench.replay;
    const picks = Object.entries(r.singleCloudPicks).map(([cloud, n]) => `${cloud} ${n}`).join(', ');
    lines.push('## Replay of the bundled catalog with preemptions', '', ...markdownTable(replayRows(r)), '');
    lines.push(
      `Mean over ${r.seeds} seeds of ${r.stages} GPU stages (T4, V100, A100, A100-80GB or H100; 0.25-24 h; 60 % with up to 300 GB of input in some region) run one after another on the ${r.offers} GPU offers of the bundled catalog (prices of ${r.catalogFetchedAt}). Each offer's spot VMs are interrupted at the instants of a seeded Poisson trace at its own interruption_rate; a preempted stage restarts from scratch and its lost hours are paid. mlfleet ranks every offer in both markets (spot at price × hours × (1 + interruption penalty), on-demand at price × hours; + egress), blocks the region on a preemption and re-places the stage; the \`spot: true\` row ranks spot offers only. The single-cloud baseline is the same ranking and recovery inside one cloud, the cloud chosen per seed in hindsight (${picks}). On-demand only takes the cheapest on-demand offer anywhere (with egress) and is never preempted. Egress is paid per attempt, from the input's region to the VM's.`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const parts = new Set<Part>(options.list);
  const bench: PlacementBench = { date: new Date().toISOString(), machine: machine() };
  if (parts.has('ranking')) bench.ranking = benchRanking();
  if (parts.has('replay')) bench.replay = benchReplay();
  if (bench.ranking) console.log(`\n${consoleTable(rankingRows(bench.ranking), [])}\n`);
  if (bench.replay) console.log(`${consoleTable(replayRows(bench.replay), [])}\n`);
  writeResults('placement', bench, renderMarkdown, log);
}

main();
