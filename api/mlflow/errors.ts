import { ArtifactIsDirectoryError, InvalidArtifactPathError } from '../../storage/artifact-repository';
import { ExperimentNotFoundError } from '../../store/experiments';
import { RunNotFoundError } from '../../store/run-record';
import { ParamConflictError } from '../../store/run-writes';

/** HTTP status per MLflow error code (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS); others are 500. */
const HTTP_STATUS: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  UNAUTHENTICATED: 401,
  CUSTOMER_UNAUTHORIZED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  RESOURCE_CONFLICT: 409,
  ABORTED: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

export const httpStatusFor = (errorCode: string): number => HTTP_STATUS[errorCode] ?? 500;

/** The body MLflow clients parse: exactly `{"error_code", "message"}`. */
export interface MlflowErrorBody {
  error_code: string;
  message: string;
}

/** An error the MLflow facade answers with MLflow's body and status code. */
export class MlflowError extends Error {
  override readonly name = 'MlflowError';
  constructor(
    readonly errorCode: string,
    message: string,
    readonly httpStatus: number = httpStatusFor(errorCode),
  ) {
    super(message);
  }

  toJSON(): MlflowErrorBody {
    return { error_code: this.errorCode, message: this.message };
  }
}

const API_DOCS_HINT = 'See the API docs for more information about request parameters.';

/** MLflow's schema message for a required field that is absent or empty (asserted by its tests). */
export const missingParameter = (path: string): MlflowError =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Missing value for required parameter '${path}'. ${API_DOCS_HINT}`);

// Python's names, because the hint in MLflow's message names the Python type of the JSON value.
function pythonTypeName(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  switch (typeof value) {
    case 'string':
      return 'str';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    default:
      return 'dict';
  }
}

/** MLflow's schema message for a field of the wrong type or form. */
export const invalidParameter = (path: string, value: unknown): MlflowError =>
  new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid value ${JSON.stringify(value)} for parameter '${path}' supplied. ` +
      `Hint: Value was of type '${pythonTypeName(value)}'. ${API_DOCS_HINT}`,
  );

/** A request MLflow refuses for one of its own rules, with MLflow's message for that rule. */
export const invalidValue = (message: string): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', message);

export const experimentNotFound = (experimentId: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`);

export const experimentNameNotFound = (name: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);

export const runNotFound = (runId: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);

/**
 * Maps store and storage errors onto MLflow's codes. Anything unknown is an INTERNAL_ERROR whose message says
 * nothing more: database errors can name tables, values or connection details.
 */
export function toMlflowError(err: unknown): MlflowError {
  if (err instanceof MlflowError) return err;
  if (err instanceof RunNotFoundError) return runNotFound(err.runId);
  if (err instanceof ExperimentNotFoundError) return new MlflowError('RESOURCE_DOES_NOT_EXIST', err.message);
  if (err instanceof ParamConflictError) return new MlflowError('INVALID_PARAMETER_VALUE', err.message);
  if (err instanceof InvalidArtifactPathError || err instanceof ArtifactIsDirectoryError) return new MlflowError('INVALID_PARAMETER_VALUE', err.message);
  return new MlflowError('INTERNAL_ERROR', 'Internal server error; see the server log.');
}
