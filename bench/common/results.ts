import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Each run keeps a timestamped JSON of its own; only `<name>-latest.{json,md}` are committed, so a
// run overwrites what docs/benchmarks.md quotes and the history stays local.

const RESULTS_DIR = join(__dirname, '..', 'results');

/** Writes bench/results/<name>-<stamp>.json and <name>-latest.{json,md} of `bench`, and logs where. */
export function writeResults<Results extends { date: string }>(
  name: string,
  bench: Results,
  renderMarkdown: (bench: Results) => string,
  log: (line: string) => void,
): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = bench.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(bench, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, `${name}-${stamp}.json`), json);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), json);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.md`), renderMarkdown(bench));
  log(`results: bench/results/${name}-${stamp}.json, bench/results/${name}-latest.{json,md}`);
}

/** The title and provenance lines that open <name>-latest.md, so a reader can rerun the bench. */
export function markdownHeading(name: string, date: string): string[] {
  const title = `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
  return [`# ${title} benchmark: results of ${date}`, '', `Written by \`npm run bench:${name}\` (bench/${name}/run.ts); see docs/benchmarks.md for the method.`, ''];
}
