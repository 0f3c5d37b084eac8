import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VM_CLOUDS, type VmCloud } from '../domain/clouds';
import type { CloudsConfig } from '../server/cloud-config';
import { startAzureEmulator } from './azure-arm';
import { EmulatorControl } from './control-client';
import { EC2_EMULATOR_AMI, startEc2Emulator } from './ec2';
import { startGcpEmulator } from './gcp-compute';
import { startMotoServer } from './moto';
import type { EmulatedVm } from './vm-host';

export interface Emulators {
  /** What `MLFLEET_CLOUDS_CONFIG` should hold to place stages on these endpoints. */
  config: CloudsConfig;
  /** The file `config` was written to. */
  configFile: string;
  /** Each cloud's control API: faults, preemptions, live VMs. */
  controls: Record<VmCloud, EmulatorControl>;
  endpoints: { moto: string; aws: string; gcp: string; azure: string };
  /** Every live VM on every emulated cloud. */
  liveVms(): Promise<Omit<EmulatedVm, 'pid'>[]>;
  stop(): Promise<void>;
}

// moto accepts any keys; they only name its account.
const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const AZURE_SUBSCRIPTION = '00000000-0000-4000-8000-00000000feed';
const AWS_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-northeast-1', 'ap-southeast-1'];

/**
 * The three simulated clouds of `mlfleet emulators` and the tests: moto (EC2 + S3) behind the
 * fault-injection proxy, and the local fakes of GCP Compute and Azure ARM. Their VMs boot as local
 * processes under `root`, so a stage placed on them really runs.
 */
export async function startEmulators(root: string, opts: { enabled?: CloudsConfig['enabled']; leaseTtlSeconds?: number; reaperIntervalSeconds?: number } = {}): Promise<Emulators> {
  mkdirSync(root, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    const moto = await startMotoServer();
    stops.push(() => moto.stop());
    const ec2 = await startEc2Emulator({ motoEndpoint: moto.endpoint, root: join(root, 'aws') });
    stops.push(() => ec2.stop());
    const gcp = await startGcpEmulator({ root: join(root, 'gcp') });
    stops.push(() => gcp.stop());
    const azure = await startAzureEmulator({ root: join(root, 'azure') });
    stops.push(() => azure.stop());
    const caFile = join(root, 'azure-ca.pem');
    writeFileSync(caFile, azure.ca);
    const config: CloudsConfig = {
      enabled: opts.enabled ?? [...VM_CLOUDS],
      lease_ttl_seconds: opts.leaseTtlSeconds ?? 600,
      reaper_interval_seconds: opts.reaperIntervalSeconds ?? 300,
      // The emulators price nothing real (moto's spot prices fail the catalog's sanity checks): the bundled catalog holds.
      price_sources: [],
      price_refresh_interval_seconds: 21_600,
      // No stage_role_arn: with a file:// artifact root the VMs (local processes) need no AWS credentials.
      stage_credentials_max_seconds: 43_200,
      aws: { endpoint: ec2.endpoint, credentials: MOTO_CREDENTIALS, image_ids: Object.fromEntries(AWS_REGIONS.map((region) => [region, EC2_EMULATOR_AMI])) },
      gcp: { project: 'mlfleet-emulated', emulator_endpoint: gcp.endpoint },
      azure: {
        subscriptionId: AZURE_SUBSCRIPTION,
        resourceGroup: 'mlfleet',
        subnetId: `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/mlfleet/providers/Microsoft.Network/virtualNetworks/mlfleet/subnets/default`,
        image: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
        adminUsername: 'mlfleet',
        sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatedCloudNobodyLogsIn mlfleet',
        endpoint: azure.endpoint,
        ca_file: caFile,
        emulator: true,
        pollIntervalMs: 50,
      },
    };
    const configFile = join(root, 'clouds.json');
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const controls = {
      aws: new EmulatorControl(ec2.endpoint),
      gcp: new EmulatorControl(gcp.endpoint),
      azure: new EmulatorControl(azure.endpoint, { ca: azure.ca }),
    };
    return {
      config,
      configFile,
      controls,
      endpoints: { moto: moto.endpoint, aws: ec2.endpoint, gcp: gcp.endpoint, azure: azure.endpoint },
      async liveVms() {
        return (await Promise.all(Object.values(controls).map((control) => control.liveVms()))).flat();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
