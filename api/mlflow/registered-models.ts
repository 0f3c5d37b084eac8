import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { getModelVersion } from '../../store/model-versions';
import {
  aliasedVersion,
  createRegisteredModel,
  deleteRegisteredModel,
  deleteRegisteredModelAlias,
  deleteRegisteredModelTag,
  getLatestVersions,
  getRegisteredModel,
  IS_PROMPT_TAG,
  registeredModelKind,
  renameRegisteredModel,
  setRegisteredModelAlias,
  setRegisteredModelTag,
  updateRegisteredModel,
} from '../../store/registered-models';
import { type ReadableModels, searchRegisteredModels } from '../../store/registered-models-search';
import { grantModelCreator } from '../auth/access-control';
import type { MlflowRouteDeps } from './deps';
import { MlflowError, invalidValue } from './errors';
import { pyRepr } from './logged-models-filter';
import { decodeOffsetToken, encodeOffsetToken, parseRegisteredModelFilter, parseRegisteredModelOrderBy } from './registered-models-filter';
import {
  canonicalStage,
  encodeModelVersion,
  encodeRegisteredModel,
  maxResultsOf,
  parseRegistryRequest,
  modelVersionNotFound,
  parseVersion,
  registeredModelNotFound,
  validateAlias,
  validateModelName,
  validateNewModelName,
  validateRegistryTag,
  validateTagKey,
} from './registered-models-wire';
import { OptString, ReqString, repeated } from './wire';

// MLflow's registered-model endpoints (model_registry.proto): create, get, update, rename, delete,
// search, get-latest-versions, tags and aliases. A prompt is a registered model with a tag, so
// MLflow's prompt registry runs on these too. The versions' endpoints are in model-versions.ts.

export const SEARCH_REGISTERED_MODELS_DEFAULT = 100;
export const SEARCH_REGISTERED_MODELS_MAX = 1000;

const TagItem = z.object({ key: OptString, value: OptString });
export const RegistryTags = z.array(TagItem).nullish();
const CreateBody = z.object({ name: ReqString, tags: RegistryTags, description: OptString });
const NameBody = z.object({ name: ReqString });
const UpdateBody = z.object({ name: ReqString, description: OptString });
const RenameBody = z.object({ name: ReqString, new_name: ReqString });
const LatestVersionsBody = z.object({ name: ReqString, stages: z.array(z.string()).nullish() });
// A query string gives a repeated field once as a bare value.
const LatestVersionsQuery = z.object({ name: ReqString, stages: repeated(z.array(z.string()).nullish()) });
const SetTagBody = z.object({ name: ReqString, key: ReqString, value: OptString });
const DeleteTagBody = z.object({ name: ReqString, key: ReqString });
const SetAliasBody = z.object({ name: ReqString, alias: ReqString, version: ReqString });
const AliasBody = z.object({ name: ReqString, alias: ReqString });
const SearchQuery = z.object({
  filter: OptString,
  max_results: z.unknown().optional(),
  order_by: repeated(z.array(z.string()).nullish()),
  page_token: OptString,
});

/** A request's tags as MLflow reads them: an absent key or value is ''. */
export const tagsOf = (tags: z.output<typeof RegistryTags>) => (tags ?? []).map((t) => ({ key: t.key ?? '', value: t.value ?? '' }));

/** MLflow's name clash message, which tells a prompt from a model (MLflow's handle_resource_already_exist_error). */
function alreadyExists(name: string, existing: 'model' | 'prompt', creatingPrompt: boolean): MlflowError {
  const old = existing === 'prompt' ? 'Prompt' : 'Registered Model';
  const created = creatingPrompt ? 'Prompt' : 'Registered Model';
  if (old !== created) {
    return new MlflowError(
      'RESOURCE_ALREADY_EXISTS',
      `Tried to create a ${created.toLowerCase()} with name ${pyRepr(name)}, but the name is already taken by a ${old.toLowerCase()}. ` +
        'MLflow does not allow creating a model and a prompt with the same name.',
    );
  }
  return new MlflowError('RESOURCE_ALREADY_EXISTS', `${created} (name=${name}) already exists.`);
}

/** How the registry's routes narrow what a caller sees (both searches take it). */
export interface RegistryRouteOptions {
  /**
   * The predicate keeping the models a request's caller may read (undefined: every model), e.g.
   * `(request) => request.viewer && ((column, param) => modelReadableBy(request.viewer, column, param))`.
   */
  readableModels?: (request: FastifyRequest) => ReadableModels | undefined;
}

