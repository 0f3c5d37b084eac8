import type { Machine } from '../common/machine';
import { markdownHeading } from '../common/results';
import { consoleTable, markdownTable } from '../common/table';
import type { BenchConfig, ServerName } from './config';
import type { ServerInfo } from './servers';
import type { Latency, Seeding, Throughput } from './workloads';
import { SEARCH_FILTER, SEARCH_ORDER_BY } from './workloads';

export interface ServerResult {
  name: ServerName;
  info?: ServerInfo;
  /** Why the server was not measured. */
  skipped?: string;
  startSeconds?: number;
  logBatch?: Throughput;
  createRun?: Throughput;
  searchSeed?: Seeding;
  search?: Latency & { expected: number };
  historySeed?: Seeding;
  history?: Latency;
  /** Workloads that failed on this server, with the error. */
  errors: Record<string, string>;
}

export interface BenchResults {
  date: string;
  machine: Machine & { postgres: string };
  config: BenchConfig;
  servers: ServerResult[];
  durationSeconds: number;
}

interface Row {
  label: string;
  /** Higher is better (throughput) or lower is better (latency). */
  better: 'higher' | 'lower';
  value: (r: ServerResult) => number | undefined;
}

const ROWS: Row[] = [
  { label: 'a. log_batch (1000 metrics), requests/s', better: 'higher', value: (r) => r.logBatch?.perSecond },
  { label: 'b. create_run + log_params + set_terminated, runs/s', better: 'higher', value: (r) => r.createRun?.perSecond },
  { label: 'c. search_runs p50, ms', better: 'lower', value: (r) => r.search?.p50Ms },
  { label: 'c. search_runs p95, ms', better: 'lower', value: (r) => r.search?.p95Ms },
  { label: 'd. get_metric_history p50, ms', better: 'lower', value: (r) => r.history?.p50Ms },
  { label: 'd. get_metric_history p95, ms', better: 'lower', value: (r) => r.history?.p95Ms },
];

const fmt = (value: number | undefined): string =>
  value === undefined ? '—' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

/** How many times mlfleet is better than `peer` on this row (>1: mlfleet ahead). */
function ratio(row: Row, mlfleet: ServerResult | undefined, peer: ServerResult): string {
  const ours = mlfleet ? row.value(mlfleet) : undefined;
  const theirs = row.value(peer);
  if (ours === undefined || theirs === undefined || ours === 0 || theirs === 0) return '—';
  const times = row.better === 'higher' ? ours / theirs : theirs / ours;
  return `${times >= 10 ? times.toFixed(0) : times.toFixed(1)}×`;
}

function tableRows(bench: BenchResults): string[][] {
  const measured = bench.servers.filter((s) => !s.skipped);
  const mlfleet = measured.find((s) => s.name === 'mlfleet');
  const peers = measured.filter((s) => s.name !== 'mlfleet');
  const header = ['workload', ...measured.map((s) => s.name), ...peers.map((p) => `mlfleet vs ${p.name}`)];
  const rows = ROWS.map((row) => [row.label, ...measured.map((s) => fmt(row.value(s))), ...peers.map((p) => ratio(row, mlfleet, p))]);
  return [header, ...rows];
}

function notes(bench: BenchResults): string[] {
  const lines: string[] = [];
  for (const s of bench.servers) {
    if (s.skipped) lines.push(`${s.name}: skipped: ${s.skipped.split('\n').slice(0, 6).join(' ')}`);
    for (const [workload, error] of Object.entries(s.errors)) lines.push(`${s.name}: ${workload} failed: ${error.split('\n').slice(0, 4).join(' ')}`);
  }
  return lines;
}

/** The console table: absolute figures, then mlfleet's advantage over each peer (× better). */
export function renderTable(bench: BenchResults): string {
  return consoleTable(tableRows(bench), notes(bench));
}

export function renderMarkdown(bench: BenchResults): string {
  const { config, machine } = bench;
  const out = [
    ...markdownHeading('tracking', bench.date),
    ...markdownTable(tableRows(bench)),
    '',
    'Ratios are how many times better mlfleet is (throughput ÷ throughput, or latency ÷ latency), so above 1× mlfleet is ahead.',
    '',
    '## Servers',
    '',
    '| server | version | processes and workers | start-up s | seeding 10 params + 10 metrics runs | seeding metric points |',
    '|---|---|---|---:|---|---|',
    ...bench.servers.map((s) =>
      s.skipped
        ? `| ${s.name} | ${s.info?.version ?? '—'} | skipped: ${s.skipped.split('\n')[0] ?? ''} | | | |`
        : `| ${s.name} | ${s.info?.version ?? ''} | ${s.info?.settings ?? ''} | ${s.startSeconds ?? ''} | ${s.searchSeed ? `${s.searchSeed.items} in ${s.searchSeed.seconds} s` : '—'} | ${s.historySeed ? `${s.historySeed.items} in ${s.historySeed.seconds} s` : '—'} |`,
    ),
    '',
    '## Setup',
    '',
    `- machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}; PostgreSQL ${machine.postgres}`,
    `- every server, the PostgreSQL instance and the client share those ${machine.cores} cores; servers run one after another`,
    `- a: ${config.clients} clients, each logging batches of ${config.batchMetrics} metrics (10 keys × ${Math.ceil(config.batchMetrics / 10)} steps) to its own run, ${config.seconds} s after 2 warm-up requests each`,
    `- b: ${config.clients} clients, each run = runs/create (4 tags) + runs/log-batch (10 params) + runs/update (FINISHED), ${config.seconds} s`,
    `- c: ${config.runs} runs × 10 params + 10 metrics, seeded through each server's API by ${config.clients} clients, then VACUUM ANALYZE; filter \`${SEARCH_FILTER}\`, order_by \`${SEARCH_ORDER_BY.join(', ')}\`, max_results ${config.searchMaxResults}; one client, up to ${config.searchQueries} queries after 2 warm-ups`,
    `- d: one metric key with ${config.historyPoints} points (log_batch of 1000), then VACUUM ANALYZE; metrics/get-history without max_results (following next_page_token if any); one client, up to ${config.historyQueries} reads after 2 warm-ups`,
    `- the whole run took ${bench.durationSeconds} s`,
  ];
  const extra = notes(bench);
  if (extra.length > 0) out.push('', '## Skipped or failed', '', ...extra.map((l) => `- ${l}`));
  return `${out.join('\n')}\n`;
}
