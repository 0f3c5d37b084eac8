import type { FastifyRequest } from 'fastify';
import type { Permission } from '../../domain/auth';
import { modelReadableBy } from '../../store/model-permissions';
import type { ReadableModels } from '../../store/registered-models-search';
import type { Queryable } from '../../store/pool';
import { type AccessRule, SIGNED_IN } from '../auth/access-rule';
import {
  experimentById,
  experimentByName,
  experimentOfArtifactPath,
  experimentOfLoggedModel,
  experimentOfRun,
  modelVersionSources,
  registeredModelByName,
} from '../auth/locators';

/**
 * Who may call each MLflow route: MLflow's basic-auth table (reference §4.3), with deletes and
 * restores needing MANAGE. Searches are open to any signed-in user and narrowed to what they may
 * read; experiments/create and registered-models/create are open, and the creator manages what
 * they create.
 */
export function mlflowAccessRules(db: Queryable): { tracking: Record<string, AccessRule>; artifacts: Record<string, AccessRule> } {
  const experiment = (need: Permission, part: 'query' | 'body'): AccessRule => ({
    kind: 'experiment',
    need,
    locate: experimentById(part),
  });
  const run = (need: Permission, part: 'query' | 'body'): AccessRule => ({ kind: 'experiment', need, locate: experimentOfRun(db, part) });
  const artifact = (need: Permission): AccessRule => ({ kind: 'experiment', need, locate: experimentOfArtifactPath(db) });
  const model = (need: Permission, part: 'params' | 'body' = 'params'): AccessRule => ({ kind: 'experiment', need, locate: experimentOfLoggedModel(db, part) });
  const registered = (need: Permission, answers: 'model' | 'version' = 'model'): AccessRule => ({
    kind: 'registered-model',
    need,
    locate: registeredModelByName(db, { answers }),
  });
  const tracking: Record<string, AccessRule> = {
    'POST /experiments/create': SIGNED_IN,
    'GET /experiments/search': SIGNED_IN,
    'POST /experiments/search': SIGNED_IN,
    'GET /experiments/get': experiment('READ', 'query'),
    'GET /experiments/get-by-name': { kind: 'experiment', need: 'READ', locate: experimentByName(db, 'query', 'experiment_name') },
    'POST /experiments/update': experiment('EDIT', 'body'),
    'POST /experiments/set-experiment-tag': experiment('EDIT', 'body'),
    'POST /experiments/delete-experiment-tag': experiment('EDIT', 'body'),
    'POST /experiments/delete': experiment('MANAGE', 'body'),
    'POST /experiments/restore': experiment('MANAGE', 'body'),
    'POST /runs/create': { kind: 'experiment', need: 'EDIT', locate: experimentById('body', { fallback: '0' }) },
    'GET /runs/get': run('READ', 'query'),
    'POST /runs/search': SIGNED_IN,
    'GET /runs/search': SIGNED_IN,
    'POST /runs/update': run('EDIT', 'body'),
    'POST /runs/log-metric': run('EDIT', 'body'),
    'POST /runs/log-parameter': run('EDIT', 'body'),
    'POST /runs/set-tag': run('EDIT', 'body'),
    'POST /runs/delete-tag': run('EDIT', 'body'),
    'POST /runs/log-batch': run('EDIT', 'body'),
    'POST /runs/log-model': run('EDIT', 'body'),
    'POST /runs/log-inputs': run('EDIT', 'body'),
    'POST /runs/delete': run('MANAGE', 'body'),
    'POST /runs/restore': run('MANAGE', 'body'),
    'GET /metrics/get-history': run('READ', 'query'),
    // Several runs per request: the handler keeps those the caller may read.
    'GET /metrics/get-history-bulk-interval': SIGNED_IN,
    'GET /artifacts/list': run('READ', 'query'),
    'POST /logged-models/search': SIGNED_IN,
    'POST /logged-models': experiment('EDIT', 'body'),
    'GET /logged-models/:model_id': model('READ'),
    // Finalize acts on the model its body names, as MLflow's handler does.
    'PATCH /logged-models/:model_id': model('EDIT', 'body'),
    'DELETE /logged-models/:model_id': model('MANAGE'),
    'PATCH /logged-models/:model_id/tags': model('EDIT'),
    'DELETE /logged-models/:model_id/tags/:tag_key': model('EDIT'),
    'POST /logged-models/:model_id/params': model('EDIT'),
    'GET /logged-models/:model_id/artifacts/directories': model('READ'),
    'GET /logged-models/:model_id/artifacts/files': model('READ'),
    'POST /runs/outputs': run('EDIT', 'body'),
    // The registry, by the model (or prompt) named in the request: reads READ, changes EDIT,
    // deletions MANAGE; a version is registered with EDIT on the model and READ on its source.
    // registered-models/create is open (its creator manages the model); searches are narrowed.
    'POST /registered-models/create': SIGNED_IN,
    'GET /registered-models/search': SIGNED_IN,
    'GET /registered-models/get': registered('READ'),
    'POST /registered-models/get-latest-versions': registered('READ'),
    'GET /registered-models/get-latest-versions': registered('READ'),
    'GET /registered-models/alias': registered('READ'),
    'PATCH /registered-models/update': registered('EDIT'),
    'POST /registered-models/rename': registered('EDIT'),
    'POST /registered-models/set-tag': registered('EDIT'),
    'DELETE /registered-models/delete-tag': registered('EDIT'),
    'POST /registered-models/alias': registered('EDIT', 'version'),
    'DELETE /registered-models/alias': registered('MANAGE'),
    'DELETE /registered-models/delete': registered('MANAGE'),
    'POST /model-versions/create': { kind: 'registered-model', need: 'EDIT', locate: registeredModelByName(db), sources: modelVersionSources(db) },
    'GET /model-versions/search': SIGNED_IN,
    'GET /model-versions/get': registered('READ', 'version'),
    'GET /model-versions/get-download-uri': registered('READ', 'version'),
    'PATCH /model-versions/update': registered('EDIT', 'version'),
    'POST /model-versions/transition-stage': registered('EDIT', 'version'),
    'POST /model-versions/set-tag': registered('EDIT', 'version'),
    'DELETE /model-versions/delete-tag': registered('MANAGE', 'version'),
    'DELETE /model-versions/delete': registered('MANAGE', 'version'),
  };
  // The proxied artifact service (mlflow-artifacts), by the experiment id its paths start with.
  const artifacts: Record<string, AccessRule> = {
    'GET /artifacts': artifact('READ'),
    'GET /artifacts/*': artifact('READ'),
    'PUT /artifacts/*': artifact('EDIT'),
    'DELETE /artifacts/*': artifact('MANAGE'),
    'POST /mpu/create/*': artifact('EDIT'),
    'POST /mpu/complete/*': artifact('EDIT'),
    'POST /mpu/abort/*': artifact('EDIT'),
  };
  return { tracking, artifacts };
}

const PREFIX = /^\/(?:api|ajax-api)\/[23]\.0\/mlflow(-artifacts)?(?=\/)/;

/** The rule of an MLflow route by its full URL, or undefined for a route outside the MLflow prefixes. */
export function mlflowRuleLookup(db: Queryable): (method: string, url: string) => AccessRule | undefined {
  const { tracking, artifacts } = mlflowAccessRules(db);
  return (method, url) => {
    const match = PREFIX.exec(url);
    if (!match) return undefined;
    return (match[1] ? artifacts : tracking)[`${method} ${url.slice(match[0].length)}`];
  };
}

/** What the registry's searches show a caller: the models they may read (every model for admins and with auth off). */
export function readableModels(request: FastifyRequest): ReadableModels | undefined {
  const viewer = request.viewer;
  return viewer && ((nameColumn, param) => modelReadableBy(viewer, nameColumn, param));
}