/** Registers the registered-model endpoints on an MLflow-prefixed scope (see routes.ts). */
export function registerRegisteredModelRoutes(scope: FastifyInstance, deps: MlflowRouteDeps, options: RegistryRouteOptions = {}): void {
  const { pool } = deps;

  scope.post('/registered-models/create', async (request) => {
    const body = parseRegistryRequest(CreateBody, request.body);
    validateModelName(body.name);
    const tags = tagsOf(body.tags);
    for (const tag of tags) validateRegistryTag(tag, 'model');
    const created = await createRegisteredModel(pool, { name: body.name, description: body.description ?? '', tags, now: Date.now() });
    if (!created) {
      const existing = await registeredModelKind(pool, body.name);
      throw alreadyExists(body.name, existing ?? 'model', tags.some((t) => t.key === IS_PROMPT_TAG));
    }
    await grantModelCreator(pool, request, created.name);
    return { registered_model: encodeRegisteredModel(created) };
  });

  scope.get('/registered-models/get', async (request) => {
    const { name } = parseRegistryRequest(NameBody, request.query);
    validateModelName(name);
    const model = await getRegisteredModel(pool, name);
    if (!model) throw registeredModelNotFound(name);
    return { registered_model: encodeRegisteredModel(model) };
  });

  scope.patch('/registered-models/update', async (request) => {
    const body = parseRegistryRequest(UpdateBody, request.body);
    validateModelName(body.name);
    const model = await updateRegisteredModel(pool, body.name, body.description ?? '', Date.now());
    if (!model) throw registeredModelNotFound(body.name);
    return { registered_model: encodeRegisteredModel(model) };
  });

  scope.post('/registered-models/rename', async (request) => {
    const body = parseRegistryRequest(RenameBody, request.body);
    validateNewModelName(body.new_name);
    validateModelName(body.name);
    const renamed = await renameRegisteredModel(pool, body.name, body.new_name, Date.now());
    if (renamed === 'missing') throw registeredModelNotFound(body.name);
    if (renamed === 'taken') throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${body.new_name}) already exists.`);
    return { registered_model: encodeRegisteredModel(renamed) };
  });

  scope.delete('/registered-models/delete', async (request) => {
    const { name } = parseRegistryRequest(NameBody, request.body);
    validateModelName(name);
    if (!(await deleteRegisteredModel(pool, name))) throw registeredModelNotFound(name);
    return {};
  });

  scope.get('/registered-models/search', async (request) => {
    const query = parseRegistryRequest(SearchQuery, request.query);
    const maxResults = maxResultsOf(query.max_results, SEARCH_REGISTERED_MODELS_MAX, SEARCH_REGISTERED_MODELS_DEFAULT);
    const comparisons = parseRegisteredModelFilter(query.filter);
    const orderBy = parseRegisteredModelOrderBy(query.order_by ?? []);
    const offset = decodeOffsetToken(query.page_token);
    // As MLflow's store: one row more than a page tells whether another follows.
    const limit = maxResults + 1;
    const models = await searchRegisteredModels(pool, { comparisons, orderBy, offset, limit, readable: options.readableModels?.(request) });
    const page = models.slice(0, Math.max(maxResults, 0));
    return {
      ...(page.length > 0 && { registered_models: page.map(encodeRegisteredModel) }),
      ...(models.length === limit && { next_page_token: encodeOffsetToken(offset + maxResults) }),
    };
  });

  const latestVersions = async (data: unknown, schema: typeof LatestVersionsBody | typeof LatestVersionsQuery) => {
    const body = parseRegistryRequest(schema, data);
    validateModelName(body.name);
    let stages;
    try {
      stages = (body.stages ?? []).map(canonicalStage);
    } catch (err) {
      // MLflow looks the model up before it reads the stages.
      if (!(await registeredModelKind(pool, body.name))) throw registeredModelNotFound(body.name);
      throw err;
    }
    const versions = await getLatestVersions(pool, body.name, stages);
    if (!versions) throw registeredModelNotFound(body.name);
    return versions.length > 0 ? { model_versions: versions.map((v) => encodeModelVersion(v)) } : {};
  };
  // The client POSTs, and GETs where a server answers the POST with ENDPOINT_NOT_FOUND.
  scope.post('/registered-models/get-latest-versions', async (request) => latestVersions(request.body, LatestVersionsBody));
  scope.get('/registered-models/get-latest-versions', async (request) => latestVersions(request.query, LatestVersionsQuery));

  scope.post('/registered-models/set-tag', async (request) => {
    const body = parseRegistryRequest(SetTagBody, request.body);
    validateModelName(body.name);
    const tag = { key: body.key, value: body.value ?? '' };
    validateRegistryTag(tag, 'model');
    if (!(await setRegisteredModelTag(pool, body.name, tag))) throw registeredModelNotFound(body.name);
    return {};
  });

  scope.delete('/registered-models/delete-tag', async (request) => {
    const body = parseRegistryRequest(DeleteTagBody, request.body);
    validateModelName(body.name);
    validateTagKey(body.key);
    if (!(await deleteRegisteredModelTag(pool, body.name, body.key))) throw registeredModelNotFound(body.name);
    return {};
  });

  scope.post('/registered-models/alias', async (request) => {
    const body = parseRegistryRequest(SetAliasBody, request.body);
    validateModelName(body.name);
    validateAlias(body.alias, true);
    const version = parseVersion(body.version);
    if (!version.storable || !(await setRegisteredModelAlias(pool, body.name, body.alias, version.value))) {
      throw modelVersionNotFound(body.name, version.text);
    }
    return {};
  });

  scope.delete('/registered-models/alias', async (request) => {
    const body = parseRegistryRequest(AliasBody, request.body);
    validateModelName(body.name);
    validateAlias(body.alias, false);
    if (!(await deleteRegisteredModelAlias(pool, body.name, body.alias))) throw registeredModelNotFound(body.name);
    return {};
  });

  scope.get('/registered-models/alias', async (request) => {
    const { name, alias } = parseRegistryRequest(AliasBody, request.query);
    validateModelName(name);
    validateAlias(alias, false);
    // `latest` (any case) is the model's highest version, whatever its stage.
    if (alias.toLowerCase() === 'latest') {
      const versions = await getLatestVersions(pool, name, []);
      if (!versions) throw registeredModelNotFound(name);
      const latest = versions.reduce<(typeof versions)[number] | undefined>((best, v) => (best && best.version > v.version ? best : v), undefined);
      if (!latest) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Latest version not found for model ${name}.`);
      return { model_version: encodeModelVersion(latest) };
    }
    const aliased = await aliasedVersion(pool, name, alias);
    if (aliased === 'no-model') throw registeredModelNotFound(name);
    if (aliased === 'no-alias') throw invalidValue(`Registered model alias ${alias} not found.`);
    const version = await getModelVersion(pool, name, aliased);
    if (!version) throw modelVersionNotFound(name, aliased);
    return { model_version: encodeModelVersion(version) };
  });
}
