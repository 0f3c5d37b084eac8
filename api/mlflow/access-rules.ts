import type { Permission } from '../../domain/auth';
import type { Queryable } from '../../store/pool';
import { type AccessRule, SIGNED_IN } from '../auth/access-rule';
import { experimentById, experimentByName, experimentOfArtifactPath, experimentOfRun } from '../auth/locators';

/**
 * Who may call each MLflow route: MLflow's basic-auth table (reference §4.3), with deletes and
 * restores needing MANAGE. Searches are open to any signed-in user and narrowed to what they may
 * read; experiments/create is open, and its creator manages the new experiment.
 */
export function mlflowAccessRules(db: Queryable): { tracking: Record<string, AccessRule>; artifacts: Record<string, AccessRule> } {
  const experiment = (need: Permission, part: 'query' | 'body'): AccessRule => ({
    kind: 'experiment',
    need,
    locate: experimentById(part),
  });
  const run = (need: Permission, part: 'query' | 'body'): AccessRule => ({ kind: 'experiment', need, locate: experimentOfRun(db, part) });
  const artifact = (need: Permission): AccessRule => ({ kind: 'experiment', need, locate: experimentOfArtifactPath(db) });
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
