import { join, resolve } from 'node:path';
import { CONTROL_PREFIX } from '../emulators/control';
import { startEmulators, type Emulators } from '../emulators/start';
import { untilSignal } from '../server/until-signal';
import { dataDirOf } from './up';

/** Where the simulated clouds keep their VMs' folders and their clouds config, under a data folder. */
export const emulatorsDirOf = (dataDir: string): string => join(dataDir, 'emulators');

/** The endpoints and control APIs of running emulators, with commands to drive them by hand. */
export function describeEmulators(emulators: Emulators): string[] {
  const { endpoints } = emulators;
  const caFile = emulators.config.azure?.ca_file;
  // The Azure fake speaks HTTPS with its own certificate, as the Azure SDK requires: curl needs its CA.
  const azureCurl = caFile ? `curl --cacert ${caFile}` : 'curl';
  return [
    'simulated clouds',
    `  AWS EC2      ${endpoints.aws}   (fault proxy in front of moto, EC2 + S3 at ${endpoints.moto})`,
    `  GCP Compute  ${endpoints.gcp}`,
    `  Azure ARM    ${endpoints.azure}   (self-signed; CA in ${caFile ?? '-'})`,
    `control APIs (inject capacity/quota errors, preempt VMs, list live VMs), each under ${CONTROL_PREFIX}:`,
    `  curl -X POST ${endpoints.gcp}${CONTROL_PREFIX}/faults -d '{"kind":"capacity","region":"us-central1"}'`,
    `  curl -X POST ${endpoints.aws}${CONTROL_PREFIX}/faults -d '{"kind":"quota","instance_type":"g4dn.xlarge"}'`,
    `  ${azureCurl} -X POST ${endpoints.azure}${CONTROL_PREFIX}/preempt -d '{"name":"<VM name>"}'`,
    `  curl '${endpoints.aws}${CONTROL_PREFIX}/vms?live=1'`,
  ];
}

/**
 * `mlfleet emulators`: the three simulated clouds in the foreground until Ctrl-C, with the clouds
 * config that points `mlfleet up` / `mlfleet worker` at them. Stopping kills every VM they booted.
 */
export async function emulatorsCommand(opts: { dir?: string }): Promise<void> {
  const dir = resolve(opts.dir ?? emulatorsDirOf(dataDirOf({})));
  console.log(`starting the simulated clouds (state in ${dir}) …`);
  const emulators = await startEmulators(dir);
  let live: number;
  try {
    for (const line of describeEmulators(emulators)) console.log(line);
    console.log('place stages on them (in the shell that runs `mlfleet up` or `mlfleet worker`):');
    console.log(`  export MLFLEET_CLOUDS_CONFIG=${emulators.configFile}`);
    console.log('Press Ctrl-C to stop.');
    await untilSignal();
    console.log('\n[emulators] stopping …');
    live = (await emulators.liveVms()).length;
  } finally {
    await emulators.stop();
  }
  console.log(`[emulators] stopped${live > 0 ? `, terminating the ${live} VM(s) still live` : ''}.`);
}
