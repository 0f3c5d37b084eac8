import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine } from '../common/machine';
import { writeResults } from '../common/results';
import { loadBenchConfig, type BenchConfig, type SystemName } from './config';
import { metaflow } from './metaflow';
import { mlfleet } from './mlfleet';
import { renderMarkdown, renderTable } from './report';
import { emptyWorkloads, errorMessage, type BenchResults, type Sample, type SystemResult, type WorkloadResult } from './results';
import { SkipSystem, type RunningSystem, type SystemDriver } from './systems';

// The orchestration benchmark: a linear pipeline of trivial stages on mlfleet (the embedded stack)
// and on Metaflow's local runtime, each launched cold, relaunched with nothing changed, and
// relaunched from a late stage on the cold launch's upstream results.
// `npm run bench:orchestration` (see docs/benchmarks.md); sizes are overridable for a smoke run.

const DRIVERS: Readonly<Record<SystemName, SystemDriver>> = { mlfleet, metaflow };
const t0 = performance.now();
const log = (line: string): void => console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);

/** What is running now, so Ctrl-C stops the stack's detached PostgreSQL and Temporal too. */
let running: RunningSystem | undefined;
let workRoot: string | undefined;

/** One workload of one round; a failure is recorded for its row and the bench goes on. */
async function measure(name: string, result: WorkloadResult | undefined, fn: () => Promise<Sample>): Promise<Sample | undefined> {
  try {
    const sample = await fn();
    log(`  ${name}: ${sample.seconds.toFixed(2)} s (${sample.detail}) ${sample.id}${result ? '' : ' [warm-up]'}`);
    result?.samples.push(sample);
    return sample;
  } catch (err) {
    log(`  ${name} FAILED${result ? '' : ' [warm-up]'}: ${errorMessage(err).split('\n')[0] ?? ''}`);
    result?.errors.push(errorMessage(err).slice(0, 2000));
    return undefined;
  }
}

async function benchSystem(name: SystemName, config: BenchConfig, root: string): Promise<SystemResult> {
  const result: SystemResult = { name, workloads: emptyWorkloads() };
  const workDir = join(root, name);
  mkdirSync(workDir, { recursive: true });
  log(`${name}: starting …`);
  try {
    running = await DRIVERS[name].start({ config, workDir, log });
  } catch (err) {
    if (!(err instanceof SkipSystem)) throw err;
    result.skipped = err.message;
    log(`${name}: SKIPPED: ${err.message.split('\n')[0] ?? ''}`);
    return result;
  }
  const system = running;
  Object.assign(result, { version: system.version, settings: system.settings, ...(system.startSeconds !== undefined && { startSeconds: system.startSeconds }) });
  log(`${name} ${system.version}: up${system.startSeconds !== undefined ? ` in ${system.startSeconds} s` : ''}`);
  try {
    for (let index = 0; index < config.warmup + config.repeats; index += 1) {
      const measured = index >= config.warmup;
      log(`${name}: round ${index + 1} of ${config.warmup + config.repeats}${measured ? '' : ' (warm-up)'}`);
      const round = system.newRound(index);
      const slot = (w: keyof SystemResult['workloads']): WorkloadResult | undefined => (measured ? result.workloads[w] : undefined);
      const cold = await measure('cold', slot('cold'), () => round.cold());
      if (!cold) {
        // Both relaunches build on the cold launch: without one there is nothing to relaunch.
        for (const w of ['cached', 'from'] as const) slot(w)?.errors.push('no cold launch in this round to relaunch');
        continue;
      }
      for (let i = 0; i < config.cachedRepeats; i += 1) await measure('cached', slot('cached'), () => round.cached(cold));
      await measure(`from stage ${config.from}`, slot('from'), () => round.from(cold));
    }
  } finally {
    running = undefined;
    await system.stop();
    log(`${name}: stopped`);
  }
  return result;
}

function pythonVersion(): string | undefined {
  const probe = spawnSync(process.env.PYTHON ?? 'python3', ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

async function main(): Promise<void> {
  const config = loadBenchConfig(process.argv.slice(2), process.env);
  log(`config: ${JSON.stringify(config)}`);
  workRoot = mkdtempSync(join(tmpdir(), 'mlfleet-bench-orchestration-'));
  const systems: SystemResult[] = [];
  try {
    for (const name of config.systems) systems.push(await benchSystem(name, config, workRoot));
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }

  const python = pythonVersion();
  const bench: BenchResults = {
    date: new Date().toISOString(),
    machine: { ...machine(), ...(python && { python }) },
    config,
    systems,
    durationSeconds: Math.round((performance.now() - t0) / 1000),
  };
  console.log(`\n${renderTable(bench)}`);
  writeResults('orchestration', bench, renderMarkdown, log);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping …`);
    void (running?.stop() ?? Promise.resolve())
      .catch(() => undefined)
      .finally(() => {
        if (workRoot) rmSync(workRoot, { recursive: true, force: true });
        process.exit(130);
      });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
