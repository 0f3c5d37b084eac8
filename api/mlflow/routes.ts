import type { FastifyInstance } from 'fastify';
import { readableModels } from './access-rules';
import { registerArtifactRoutes } from './artifacts';
import { registerDatasetRoutes } from './datasets';
import type { MlflowRouteDeps } from './deps';
import { registerExperimentSearchRoutes } from './experiment-search';
import { registerExperimentRoutes } from './experiments';
import { useMlflowJsonBodies } from './json-body';
import { registerLoggedModelRoutes } from './logged-models';
import { registerMetricRoutes } from './metrics';
import { registerModelVersionRoutes } from './model-versions';
import { registerParamTagRoutes } from './params-tags';
import { registerRegisteredModelRoutes } from './registered-models';
import { registerRunSearchRoutes } from './run-search';
import { registerRunRoutes } from './runs';

// Each endpoint lives in the module of its MLflow area, whatever its URL prefix: runs/log-metric
// with the metrics, runs/log-model with the logged models. This module only registers the areas.

/** Where MLflow clients (/api) and the MLflow UI (/ajax-api) reach the same handlers. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

const AREAS: ReadonlyArray<(scope: FastifyInstance, deps: MlflowRouteDeps) => void> = [
  registerExperimentRoutes,
  registerExperimentSearchRoutes,
  registerRunRoutes,
  registerRunSearchRoutes,
  registerMetricRoutes,
  registerParamTagRoutes,
  registerDatasetRoutes,
  registerLoggedModelRoutes,
  registerArtifactRoutes,
  (scope, deps) => registerRegisteredModelRoutes(scope, deps, { readableModels }),
  (scope, deps) => registerModelVersionRoutes(scope, deps, { readableModels }),
];

/** Registers the MLflow REST 2.0 routes (and MLflow's error bodies) under both MLflow prefixes. */
export function registerMlflowRoutes(app: FastifyInstance, deps: MlflowRouteDeps): void {
  for (const prefix of MLFLOW_PREFIXES) {
    void app.register(
      (scope, _opts, done) => {
        useMlflowJsonBodies(scope);
        for (const register of AREAS) register(scope, deps);
        done();
      },
      { prefix },
    );
  }
}
