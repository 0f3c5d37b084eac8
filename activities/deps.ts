import type pg from 'pg';
import type { ComputeProvider } from '../clouds/compute-provider';
import type { PriceSource } from '../clouds/pricing/price-sources';
import type { VmCloud, VmDriver } from '../clouds/vm-driver';
import type { Cloud } from '../domain/pipeline-spec';
import type { StageCredentialIssuer } from '../storage/stage-credentials';
import type { ObjectStore } from '../storage/object-store';

/** Everything activities touch, injected by the worker so tests can pass their own. */
export interface ActivityDeps {
  pool: pg.Pool;
  store: ObjectStore;
  /** Root URI of experiments' artifacts and code bundles, e.g. `file:///…/.mlfleet/artifacts`. */
  artifactRoot: string;
  /** What stages get as MLFLOW_TRACKING_URI: this mlfleet's API. */
  trackingUri: string;
  provider: ComputeProvider;
  /** Cloud drivers and placement settings; without them every stage runs on `provider`. */
  clouds?: CloudDeps;
  /** The AWS region s3:// data lives in, for egress pricing (AWS_REGION). */
  dataRegion?: string;
}

/** What a worker needs to place stages on clouds; absent, every stage runs on the local provider. */
export interface CloudDeps {
  drivers: Partial<Record<VmCloud, VmDriver>>;
  /** The clouds stages may go to: `local` and/or clouds with a driver. */
  enabled: Cloud[];
  /** Where a VM's boot script downloads the agent (`GET /api/v1/agent.js` of this mlfleet). */
  agentUrl: string;
  /** How long a lease holds without a heartbeat before the reaper may take its VM. */
  leaseTtlMs: number;
  /** Live price sources the scheduled refresh reads into the offer catalog. */
  priceSources: PriceSource[];
  /** Whether a lease's owner (a stage workflow) still runs; `unknown` when Temporal does not know it. */
  workflowLiveness: (workflowId: string) => Promise<'running' | 'closed' | 'unknown'>;
  /**
   * Mints each VM's credentials, scoped to its stage (`stage_role_arn`); absent, VMs get no AWS
   * credentials and reach S3, if at all, through their instance profile.
   */
  stageCredentials?: StageCredentialIssuer;
}
