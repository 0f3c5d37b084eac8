import { markdownHeading } from '../common/results';
import { consoleTable, markdownTable } from '../common/table';
import type { BenchConfig, SystemName } from './config';
import { median, WORKLOADS, type BenchResults, type SystemResult, type Workload } from './results';

const DISPLAY: Record<SystemName, string> = { mlfleet: 'mlfleet', metaflow: 'Metaflow' };

function label(workload: Workload, config: BenchConfig): string {
  switch (workload) {
    case 'cold':
      return `1. cold launch, ${config.stages} stages`;
    case 'cached':
      return '2. fully cached relaunch';
    case 'from':
      return `3. relaunch from stage ${config.from}`;
  }
}

/** How many stages each workload should execute; anything else is reported as a note. */
export function expectedRuns(workload: Workload, config: BenchConfig): number {
  return workload === 'cold' ? config.stages : workload === 'cached' ? 0 : config.stages - config.from + 1;
}

const fmt = (value: number | undefined): string =>
  value === undefined ? '—' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toFixed(3);

const seconds = (system: SystemResult, workload: Workload): number | undefined => median(system.workloads[workload].samples.map((s) => s.seconds));

/** The stages the samples ran: one number when they agree, `a–b` when not, `?` when the system did not say. */
function ran(system: SystemResult, workload: Workload): string {
  const counts = system.workloads[workload].samples.map((s) => s.ran);
  if (counts.length === 0) return '—';
  if (counts.some((n) => n === undefined)) return '?';
  const known = counts as number[];
  const [lo, hi] = [Math.min(...known), Math.max(...known)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

function ratio(mlfleet: SystemResult | undefined, peer: SystemResult, workload: Workload): string {
  const ours = mlfleet ? seconds(mlfleet, workload) : undefined;
  const theirs = seconds(peer, workload);
  if (ours === undefined || theirs === undefined || ours === 0) return '—';
  const times = theirs / ours;
  return `${times >= 10 ? times.toFixed(0) : times.toFixed(2)}×`;
}

function tableRows(bench: BenchResults): string[][] {
  const measured = bench.systems.filter((s) => !s.skipped);
  const mlfleet = measured.find((s) => s.name === 'mlfleet');
  const peers = measured.filter((s) => s.name !== 'mlfleet');
  const header = [
    'workload',
    ...measured.flatMap((s) => [`${DISPLAY[s.name]} s`, `${DISPLAY[s.name]} s/stage`, `${DISPLAY[s.name]} stages run`]),
    ...(mlfleet ? peers.map((p) => `${DISPLAY[p.name]} ÷ mlfleet`) : []),
  ];
  const rows = WORKLOADS.map((workload) => [
    label(workload, bench.config),
    ...measured.flatMap((s) => {
      const total = seconds(s, workload);
      return [fmt(total), fmt(total === undefined ? undefined : total / bench.config.stages), ran(s, workload)];
    }),
    ...(mlfleet ? peers.map((p) => ratio(mlfleet, p, workload)) : []),
  ]);
  return [header, ...rows];
}

function notes(bench: BenchResults): string[] {
  const lines: string[] = [];
  for (const s of bench.systems) {
    const name = DISPLAY[s.name];
    if (s.skipped) {
      lines.push(`${name}: skipped: ${s.skipped.split('\n').slice(0, 6).join(' ')}`);
      continue;
    }
    for (const workload of WORKLOADS) {
      const result = s.workloads[workload];
      // The same refusal every round is one note, with how often it happened.
      const counts = new Map<string, number>();
      for (const error of result.errors) counts.set(error, (counts.get(error) ?? 0) + 1);
      for (const [error, n] of counts) {
        lines.push(`${name}: ${label(workload, bench.config)} failed${n > 1 ? ` (${n} times)` : ''}: ${error.split('\n').slice(0, 6).join(' ')}`);
      }
      const expected = expectedRuns(workload, bench.config);
      const off = result.samples.filter((sample) => sample.ran !== expected);
      if (off.length > 0) {
        lines.push(`${name}: ${label(workload, bench.config)}: expected ${expected} stages to run, measured ${[...new Set(off.map((sample) => sample.detail))].join('; ')}`);
      }
    }
  }
  return lines;
}

/** The console table: medians, per-stage figures, stages run, and how many times longer Metaflow took. */
export function renderTable(bench: BenchResults): string {
  return consoleTable(tableRows(bench), notes(bench));
}

export function renderMarkdown(bench: BenchResults): string {
  const { config, machine } = bench;
  const measured = bench.systems.filter((s) => !s.skipped);
  const out = [
    ...markdownHeading('orchestration', bench.date),
    ...markdownTable(tableRows(bench)),
    '',
    `Seconds are medians of ${config.repeats} rounds (of ${config.repeats * config.cachedRepeats} samples for the cached relaunch, measured ${config.cachedRepeats} times a round), wall time from the request (mlfleet: \`POST /api/v1/launches\`; Metaflow: starting \`python flow.py\`) to the end seen (mlfleet: the first answer that is not RUNNING, the POST's own or a \`GET /api/v1/launches/:id?wait_seconds=60\` held until the end; Metaflow: the process exit). s/stage is that time ÷ ${config.stages}, the pipeline's stages, in every row. "stages run" is how many stages executed their command, as the system accounts for them. Metaflow ÷ mlfleet above 1× means mlfleet was faster.`,
    '',
    '## What each workload is',
    '',
    '| workload | mlfleet | Metaflow |',
    '|---|---|---|',
    `| ${label('cold', config)} | a launch of a pipeline (and code folder) no earlier round launched | \`python flow.py run\` |`,
    `| ${label('cached', config)} | the same spec and code again: every stage a memo cache hit | \`python flow.py resume --origin-run-id <cold run>\`: no step given and none failed, so every task is cloned and none runs |`,
    `| ${label('from', config)} | \`"from": "s${config.from}", "reuse": "<cold launch>"\`: stages 1-${config.from - 1} taken from the cold launch | \`python flow.py resume --origin-run-id <cold run> ${config.from === config.stages ? 'end' : `s${config.from}`}\` |`,
    '',
    '## Systems',
    '',
    '| system | version | how it ran | start-up s |',
    '|---|---|---|---:|',
    ...bench.systems.map((s) =>
      s.skipped
        ? `| ${DISPLAY[s.name]} | ${s.version ?? '—'} | skipped: ${s.skipped.split('\n')[0] ?? ''} | |`
        : `| ${DISPLAY[s.name]} | ${s.version ?? ''} | ${s.settings ?? ''} | ${s.startSeconds ?? '— (no service)'} |`,
    ),
    '',
    '## Every sample, seconds',
    '',
    '| system | workload | seconds | stages |',
    '|---|---|---|---|',
    ...measured.flatMap((s) =>
      WORKLOADS.map(
        (w) =>
          `| ${DISPLAY[s.name]} | ${label(w, config)} | ${s.workloads[w].samples.map((x) => fmt(x.seconds)).join(', ') || '—'} | ${s.workloads[w].samples[0]?.detail ?? '—'} |`,
      ),
    ),
    '',
    '## Setup',
    '',
    `- machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}${machine.python ? `; Python ${machine.python}` : ''}`,
    `- the systems run one after another, never side by side; each round is a cold launch, then the cached relaunch and the relaunch from stage ${config.from}, both of that cold launch; ${config.warmup} warm-up round(s) first, not counted`,
    `- the pipeline: ${config.stages} stages in a line; stage 1 writes one line to its output file, every later stage copies its input (the previous stage's output) and appends a line, the last checks there are ${config.stages}; Metaflow's flow does the same with an artifact`,
    `- the whole run took ${bench.durationSeconds} s`,
  ];
  const extra = notes(bench);
  if (extra.length > 0) out.push('', '## Failed or unexpected', '', ...extra.map((l) => `- ${l}`));
  return `${out.join('\n')}\n`;
}
