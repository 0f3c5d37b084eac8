import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import type { CloudDeps } from '../activities/vm-compute';
import { AwsVmDriver } from '../clouds/aws/aws-driver';
import { AzureDriver } from '../clouds/azure/azure-driver';
import { GcpDriver } from '../clouds/gcp/gcp-driver';
import type { Client } from '@temporalio/client';
import type { CloudsConfig } from './cloud-config';
import type { MlfleetConfig } from './config';
import { ensureReaperSchedule, workflowLivenessOf } from './reaper-schedule';

// What the Azure fake accepts: any bearer token.
const EMULATOR_TOKEN: TokenCredential = { getToken: () => Promise.resolve({ token: 'emulator', expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** Drivers for the enabled clouds, wired into what the placement and reaper activities need. */
export function createCloudDeps(config: CloudsConfig, opts: Pick<CloudDeps, 'agentUrl' | 'workflowLiveness'>): CloudDeps {
  const drivers: CloudDeps['drivers'] = {};
  const { aws, gcp, azure } = config;
  if (config.enabled.includes('aws') && aws) {
    drivers.aws = new AwsVmDriver({ imageIds: aws.image_ids, ...(aws.endpoint ? { endpoint: aws.endpoint } : {}), ...(aws.credentials ? { credentials: aws.credentials } : {}) });
  }
  if (config.enabled.includes('gcp') && gcp) {
    drivers.gcp = new GcpDriver({
      project: gcp.project,
      ...(gcp.emulator_endpoint ? { emulatorEndpoint: gcp.emulator_endpoint } : {}),
      ...(gcp.boot_image ? { bootDisk: { sourceImage: gcp.boot_image, sizeGb: 50 } } : {}),
    });
  }
  if (config.enabled.includes('azure') && azure) {
    const { ca_file: caFile, emulator, ...rest } = azure;
    const config = { ...rest, ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}) };
    drivers.azure = emulator ? new AzureDriver(config, EMULATOR_TOKEN) : new AzureDriver(config);
  }
  return { drivers, enabled: config.enabled, leaseTtlMs: config.lease_ttl_seconds * 1000, ...opts };
}

/**
 * What a worker process needs to place stages: the drivers of `config.clouds` and the reaper's
 * schedule, created or updated. Undefined (every stage local) when no clouds are configured.
 */
export async function setUpClouds(config: MlfleetConfig, client: Client, log: (line: string) => void): Promise<CloudDeps | undefined> {
  if (!config.clouds) return undefined;
  await ensureReaperSchedule(client, config.taskQueue, config.clouds.reaper_interval_seconds);
  log(`placing stages on ${config.clouds.enabled.join(', ')}; the leaked-VM reaper sweeps every ${config.clouds.reaper_interval_seconds} s`);
  return createCloudDeps(config.clouds, { agentUrl: `${config.publicUrl}/api/v1/agent.js`, workflowLiveness: workflowLivenessOf(client) });
}
