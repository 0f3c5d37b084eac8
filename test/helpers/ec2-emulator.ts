import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorControl } from '../../emulators/control-client';
import { startEc2Emulator } from '../../emulators/ec2';
import { startMoto, type Moto } from './moto';

export interface TestEc2 {
  /** The proxy: point EC2 (and S3) clients here. */
  endpoint: string;
  control: EmulatorControl;
  moto: Moto;
  /** Where the emulated VMs boot (`<root>/<instance id>/`). */
  root: string;
  stop(): Promise<void>;
}

/** moto behind the EC2 fault-injection proxy, each on a free port, until stop(). */
export async function startTestEc2(): Promise<TestEc2> {
  const moto = await startMoto();
  const root = mkdtempSync(join(process.env.MLFLEET_TEST_DATA_DIR ?? tmpdir(), 'ec2-vms-'));
  try {
    const emulator = await startEc2Emulator({ motoEndpoint: moto.endpoint, root });
    return {
      endpoint: emulator.endpoint,
      control: new EmulatorControl(emulator.endpoint),
      moto,
      root,
      async stop() {
        await emulator.stop();
        await moto.stop();
      },
    };
  } catch (err) {
    await moto.stop();
    throw err;
  }
}
