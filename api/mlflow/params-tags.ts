import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { deleteTag, logParams, setTags } from '../../store/run-writes';
import type { MlflowRouteDeps } from './deps';
import { MlflowError } from './errors';
import { registerEntityWrite } from './entity-write';
import { requireActiveRun } from './guards';
import { ReqString, RunRef, parseRunRequest, toParam, toTag } from './wire';

// MLflow's endpoints for one param or tag of a run: log-parameter, set-tag and delete-tag.

const LogParamBody = z.object({ ...RunRef, key: ReqString, value: z.string().nullish() });
const SetTagBody = LogParamBody;
const DeleteTagBody = z.object({ ...RunRef, key: ReqString });

/** Registers MLflow's param and tag endpoints on an MLflow-prefixed scope (see routes.ts). */
export function registerParamTagRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  registerEntityWrite(scope, pool, '/runs/log-parameter', LogParamBody, toParam, logParams);
  registerEntityWrite(scope, pool, '/runs/set-tag', SetTagBody, toTag, setTags);

  scope.post('/runs/delete-tag', async (request) => {
    const { runId, body } = parseRunRequest(DeleteTagBody, request.body);
    await requireActiveRun(pool, runId);
    if (!(await deleteTag(pool, runId, body.key))) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${body.key} in run with id ${runId}`);
    }
    return {};
  });
}
