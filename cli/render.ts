import type { LaunchProgress, StageProgress } from '../domain/launch';
import type { RunSummary } from './api-client';

const duration = (stage: StageProgress): string => {
  if (stage.duration_s !== undefined) return `${stage.duration_s.toFixed(1)}s`;
  if (stage.started_at !== undefined) return `${(((stage.ended_at ?? Date.now()) - stage.started_at) / 1000).toFixed(1)}s`;
  return '-';
};

/** The run tree: the launch run, then one line per stage run. */
export function renderRunTree(progress: LaunchProgress, opts: { digests?: boolean } = {}): string {
  const rows = progress.stages.map((s) => [s.name, s.status, duration(s), s.run_id || '-', source(s)]);
  const header = ['STAGE', 'STATUS', 'DURATION', 'RUN ID', 'SOURCE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [
    `launch ${progress.launch_id}  ${progress.status}  run ${progress.run_id}  experiment ${progress.experiment_id ?? '-'}`,
    line(header),
    ...rows.map(line),
    ...(opts.digests ? inputDigestLines(progress) : []),
    ...(progress.error ? [`  error: ${progress.error}`] : []),
  ].join('\n');
}

/** ran, cached (from which run) or reused (from which run); '-' for a stage that has no result yet. */
function source(stage: StageProgress): string {
  if (stage.source === 'cached') return `cached from ${stage.cached_from ?? '?'}`;
  if (stage.source === 'reused') return `reused from ${stage.reused_from ?? '?'}`;
  return stage.source ?? '-';
}

/** The snapshot and output digests each stage read. */
function inputDigestLines(progress: LaunchProgress): string[] {
  const lines = progress.stages.flatMap((s) =>
    Object.entries(s.input_digests ?? {}).map(([input, digest]) => `  ${s.name}.${input}  ${digest}`),
  );
  return lines.length > 0 ? ['', '  INPUT DIGESTS', ...lines] : [];
}

/** One line per stage whose status changed since `previous`, for live progress. */
export function progressChanges(previous: LaunchProgress | undefined, current: LaunchProgress): string[] {
  return current.stages
    .filter((stage) => previous?.stages.find((s) => s.name === stage.name)?.status !== stage.status)
    .filter((stage) => stage.status !== 'PENDING')
    .map((stage) => `  ${stage.name.padEnd(16)} ${stage.status}${stage.error ? `: ${stage.error}` : ''}`);
}

/** The `--json` shape of launch and status. */
export const launchJson = (p: LaunchProgress): object => ({
  launch_id: p.launch_id,
  experiment_id: p.experiment_id,
  run_id: p.run_id,
  status: p.status,
  stages: p.stages.map((s) => ({
    name: s.name,
    run_id: s.run_id,
    status: s.status,
    ...(s.source !== undefined && { source: s.source }),
    ...(s.cached_from !== undefined && { cached_from: s.cached_from }),
    ...(s.reused_from !== undefined && { reused_from: s.reused_from }),
    ...(s.input_digests !== undefined && { input_digests: s.input_digests }),
  })),
});

/** A stage's own metrics (not mlfleet's bookkeeping), for a one-line summary. */
export function renderMetrics(stage: string, metrics: Record<string, number>, tags: Record<string, string>, max = 4): string {
  const shown = Object.entries(metrics)
    .filter(([key]) => !key.startsWith('mlfleet.'))
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, max)
    .map(([key, value]) => `${key}=${Number.isInteger(value) ? value : value.toFixed(4)}`);
  const userTags = Object.entries(tags).filter(([key]) => !key.startsWith('mlflow.') && !key.startsWith('mlfleet.'));
  return `  ${stage.padEnd(14)} ${[...shown, ...userTags.map(([k, v]) => `${k}=${v}`)].join('  ') || '-'}`;
}

/** Dollars: cents for large sums, three significant digits for the fractions of a cent seconds of a VM cost. */
const usd = (value: number): string => (value === 0 ? '$0' : value >= 1 ? `$${value.toFixed(2)}` : `$${value.toPrecision(3)}`);

const usdTag = (text: string | undefined, format = usd): string => (text === undefined || Number.isNaN(Number(text)) ? '-' : format(Number(text)));

// Prices as the catalog quotes them, to a hundredth of a cent.
const pricePerHour = (value: number): string => `$${value.toFixed(4)}`;

/**
 * Where each placed stage ran, what it was expected to cost and what it cost, and why it left the
 * offers it failed over from: read from the `mlfleet.*` tags and metrics of each stage run and the launch run.
 */
export function renderPlacements(stages: Array<{ stage: StageProgress; run: RunSummary }>, launchRun: RunSummary): string {
  const rows = stages.map(({ stage, run }) => {
    const { tags, metrics } = run;
    if (stage.source === 'cached') return [stage.name, `cached from ${stage.cached_from ?? '?'}: placed nothing`];
    return [
      stage.name,
      tags['mlfleet.cloud'] ?? '-',
      tags['mlfleet.region'] ?? '-',
      tags['mlfleet.zone'] ?? '-',
      tags['mlfleet.instance_type'] ?? '-',
      tags['mlfleet.spot'] === undefined ? '-' : tags['mlfleet.spot'] === 'true' ? 'spot' : 'on-demand',
      usdTag(tags['mlfleet.price_per_hour'], pricePerHour),
      usdTag(tags['mlfleet.expected_cost_usd']),
      metrics['mlfleet.cost_usd'] === undefined ? '-' : usd(metrics['mlfleet.cost_usd']),
      String(metrics['mlfleet.preemptions'] ?? 0),
    ];
  });
  const header = ['STAGE', 'CLOUD', 'REGION', 'ZONE', 'INSTANCE', 'SPOT', 'PRICE/H', 'EXPECTED', 'COST', 'PREEMPTIONS'];
  // A cached stage's one sentence spans the columns after its name: it sizes that column only.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => i === 0 || r.length === header.length).map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  const failovers = stages.flatMap(({ stage, run }) => {
    const why = run.tags['mlfleet.failovers'];
    return why ? [`  ${stage.name.padEnd(widths[0]!)}  ${why}`] : [];
  });
  const preemptions = launchRun.metrics['mlfleet.preemptions'] ?? 0;
  return [
    line(header),
    ...rows.map(line),
    '',
    'why: each stage took the fitting offer of least expected cost (price × expected hours × (1 + interruption penalty) + egress of its inputs)',
    failovers.length > 0 ? 'failovers (an offer a stage left, and why):' : 'failovers: none',
    ...failovers,
    '',
    `launch total cost ${usd(launchRun.metrics['mlfleet.cost_usd'] ?? 0)}  (${preemptions} preemption${preemptions === 1 ? '' : 's'}; billed seconds × price of every attempt)`,
  ].join('\n');
}
