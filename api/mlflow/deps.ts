import type pg from 'pg';
import type { ArtifactRepository } from '../../storage/artifact-repository';

/** What the MLflow endpoint modules need, apart from routes.ts so that they never import the module registering them. */
export interface MlflowRouteDeps {
  pool: pg.Pool;
  /** Gives the Default experiment a real artifact location the first time a run needs one. */
  artifactRoot?: string;
  /** The artifact tree under a run's artifact URI (file:// or s3://), for `artifacts/list`. */
  artifactsAt: (rootUri: string) => ArtifactRepository;
}
