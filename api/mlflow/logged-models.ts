import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MlflowError } from './errors';
import { Int64, OptString, parse } from './wire';

const SearchLoggedModelsBody = z.object({
  experiment_ids: z.array(z.string()).nullish(),
  filter: OptString,
  datasets: z.array(z.object({ dataset_name: z.string(), dataset_digest: OptString })).nullish(),
  max_results: Int64.nullish(),
  order_by: z.array(z.object({ field_name: z.string() }).loose()).nullish(),
  page_token: OptString,
});

/**
 * MLflow 3's `logged-models/search`. mlfleet records models the MLflow 2 way (`runs/log-model`, the
 * `mlflow.log-model.history` tag) and keeps no LoggedModel entities, so a well-formed search finds
 * none. The stock client asks this before listing or downloading a run's nested artifact folder
 * (a folder might be a model's): answering keeps those calls working.
 */
export function registerLoggedModelRoutes(scope: FastifyInstance): void {
  scope.post('/logged-models/search', (request) => {
    const body = parse(SearchLoggedModelsBody, request.body);
    if (body.page_token) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid page token, could not base64-decode or parse: ${JSON.stringify(body.page_token)}`);
    }
    return Promise.resolve({});
  });
}
