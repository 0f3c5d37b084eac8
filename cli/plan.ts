import { Command, InvalidArgumentError } from 'commander';
import { OfferList, type RankedOffer } from '../domain/placement';
import type { PipelineSpec, Resources } from '../domain/pipeline-spec';
import { requestApi } from './http';
import { loadPipelineFile } from './pipeline-file';

const DEFAULT_TOP = 3;

export interface StagePlan {
  stage: string;
  resources: Resources;
  answer: OfferList;
}

/** The query of `GET /api/v1/offers` for one stage: its resources, and its name for the server to find its history. */
export function offersQuery(spec: PipelineSpec, stage: string, top: number): URLSearchParams {
  const resources = spec.stages[stage]?.resources ?? {};
  const query = new URLSearchParams();
  if (resources.gpu) {
    query.set('gpu', resources.gpu.type);
    query.set('gpu_count', String(resources.gpu.count));
  }
  for (const key of ['cpus', 'memory_gb', 'max_price_per_hour', 'expected_hours'] as const) {
    const value = resources[key];
    if (value !== undefined) query.set(key, String(value));
  }
  if (resources.spot !== undefined) query.set('spot', String(resources.spot));
  if (resources.clouds) query.set('clouds', resources.clouds.join(','));
  if (resources.regions) query.set('regions', resources.regions.join(','));
  query.set('experiment', spec.experiment);
  query.set('stage', stage);
  query.set('top', String(top));
  return query;
}

/** Asks the server for every stage's best offers, in spec order. */
export async function planPipeline(baseUrl: string, spec: PipelineSpec, top: number): Promise<StagePlan[]> {
  return Promise.all(
    Object.entries(spec.stages).map(async ([stage, stageSpec]) => ({
      stage,
      resources: stageSpec.resources ?? {},
      answer: OfferList.parse(await requestApi(baseUrl, 'GET', `/api/v1/offers?${offersQuery(spec, stage, top).toString()}`)),
    })),
  );
}

const usd = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(4));

/** `1× T4, ≥4 vCPU, spot`: what the stage asked for. */
function describeResources(resources: Resources): string {
  const parts = [
    resources.gpu ? `${resources.gpu.count}× ${resources.gpu.type}` : 'no GPU needed',
    ...(resources.cpus !== undefined ? [`≥${resources.cpus} vCPU`] : []),
    ...(resources.memory_gb !== undefined ? [`≥${resources.memory_gb} GB`] : []),
    resources.spot === false ? 'on-demand' : 'spot',
    ...(resources.max_price_per_hour !== undefined ? [`≤$${resources.max_price_per_hour}/h`] : []),
    ...(resources.clouds ? [`clouds ${resources.clouds.join(',')}`] : []),
    ...(resources.regions ? [`regions ${resources.regions.join(',')}`] : []),
  ];
  return parts.join(', ');
}

const HEADER = ['#', 'CLOUD', 'REGION', 'ZONE', 'TYPE', 'GPU', 'MARKET', 'PRICE/H', 'HOURS', 'PENALTY', 'COMPUTE', 'EGRESS', 'TOTAL $'];
const NUMERIC = new Set(['PRICE/H', 'HOURS', 'PENALTY', 'COMPUTE', 'EGRESS', 'TOTAL $']);

function offerRow(ranked: RankedOffer, index: number): string[] {
  const { offer } = ranked;
  return [
    String(index + 1),
    offer.cloud,
    offer.region,
    offer.zone ?? '-',
    offer.instance_type,
    offer.gpu_type === null ? '-' : `${offer.gpu_count}× ${offer.gpu_type}`,
    ranked.spot ? 'spot' : 'on-demand',
    usd(ranked.price_per_hour),
    `${ranked.expected_hours.toFixed(2)} (${ranked.hours_source})`,
    `${(ranked.interruption_penalty * 100).toFixed(1)}%`,
    usd(ranked.compute_usd),
    usd(ranked.egress_usd),
    usd(ranked.expected_cost_usd),
  ];
}

function table(rows: string[][]): string[] {
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map((row) =>
    `  ${row.map((cell, i) => (NUMERIC.has(HEADER[i] ?? '') ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd(),
  );
}

/** The plan as text: per stage what it asked for and its best offers with every cost term, then the catalog's freshness. */
export function renderPlan(plans: readonly StagePlan[]): string {
  const lines: string[] = [];
  for (const { stage, resources, answer } of plans) {
    const history = answer.history ? `; history: median ${answer.history.hours.toFixed(2)} h of ${answer.history.runs} runs` : '';
    lines.push(`stage ${stage}: ${describeResources(resources)}${history}`);
    if (answer.offers.length === 0) {
      lines.push('  no offer fits these resources', '');
      continue;
    }
    lines.push(...table([HEADER, ...answer.offers.map(offerRow)]));
    lines.push(`  (${answer.offers.length} of ${answer.matched} fitting offers; total = price/h × hours × (1 + penalty) + egress)`, '');
  }
  const freshness = plans[0]?.answer.freshness ?? [];
  lines.push('catalog:');
  for (const part of freshness) {
    const failed = part.last_attempt?.status === 'failed' ? `; last refresh failed at ${part.last_attempt.at}: ${part.last_attempt.error ?? ''}` : '';
    const clouds = part.clouds.length > 0 ? part.clouds.join(', ') : 'no clouds';
    lines.push(`  ${part.source}: ${clouds}, ${part.rows} rows, prices of ${part.fetched_at ?? 'never'}${failed}`);
  }
  return lines.join('\n');
}

const topCount = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('expected an integer from 1 to 100');
  return n;
};

/** `mlfleet plan FILE`: where each stage of a pipeline would run and what it would cost, without launching anything. */
export function planCommand(defaultUrl: string): Command {
  return new Command('plan')
    .argument('<file>', 'pipeline file (YAML or JSON)')
    .description("show each stage's cheapest offers across clouds, with every term of their expected cost")
    .option('--top <n>', `offers per stage (default ${DEFAULT_TOP})`, topCount, DEFAULT_TOP)
    .option('--json', 'print the stages and their offers as JSON', false)
    .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', defaultUrl)
    .action(async (file: string, opts: { top: number; json: boolean; url: string }) => {
      const { spec } = loadPipelineFile(file);
      const plans = await planPipeline(opts.url, spec, opts.top);
      if (opts.json) {
        const freshness = plans[0]?.answer.freshness ?? [];
        console.log(JSON.stringify({ stages: plans.map(({ stage, resources, answer }) => ({ stage, resources, matched: answer.matched, offers: answer.offers })), freshness }));
      } else {
        console.log(renderPlan(plans));
      }
    });
}
