import type pg from 'pg';
import type { ComputeProvider } from '../clouds/compute-provider';
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
}
