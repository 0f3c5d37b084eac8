import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getLoggedModel, setLoggedModelTags } from '../../store/logged-models';
import {
  createModelVersion,
  deleteModelVersion,
  deleteModelVersionTag,
  downloadUriOf,
  getModelVersion,
  lockLoggedModel,
  type ModelVersion,
  setModelVersionTag,
  transitionModelVersionStage,
  updateModelVersionDescription,
} from '../../store/model-versions';
import { searchModelVersions } from '../../store/model-versions-search';
import { withTransaction } from '../../store/pool';
import { IS_PROMPT_TAG } from '../../store/registered-models';
import type { MlflowRouteDeps } from './deps';
import { invalidValue } from './errors';
import { pythonJsonDumps } from './logged-models-wire';
import { checkSource, refuseHostAddressedSource, resolveStorage } from './model-versions-source';
import { decodeOffsetToken, encodeOffsetToken, parseModelVersionFilter, parseModelVersionOrderBy } from './registered-models-filter';
import { type RegistryRouteOptions, RegistryTags, tagsOf } from './registered-models';
import {
  canonicalStage,
  encodeModelVersion,
  maxResultsOf,
  parseRegistryRequest,
  modelVersionNotFound,
  parseVersion,
  registeredModelNotFound,
  type VersionNumber,
  validateModelName,
  validateRegistryTag,
  validateTagKey,
} from './registered-models-wire';
import { OptString, ReqString, repeated } from './wire';

// MLflow's model-version endpoints (model_registry.proto): create (from a run's files, a logged
// model or another version), get, update, transition-stage, delete, search, get-download-uri and
// tags. Prompt versions are model versions with prompt tags, so load_prompt reads them here too.

export const SEARCH_MODEL_VERSIONS_DEFAULT = 200_000;
export const SEARCH_MODEL_VERSIONS_MAX = 200_000;

/** The logged-model tag listing the registered versions made from the model. */
export const MODEL_VERSIONS_TAG = 'mlflow.modelVersions';

/** The sources MLflow's clients give prompt versions, which have no files. */
const PROMPT_SOURCES = ['dummy-source', 'prompt-template'];

const CreateBody = z.object({
  name: ReqString,
  source: ReqString,
  run_id: OptString,
  tags: RegistryTags,
  run_link: OptString,
  description: OptString,
  model_id: OptString,
});
const VersionBody = z.object({ name: ReqString, version: ReqString });
const UpdateBody = z.object({ name: ReqString, version: ReqString, description: OptString });
const TransitionBody = z.object({ name: ReqString, version: ReqString, stage: ReqString, archive_existing_versions: z.boolean().nullish() });
const SetTagBody = z.object({ name: ReqString, version: ReqString, key: ReqString, value: OptString });
const DeleteTagBody = z.object({ name: ReqString, version: ReqString, key: ReqString });
const DownloadUriQuery = z.object({ name: OptString, version: OptString });
const SearchQuery = z.object({
  filter: OptString,
  max_results: z.unknown().optional(),
  order_by: repeated(z.array(z.string()).nullish()),
  page_token: OptString,
});

/** Whether a request's tags make its version a prompt version (the last value of the prompt tag is 'true', any case). */
const isPromptRequest = (tags: ReadonlyArray<{ key: string; value: string }>): boolean =>
  (tags.filter((t) => t.key === IS_PROMPT_TAG).at(-1)?.value ?? 'false').toLowerCase() === 'true';

/** A version's name and number, checked as MLflow checks them (the name first). */
function versionRef(name: string, version: string): { name: string; version: VersionNumber } {
  validateModelName(name);
  return { name, version: parseVersion(version) };
}

