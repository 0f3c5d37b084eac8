import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { withTransaction } from '../../store/pool';
import { LOGGED_MODELS_TAG } from '../../store/run-record';
import { getTagForUpdate, lockRun, setTags } from '../../store/run-writes';
import type { MlflowRouteDeps } from './deps';
import { invalidValue } from './errors';
import { requireActiveRun } from './guards';
import { Int64, MAX_TAG_VAL_LENGTH, OptString, ReqString, RunRef, parse, parseRunRequest, validateValue } from './wire';

// MLflow's model endpoints: MLflow 2's runs/log-model, which mlfleet keeps, and MLflow 3's
// logged-models/search, answered for the clients that ask it.

const LogModelBody = z.object({ ...RunRef, model_json: ReqString });
const SearchLoggedModelsBody = z.object({
  experiment_ids: z.array(z.string()).nullish(),
  filter: OptString,
  datasets: z.array(z.object({ dataset_name: z.string(), dataset_digest: OptString })).nullish(),
  max_results: Int64.nullish(),
  order_by: z.array(z.object({ field_name: z.string() }).loose()).nullish(),
  page_token: OptString,
});

/** Python's json.dumps with its defaults (", " and ": " separators, ensure_ascii), as MLflow writes tags. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`)
    .join(', ')}}`;
}

const MODEL_REQUIRED_FIELDS = ['artifact_path', 'flavors', 'run_id', 'utc_time_created'];

function parseModelJson(modelJson: string): Record<string, unknown> {
  let model: unknown;
  try {
    model = JSON.parse(modelJson);
  } catch {
    model = undefined;
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    throw invalidValue(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
  }
  const missing = MODEL_REQUIRED_FIELDS.filter((field) => !(field in model));
  if (missing.length > 0) {
    throw invalidValue(
      `Model json is missing mandatory fields: {${missing.map((f) => `'${f}'`).join(', ')}}`,
    );
  }
  return model as Record<string, unknown>;
}

/**
 * Registers runs/log-model, which appends the model to the run's `mlflow.log-model.history` tag, and
 * MLflow 3's `logged-models/search`. mlfleet records models the MLflow 2 way and keeps no LoggedModel
 * entities, so a well-formed search finds none. The stock client asks this before listing or
 * downloading a run's nested artifact folder (a folder might be a model's): answering keeps those
 * calls working.
 */
export function registerLoggedModelRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.post('/runs/log-model', async (request) => {
    const { runId, body } = parseRunRequest(LogModelBody, request.body);
    const model = parseModelJson(body.model_json);
    await requireActiveRun(pool, runId);
    await withTransaction(pool, async (tx) => {
      await lockRun(tx, runId);
      const previous = await getTagForUpdate(tx, runId, LOGGED_MODELS_TAG);
      let history: unknown[] = [];
      if (previous !== undefined) {
        try {
          const parsed: unknown = JSON.parse(previous);
          if (Array.isArray(parsed)) history = parsed;
        } catch {
          // A hand-edited tag that is not a JSON list is replaced, as nothing could append to it.
        }
      }
      const entry = pythonJsonDumps(model);
      // The model dict carries its creation time (and uuid), so an equal entry is a replayed request.
      if (history.some((m) => pythonJsonDumps(m) === entry)) return;
      const value = pythonJsonDumps([...history, model]);
      validateValue(value, 'Tag value', MAX_TAG_VAL_LENGTH);
      await setTags(tx, runId, [{ key: LOGGED_MODELS_TAG, value }]);
    });
    return {};
  });

  scope.post('/logged-models/search', (request) => {
    const body = parse(SearchLoggedModelsBody, request.body);
    if (body.page_token) {
      throw invalidValue(`Invalid page token, could not base64-decode or parse: ${JSON.stringify(body.page_token)}`);
    }
    return Promise.resolve({});
  });
}
