import type { FastifyError, FastifyInstance } from 'fastify';

/**
 * An error with MLflow's wire shape `{"error_code","message"}`; /api/v1 answers in the same shape,
 * so clients parse one error format.
 */
export class ApiError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }

  static invalid(message: string): ApiError {
    return new ApiError('INVALID_PARAMETER_VALUE', message, 400);
  }

  static notFound(message: string): ApiError {
    return new ApiError('RESOURCE_DOES_NOT_EXIST', message, 404);
  }
}

/** The one error handler and not-found handler of the app. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    if (err instanceof ApiError || (err as { errorCode?: unknown }).errorCode !== undefined && (err as { httpStatus?: unknown }).httpStatus !== undefined) {
      const apiErr = err as ApiError;
      return reply.status(apiErr.httpStatus).send({ error_code: apiErr.errorCode, message: apiErr.message });
    }
    if (err.validation || err.statusCode === 400 || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.status(400).send({ error_code: 'MALFORMED_REQUEST', message: err.message });
    }
    if (err.statusCode === 413) return reply.status(413).send({ error_code: 'INVALID_PARAMETER_VALUE', message: err.message });
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error_code: 'INTERNAL_ERROR', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error_code: 'ENDPOINT_NOT_FOUND', message: `no endpoint ${request.method} ${request.url.split('?')[0]}` }),
  );
}
