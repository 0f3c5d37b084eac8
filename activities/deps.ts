import type pg from 'pg';
import type { ComputeProvider } from '../clouds/compute-provider';
import type { ObjectStore } from '../storage/object-store';
import type { CloudDeps } from './vm-compute';

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
