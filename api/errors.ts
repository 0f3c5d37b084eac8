import type { FastifyError, FastifyInstance } from 'fastify';
import { MlflowError, toMlflowError } from './mlflow/errors';

/**
 * One error handler and one not-found handler for the whole API. Every error has MLflow's wire
 * shape `{"error_code","message"}` and status codes, /api/v1 included, so clients parse one format.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = fromFastifyError(error);
    if (apiError.httpStatus >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(apiError.httpStatus).send(apiError.toJSON());
  });
  // MLflow 3 clients fall back to older APIs on ENDPOINT_NOT_FOUND, so unknown routes must say so.
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(new MlflowError('ENDPOINT_NOT_FOUND', `No API endpoint found for ${request.method} ${request.url.split('?')[0]}`).toJSON()),
  );
}

function fromFastifyError(error: FastifyError): MlflowError {
  if (error instanceof MlflowError) return error;
  const status = error.statusCode;
  if (status === 415) {
    return new MlflowError('INVALID_PARAMETER_VALUE', "Bad Request. Content-Type must be one of ['application/json'].");
  }
  if (status === 413) return new MlflowError('INVALID_PARAMETER_VALUE', 'The request body is too large.');
  if (status !== undefined && status >= 400 && status < 500) return new MlflowError('BAD_REQUEST', error.message);
  return toMlflowError(error);
}
