import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PIPELINE } from '../../cli/demo';
import { loadPipelineFile } from '../../cli/pipeline-file';
import { freePort } from '../../server/free-port';
import { runMlfleet } from '../helpers/processes';
import { testEnv } from '../helpers/services';

// `npm run demo -- --clouds simulated` as a user runs it: its own embedded stack on free ports,
// the three simulated clouds, one injected preemption, and what it prints about each placement.

const PLACED_ROW = /^ {2}(\w+) +(aws|gcp|azure) +(\S+) +(\S+) +(\S+) +(spot|on-demand) +\$([\d.]+) +\$([\d.e-]+) +\$([\d.e-]+) +(\d+)$/gm;

/** Processes still running from the demo's emulated VMs: each VM boots as `bash <emulators dir>/…/boot.sh`. */
const vmProcessesUnder = (dir: string): string[] =>
  execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((args) => args.includes(dir));

test('the simulated demo places every stage on a cloud, survives one preemption, bills it and leaves no VM', async () => {
  const [port, postgres, temporal, ui] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dataDir = mkdtempSync(join(testEnv().dataDir, 'demo-simulated-'));
  const env = {
    MLFLEET_POSTGRES_PORT: String(postgres),
    MLFLEET_TEMPORAL_PORT: String(temporal),
    MLFLEET_TEMPORAL_UI_PORT: String(ui),
    DATABASE_URL: '',
    TEMPORAL_ADDRESS: '',
  };
  const demo = runMlfleet(['demo', '--clouds', 'simulated', '--port', String(port), '--data-dir', dataDir], env);
  const code = await demo.exited;
  const output = demo.output();
  // The whole output shows in the failure message when the demo did not exit 0.
  expect(`exit ${code}\n${output}`).toMatch(/^exit 0\n/);

  const rows = [...output.matchAll(PLACED_ROW)].map((m) => ({
    stage: m[1]!,
    cloud: m[2]!,
    region: m[3]!,
    spot: m[6] === 'spot',
    cost: Number(m[9]),
    preemptions: Number(m[10]),
  }));
  // Every stage of the pipeline ran on a simulated cloud, and not all on the same one.
  expect(rows.map((r) => r.stage)).toEqual(Object.keys(loadPipelineFile(DEMO_PIPELINE).spec.stages));
  expect(new Set(rows.map((r) => r.cloud)).size).toBeGreaterThanOrEqual(2);

  // Exactly one VM was preempted; its stage counts it, ran elsewhere and names the failover.
  const preempted = [...output.matchAll(/>>> preempted (\w+)'s spot VM \S+ on (aws|gcp|azure)\/([^/\s]+)/g)];
  expect(preempted).toHaveLength(1);
  const [, stage, cloud, region] = preempted[0]!;
  const row = rows.find((r) => r.stage === stage)!;
  expect(row.preemptions).toBe(1);
  // A preemption closes that region's spot market: the stage ran on another one.
  expect(row.spot && `${row.cloud}/${row.region}` === `${cloud}/${region}`).toBe(false);
  expect(output).toMatch(new RegExp(`^ {2}${stage} +${cloud}/${region} \\S+: preempted`, 'm'));
  expect(rows.filter((r) => r.stage !== stage).every((r) => r.preemptions === 0)).toBe(true);

  // The launch's total is the sum of the stages' costs (each printed to three significant digits).
  const [, total, launchPreemptions] = output.match(/^launch total cost \$([\d.e-]+) {2}\((\d+) preemptions?;/m)!;
  expect(Number(total)).toBeGreaterThan(0);
  expect(Math.abs(Number(total) - rows.reduce((sum, r) => sum + r.cost, 0))).toBeLessThanOrEqual(0.01 * Number(total));
  expect(Number(launchPreemptions)).toBe(1);

  expect(output).toMatch(/^VMs left on the simulated clouds: 0$/m);
  expect(vmProcessesUnder(join(dataDir, 'emulators'))).toEqual([]);
}, 150_000);
