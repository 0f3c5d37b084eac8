import type { StageAttemptList } from '../domain/launch';

/**
 * The placement attempts of a launch as a table: where each stage went, how each attempt ended
 * (PREEMPTED and FAILED ones are the failovers) and what it cost; empty when every stage ran locally.
 */
export function renderAttempts(list: StageAttemptList): string {
  const placed = list.attempts.filter((a) => a.cloud !== undefined);
  if (placed.length === 0) return '';
  const header = ['STAGE', 'ATTEMPT', 'CLOUD', 'REGION', 'ZONE', 'INSTANCE', 'SPOT', '$/H', 'STATUS', 'COST $', 'WHY'];
  const rows = placed.map((a) => [
    a.stage,
    String(a.attempt),
    a.cloud ?? '-',
    a.region ?? '-',
    a.zone ?? '-',
    a.instance_type ?? '-',
    a.spot === undefined ? '-' : a.spot ? 'yes' : 'no',
    a.price_per_hour === undefined ? '-' : a.price_per_hour.toFixed(4),
    a.status,
    a.cost_usd === undefined ? '-' : a.cost_usd.toFixed(6),
    a.error ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  const total = placed.reduce((sum, a) => sum + (a.cost_usd ?? 0), 0);
  return [line(header), ...rows.map(line), `  total cost $${total.toFixed(6)} over ${placed.length} attempts`].join('\n');
}
