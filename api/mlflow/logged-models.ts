import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isExperimentId } from '../../domain/auth';
import { getOrCreateExperiment } from '../../store/experiments';
import {
  createLoggedModel,
  deleteLoggedModel,
  deleteLoggedModelTag,
  DuplicateModelKeyError,
  DuplicateModelOutputError,
  finalizeLoggedModel,
  getLoggedModel,
  type LoggedModel,
  logLoggedModelParams,
  logRunModelOutputs,
  setLoggedModelTags,
} from '../../store/logged-models';
import { searchLoggedModels } from '../../store/logged-models-search';
import { readableAmong } from '../../store/permissions';
import { withTransaction } from '../../store/pool';
import { LOGGED_MODELS_TAG } from '../../store/run-record';
import { getTagForUpdate, lockRun, setTags } from '../../store/run-writes';
import { isProxiedArtifactUri, resolveProxiedArtifactUri, safeRelativePath, sendArtifactFile } from './artifacts-proxy';
import type { MlflowRouteDeps } from './deps';
import { MlflowError, invalidValue } from './errors';
import { requireActiveExperiment, requireActiveRun } from './guards';
import { parseDatasets, parseLoggedModelFilter, parseLoggedModelOrderBy, pyRepr } from './logged-models-filter';
import { decodeSearchToken, encodeSearchToken, type SearchTokenRequest } from './logged-models-token';
import { encodeLoggedModel, pythonJsonDumps, statusOf, validateLoggedModelName } from './logged-models-wire';
import { generateRunName } from './run-names';
import { Int64, MAX_TAG_VAL_LENGTH, OptString, ReqString, RunRef, parse, parseRunRequest, validateValue } from './wire';

// MLflow's model endpoints: MLflow 2's runs/log-model, which mlfleet keeps, and MLflow 3's logged
// models (create, get, finalize, delete, tags, params, search, artifacts) with runs/outputs.

export { pythonJsonDumps } from './logged-models-wire';

export const SEARCH_LOGGED_MODELS_MAX_RESULTS_DEFAULT = 50;

const LogModelBody = z.object({ ...RunRef, model_json: ReqString });
const KeyValueEntry = z.object({ key: OptString, value: OptString });
const CreateLoggedModelBody = z.object({
  experiment_id: ReqString,
  name: OptString,
  model_type: OptString,
  source_run_id: OptString,
  params: z.array(KeyValueEntry).nullish(),
  tags: z.array(KeyValueEntry).nullish(),
});
const StatusField = z.union([z.string(), z.number().int()]);
const FinalizeBody = z.object({ model_id: ReqString, status: StatusField });
const SetTagsBody = z.object({ tags: z.array(KeyValueEntry).nullish() });
const LogParamsBody = z.object({ model_id: ReqString, params: z.array(KeyValueEntry).nullish() });
const SearchLoggedModelsBody = z.object({
  experiment_ids: z.array(z.string()),
  filter: OptString,
  datasets: z.array(z.object({ dataset_name: OptString, dataset_digest: OptString })).nullish(),
  max_results: Int64.nullish(),
  order_by: z
    .array(z.object({ field_name: OptString, ascending: z.boolean().nullish(), dataset_name: OptString, dataset_digest: OptString }))
    .nullish(),
  page_token: OptString,
});
const LogOutputsBody = z.object({ ...RunRef, models: z.array(z.object({ model_id: OptString, step: Int64.nullish() })) });
const GetQuery = z.object({ allow_deleted: OptString });
const ListArtifactsQuery = z.object({ artifact_directory_path: OptString });
const ModelIdParams = z.object({ model_id: z.string() });
const TagParams = z.object({ model_id: z.string(), tag_key: z.string() });

