import type { FastifyInstance } from 'fastify';
import { MlflowError } from './errors';

/** MLflow accepts an empty body as `{}` and a JSON string holding the JSON (double-encoded). */
function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') return {};
  const parsed: unknown = JSON.parse(raw);
  return typeof parsed === 'string' ? (JSON.parse(parsed) as unknown) : parsed;
}

/** Replaces the scope's JSON body parser with MLflow's, answering a malformed body with MLflow's BAD_REQUEST. */
export function useMlflowJsonBodies(scope: FastifyInstance): void {
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, raw, done) => {
    try {
      done(null, parseJsonBody(raw as string));
    } catch {
      done(new MlflowError('BAD_REQUEST', 'The request body is not valid JSON.'));
    }
  });
}
