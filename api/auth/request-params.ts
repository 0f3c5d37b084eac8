import type { FastifyRequest } from 'fastify';

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * MLflow's `_get_request_param` for its auth endpoints: GET reads the query string, POST and PATCH
 * the JSON body, DELETE its JSON body (the MLflow client sends one) or else the query string.
 */
export function paramsOf(request: FastifyRequest): Record<string, unknown> {
  const query = isObject(request.query) ? request.query : {};
  if (request.method === 'GET') return query;
  if (request.method === 'DELETE') return isObject(request.body) ? request.body : query;
  return isObject(request.body) ? request.body : {};
}
