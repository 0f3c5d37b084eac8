import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Permission } from '../../domain/auth';
import { ensureExperiment, getExperimentByName } from '../../store/experiments';
import { grantCreator, permissionDenied, requireOn } from './access-control';

/**
 * Before a launch, schedule or pipeline writes into the experiment it names: `need` on it when it
 * exists (a name is no secret here: experiments/create tells taken names apart too, so a hidden one
 * is a 403, not a 404); else it is created now, and its creator manages it. With auth off the
 * workflow creates it later, as it always did.
 */
export async function claimExperiment(
  deps: { pool: pg.Pool; artifactRoot: string },
  request: FastifyRequest,
  name: string,
  need: Permission = 'EDIT',
): Promise<void> {
  if (request.principal.kind !== 'user') return;
  const denied = () => permissionDenied(`Permission denied: ${need} on experiment '${name}' is required.`);
  const existing = await getExperimentByName(deps.pool, name);
  if (existing) return requireOn(deps.pool, request, existing.experiment_id, need, denied);
  const { experiment, created } = await ensureExperiment(deps.pool, name, deps.artifactRoot);
  if (created) await grantCreator(deps.pool, request, experiment.experiment_id);
  else await requireOn(deps.pool, request, experiment.experiment_id, need, denied); // another request created it first
}