/** Registers the model-version endpoints on an MLflow-prefixed scope (see routes.ts). */
export function registerModelVersionRoutes(scope: FastifyInstance, deps: MlflowRouteDeps, options: RegistryRouteOptions = {}): void {
  const { pool } = deps;

  /** The version, which must exist (and not be deleted). */
  const requireVersion = async (name: string, version: VersionNumber): Promise<ModelVersion> => {
    const found = version.storable ? await getModelVersion(pool, name, version.value) : undefined;
    if (!found) throw modelVersionNotFound(name, version.text);
    return found;
  };

  /**
   * Appends the new version to its logged model's `mlflow.modelVersions` tag, as MLflow's server
   * does (unless the entry is there already); the model's row is held so concurrent appends all land.
   */
  const linkLoggedModel = async (modelId: string, version: ModelVersion): Promise<void> => {
    await withTransaction(pool, async (tx) => {
      if (!(await lockLoggedModel(tx, modelId))) return;
      const model = await getLoggedModel(tx, modelId);
      const entry = { name: version.name, version: version.version };
      let entries: unknown[] = [];
      const existing = model?.tags.find((t) => t.key === MODEL_VERSIONS_TAG)?.value;
      if (existing !== undefined) {
        try {
          const parsed: unknown = JSON.parse(existing);
          // A hand-written value that is not a list is left alone: nothing could append to it.
          if (!Array.isArray(parsed)) return;
          entries = parsed;
        } catch {
          return;
        }
      }
      if (entries.some((e) => pythonJsonDumps(e) === pythonJsonDumps(entry))) return;
      await setLoggedModelTags(tx, modelId, [{ key: MODEL_VERSIONS_TAG, value: pythonJsonDumps([...entries, entry]) }]);
    });
  };

  scope.post('/model-versions/create', async (request) => {
    const body = parseRegistryRequest(CreateBody, request.body);
    const tags = tagsOf(body.tags);
    const prompt = isPromptRequest(tags);
    if (prompt && !PROMPT_SOURCES.includes(body.source)) {
      throw invalidValue(`Invalid prompt source: '${body.source}'. Prompt sources must use an MLflow placeholder.`);
    }
    refuseHostAddressedSource(body.source);
    const checked = prompt
      ? { source: body.source, runId: body.run_id ?? '', modelId: body.model_id || null }
      : await checkSource(pool, { source: body.source, runId: body.run_id ?? null, modelId: body.model_id ?? null });
    validateModelName(body.name);
    for (const tag of tags) validateRegistryTag(tag, 'version');
    const resolved = await resolveStorage(pool, checked.source, checked.runId, checked.modelId);
    const version = await createModelVersion(pool, {
      name: body.name,
      source: resolved.source,
      ...(resolved.storageLocation !== undefined && { storageLocation: resolved.storageLocation }),
      ...(resolved.runId !== null && { runId: resolved.runId }),
      runLink: body.run_link ?? '',
      description: body.description ?? '',
      ...(resolved.modelId !== null && { modelId: resolved.modelId }),
      tags,
      now: Date.now(),
    });
    if (!version) throw registeredModelNotFound(body.name);
    if (!prompt && resolved.modelId !== null) await linkLoggedModel(resolved.modelId, version);
    return { model_version: encodeModelVersion(version) };
  });

  scope.get('/model-versions/get', async (request) => {
    const body = parseRegistryRequest(VersionBody, request.query);
    const ref = versionRef(body.name, body.version);
    return { model_version: encodeModelVersion(await requireVersion(ref.name, ref.version)) };
  });

  scope.patch('/model-versions/update', async (request) => {
    const body = parseRegistryRequest(UpdateBody, request.body);
    const ref = versionRef(body.name, body.version);
    // An absent description clears it, as MLflow's handler passes None.
    const updated = ref.version.storable ? await updateModelVersionDescription(pool, ref.name, ref.version.value, body.description ?? null, Date.now()) : undefined;
    if (!updated) throw modelVersionNotFound(ref.name, ref.version.text);
    return { model_version: encodeModelVersion(updated) };
  });

  scope.post('/model-versions/transition-stage', async (request) => {
    const body = parseRegistryRequest(TransitionBody, request.body);
    const stage = canonicalStage(body.stage);
    const archiveExisting = body.archive_existing_versions ?? false;
    if (archiveExisting && stage !== 'Staging' && stage !== 'Production') {
      throw invalidValue(
        `Model version transition cannot archive existing model versions because '${body.stage}' is not an Active stage. Valid stages are ['Staging', 'Production']`,
      );
    }
    const ref = versionRef(body.name, body.version);
    const moved = ref.version.storable
      ? await transitionModelVersionStage(pool, { name: ref.name, version: ref.version.value, stage, archiveExisting, now: Date.now() })
      : undefined;
    if (!moved) throw modelVersionNotFound(ref.name, ref.version.text);
    return { model_version: encodeModelVersion(moved) };
  });

  scope.delete('/model-versions/delete', async (request) => {
    const body = parseRegistryRequest(VersionBody, request.body);
    // MLflow reads the number before the name here.
    const version = parseVersion(body.version);
    validateModelName(body.name);
    if (!version.storable || !(await deleteModelVersion(pool, body.name, version.value, Date.now()))) throw modelVersionNotFound(body.name, version.text);
    return {};
  });

  // MLflow's handler has no schema here: absent fields are '' and fail the name and number checks.
  scope.get('/model-versions/get-download-uri', async (request) => {
    const query = parseRegistryRequest(DownloadUriQuery, request.query);
    const ref = versionRef(query.name ?? '', query.version ?? '');
    return { artifact_uri: downloadUriOf(await requireVersion(ref.name, ref.version)) };
  });

  scope.get('/model-versions/search', async (request) => {
    const query = parseRegistryRequest(SearchQuery, request.query);
    const maxResults = maxResultsOf(query.max_results, SEARCH_MODEL_VERSIONS_MAX, SEARCH_MODEL_VERSIONS_DEFAULT);
    if (maxResults < 1) throw invalidValue(`Invalid value for max_results. It must be a positive integer, but got ${maxResults}`);
    const comparisons = parseModelVersionFilter(query.filter);
    const orderBy = parseModelVersionOrderBy(query.order_by ?? []);
    const offset = decodeOffsetToken(query.page_token);
    const limit = maxResults + 1;
    const versions = await searchModelVersions(pool, { comparisons, orderBy, offset, limit, readable: options.readableModels?.(request) });
    const page = versions.slice(0, maxResults);
    return {
      // Search results carry no aliases, as MLflow's.
      ...(page.length > 0 && { model_versions: page.map((v) => encodeModelVersion(v, false)) }),
      ...(versions.length === limit && { next_page_token: encodeOffsetToken(offset + maxResults) }),
    };
  });

  scope.post('/model-versions/set-tag', async (request) => {
    const body = parseRegistryRequest(SetTagBody, request.body);
    const ref = versionRef(body.name, body.version);
    const tag = { key: body.key, value: body.value ?? '' };
    validateRegistryTag(tag, 'version');
    if (!ref.version.storable || !(await setModelVersionTag(pool, ref.name, ref.version.value, tag))) throw modelVersionNotFound(ref.name, ref.version.text);
    return {};
  });

  scope.delete('/model-versions/delete-tag', async (request) => {
    const body = parseRegistryRequest(DeleteTagBody, request.body);
    const ref = versionRef(body.name, body.version);
    validateTagKey(body.key);
    if (!ref.version.storable || !(await deleteModelVersionTag(pool, ref.name, ref.version.value, body.key))) {
      throw modelVersionNotFound(ref.name, ref.version.text);
    }
    return {};
  });
}
