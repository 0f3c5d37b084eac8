import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import type { CloudDeps } from '../activities/deps';
import { AwsVmDriver } from '../clouds/aws/aws-driver';
import { AzureDriver } from '../clouds/azure/azure-driver';
import { GcpDriver } from '../clouds/gcp/gcp-driver';
import type { Client } from '@temporalio/client';
import type { CloudsConfig, PriceSourceConfig } from './cloud-config';
import type { PriceSource } from '../clouds/pricing/price-sources';
import type { MlfleetConfig } from './config';
import { ensurePriceRefreshSchedule, ensureReaperSchedule, workflowLivenessOf } from '../client/maintenance-schedules';
import { createStageCredentialIssuer } from '../storage/stage-credentials';

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
  return {
    drivers,
    enabled: config.enabled,
    leaseTtlMs: config.lease_ttl_seconds * 1000,
    priceSources: config.price_sources.map(priceSourceOf),
    ...(config.stage_role_arn ? { stageCredentials: createStageCredentialIssuer({ roleArn: config.stage_role_arn, maxSessionSeconds: config.stage_credentials_max_seconds }) } : {}),
    ...opts,
  };
}

/**
 * What a worker process needs to place stages: the drivers of `config.clouds` and the reaper's
 * schedule, created or updated. Undefined (every stage local) when no clouds are configured.
 */
export async function setUpClouds(config: MlfleetConfig, client: Client, log: (line: string) => void): Promise<CloudDeps | undefined> {
  if (!config.clouds) return undefined;
  await ensureReaperSchedule(client, config.taskQueue, config.clouds.reaper_interval_seconds);
  if (config.clouds.price_sources.length > 0) await ensurePriceRefreshSchedule(client, config.taskQueue, config.clouds.price_refresh_interval_seconds);
  log(`placing stages on ${config.clouds.enabled.join(', ')}; the leaked-VM reaper sweeps every ${config.clouds.reaper_interval_seconds} s`);
  const line = stageCredentialsLine(config.artifactRoot, config.clouds);
  if (line) log(line);
  return createCloudDeps(config.clouds, { agentUrl: `${config.publicUrl}/api/v1/agent.js`, workflowLiveness: workflowLivenessOf(client) });
}

/** What stage VMs get to reach an s3:// artifact root, said once when the worker starts; nothing to say for a file:// root. */
export function stageCredentialsLine(artifactRoot: string, clouds: Pick<CloudsConfig, 'stage_role_arn' | 'stage_credentials_max_seconds'>): string | undefined {
  if (!artifactRoot.startsWith('s3://')) return undefined;
  if (clouds.stage_role_arn) {
    return `stage VMs get temporary credentials of ${clouds.stage_role_arn} narrowed to their own inputs and outputs, valid at most ${clouds.stage_credentials_max_seconds} s`;
  }
  return `no stage_role_arn in the clouds config: stage VMs get no AWS credentials and must reach ${artifactRoot} through their instance profile (GCP and Azure VMs have none)`;
}

/** A configured price source as the refresher takes it: a GCP API key read from its environment variable. */
function priceSourceOf(source: PriceSourceConfig): PriceSource {
  if (source.kind !== 'gcp') return source;
  const { apiKeyEnv, ...rest } = source;
  const apiKey = apiKeyEnv ? process.env[apiKeyEnv] : undefined;
  return { ...rest, ...(apiKey ? { apiKey } : {}) };
}