export const loggedModelNotFound = (modelId: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${modelId}' not found.`);

const invalidExperimentId = (id: string): MlflowError => invalidValue(`Invalid experiment ID '${id}'. Experiment ID must be a valid integer.`);

/** A row written twice: MLflow's store answers its database's integrity error as BAD_REQUEST. */
const duplicateKey = (message: string): MlflowError => new MlflowError('BAD_REQUEST', message);

const keyValues = (entries: ReadonlyArray<z.output<typeof KeyValueEntry>> | null | undefined) =>
  (entries ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' }));

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
 * Registers runs/log-model (MLflow 2's model history tag) and MLflow 3's logged models: a model is
 * created PENDING in an experiment, linked to its run (runs/outputs), gets its files through the
 * artifact proxy under `<experiment artifact_location>/models/<id>/artifacts`, and is finalized
 * READY or UPLOAD_FAILED.
 */
export function registerLoggedModelRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  /** The model, which must exist (and, unless `allowDeleted`, not be deleted). */
  const requireModel = async (modelId: string, allowDeleted = false): Promise<LoggedModel> => {
    const model = await getLoggedModel(pool, modelId);
    if (!model || (model.deleted && !allowDeleted)) throw loggedModelNotFound(modelId);
    return model;
  };

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

  scope.post('/logged-models', async (request) => {
    const body = parse(CreateLoggedModelBody, request.body);
    // An empty name counts as none (MLflow's `name or None`): a generated one.
    if (body.name) validateLoggedModelName(body.name);
    if (!isExperimentId(body.experiment_id)) throw invalidExperimentId(body.experiment_id);
    let experiment = await requireActiveExperiment(pool, body.experiment_id);
    if (experiment.artifact_location === undefined && deps.artifactRoot !== undefined) {
      experiment = await getOrCreateExperiment(pool, experiment.name, deps.artifactRoot);
    }
    // MLflow's proxied-artifacts default when no location is known, as for runs.
    const location = (experiment.artifact_location ?? `mlflow-artifacts:/${experiment.experiment_id}`).replace(/\/+$/, '');
    const modelId = `m-${randomUUID().replace(/-/g, '')}`;
    try {
      const model = await createLoggedModel(pool, {
        modelId,
        experimentId: experiment.experiment_id,
        name: body.name || generateRunName(),
        artifactLocation: `${location}/models/${modelId}/artifacts`,
        ...(body.model_type && { modelType: body.model_type }),
        ...(body.source_run_id && { sourceRunId: body.source_run_id }),
        params: keyValues(body.params),
        tags: keyValues(body.tags),
        now: Date.now(),
      });
      return { model: encodeLoggedModel(model) };
    } catch (err) {
      if (err instanceof DuplicateModelKeyError) throw duplicateKey('A logged model cannot have two params or two tags with the same key.');
      throw err;
    }
  });

  scope.get('/logged-models/:model_id', async (request) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    const query = parse(GetQuery, request.query);
    const model = await requireModel(modelId, (query.allow_deleted ?? 'false').toLowerCase() === 'true');
    return { model: encodeLoggedModel(model) };
  });

  scope.delete('/logged-models/:model_id', async (request) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    if (!(await deleteLoggedModel(pool, modelId, Date.now()))) throw loggedModelNotFound(modelId);
    return {};
  });

  // MLflow finalizes the model the body names (the path's is ignored); access control checks that one too.
  scope.patch('/logged-models/:model_id', async (request) => {
    parse(ModelIdParams, request.params);
    const body = parse(FinalizeBody, request.body);
    const model = await finalizeLoggedModel(pool, body.model_id, statusOf(body.status), Date.now());
    if (!model) throw loggedModelNotFound(body.model_id);
    return { model: encodeLoggedModel(model) };
  });

  scope.patch('/logged-models/:model_id/tags', async (request) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    const body = parse(SetTagsBody, request.body);
    if (!(await setLoggedModelTags(pool, modelId, keyValues(body.tags)))) throw loggedModelNotFound(modelId);
    return {};
  });

  scope.delete('/logged-models/:model_id/tags/:tag_key', async (request) => {
    const { model_id: modelId, tag_key: key } = parse(TagParams, request.params);
    const outcome = await deleteLoggedModelTag(pool, modelId, key);
    if (outcome === 'no-model') throw loggedModelNotFound(modelId);
    if (outcome === 'no-tag') {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with key ${pyRepr(key)} found for model with ID ${pyRepr(modelId)}.`);
    }
    return {};
  });

  scope.post('/logged-models/:model_id/params', async (request) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    const body = parse(LogParamsBody, request.body);
    try {
      if (!(await logLoggedModelParams(pool, modelId, keyValues(body.params)))) throw loggedModelNotFound(modelId);
    } catch (err) {
      if (err instanceof DuplicateModelKeyError) throw duplicateKey('A logged model param is written once: it cannot be logged again with the same key.');
      throw err;
    }
    return {};
  });

  scope.post('/logged-models/search', async (request) => {
    const body = parse(SearchLoggedModelsBody, request.body);
    const datasets = parseDatasets(body.datasets ?? []);
    const tokenRequest: SearchTokenRequest = {
      experimentIds: body.experiment_ids,
      filter: body.filter || null,
      orderBy: body.order_by?.length
        ? body.order_by.map((o) => ({
            field_name: o.field_name ?? '',
            ascending: o.ascending ?? true,
            dataset_name: o.dataset_name || null,
            dataset_digest: o.dataset_digest || null,
          }))
        : null,
    };
    const offset = body.page_token ? decodeSearchToken(body.page_token, tokenRequest) : 0;
    const comparisons = parseLoggedModelFilter(body.filter);
    const orderBy = parseLoggedModelOrderBy(body.order_by ?? []);
    for (const id of body.experiment_ids) {
      if (!/^\s*[-+]?\d+\s*$/.test(id)) throw invalidExperimentId(id);
    }
    // A negative max_results reads nothing yet answers a page token, as MLflow's store does.
    const maxResults = body.max_results || SEARCH_LOGGED_MODELS_MAX_RESULTS_DEFAULT;
    const requested = body.experiment_ids.map((id) => String(Number.parseInt(id.trim(), 10)));
    // Models of experiments the caller may not read are left out, as runs/search leaves out runs.
    const experimentIds = request.viewer ? await readableAmong(pool, request.viewer, requested) : requested;
    const page = await searchLoggedModels(pool, { experimentIds, comparisons, datasets, orderBy, offset, maxResults });
    return {
      ...(page.models.length > 0 && { models: page.models.map(encodeLoggedModel) }),
      ...(page.more && { next_page_token: encodeSearchToken(tokenRequest, offset + maxResults) }),
    };
  });

  scope.get('/logged-models/:model_id/artifacts/directories', async (request) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    const query = parse(ListArtifactsQuery, request.query);
    const path = query.artifact_directory_path !== undefined ? safeRelativePath(query.artifact_directory_path) : undefined;
    const model = await requireModel(modelId);
    const files = await listModelArtifacts(model, path);
    return { root_uri: model.artifactUri, ...(files.length > 0 && { files }) };
  });

  scope.get('/logged-models/:model_id/artifacts/files', async (request, reply) => {
    const { model_id: modelId } = parse(ModelIdParams, request.params);
    const raw = (request.query as Record<string, unknown>).artifact_file_path;
    if (typeof raw !== 'string' || raw === '') {
      throw new MlflowError('BAD_REQUEST', 'Request must include the "artifact_file_path" query parameter.');
    }
    const path = safeRelativePath(raw);
    const model = await requireModel(modelId);
    const found = await deps.artifactsAt(storageUriOf(model)).read(path);
    // MLflow names the file by its path in the artifact store behind the model's URI.
    const shown = isProxiedArtifactUri(model.artifactUri) ? `${model.artifactUri.replace(/^mlflow-artifacts:\/*/i, '')}/${path}` : path;
    if (!found) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No such artifact: '${shown}'`);
    if (found.isDir) throw invalidValue(`Artifact path refers to a directory, not a file: '${shown}'`);
    return sendArtifactFile(reply, path, found);
  });

  scope.post('/runs/outputs', async (request) => {
    const { runId, body } = parseRunRequest(LogOutputsBody, request.body);
    await requireActiveRun(pool, runId);
    try {
      await logRunModelOutputs(pool, runId, body.models.map((m) => ({ modelId: m.model_id ?? '', step: m.step ?? 0 })));
    } catch (err) {
      if (err instanceof DuplicateModelOutputError) throw duplicateKey(err.message);
      throw err;
    }
    return {};
  });

  /** Where a model's files are: an `mlflow-artifacts:` URI is served from the artifact root, as the proxy serves it. */
  function storageUriOf(model: LoggedModel): string {
    const uri = deps.artifactRoot !== undefined && isProxiedArtifactUri(model.artifactUri) ? resolveProxiedArtifactUri(deps.artifactRoot, model.artifactUri) : model.artifactUri;
    if (!/^(file|s3):\/\//.test(uri)) {
      throw new MlflowError('NOT_IMPLEMENTED', `Listing artifacts is only supported for file:// and s3:// artifact URIs; model ${model.modelId} stores them at ${model.artifactUri}`);
    }
    return uri;
  }

  /** The direct children of `path` under the model's artifact root, with model-relative paths; [] when there is no such folder. */
  async function listModelArtifacts(model: LoggedModel, path: string | undefined) {
    const prefix = path ? normpathOf(path) : '';
    const entries = await deps.artifactsAt(storageUriOf(model)).list(prefix);
    return entries.map((entry) => {
      const filePath = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      return entry.isDir ? { path: filePath, is_dir: true } : { path: filePath, is_dir: false, file_size: entry.size };
    });
  }
}

/** A listed folder without '.', empty segments and a trailing '/'. */
const normpathOf = (path: string): string => path.split('/').filter((s) => s !== '' && s !== '.').join('/');
