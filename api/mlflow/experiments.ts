import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  createExperiment,
  deleteExperimentTag,
  ExperimentNameTakenError,
  getExperiment,
  getExperimentByName,
  renameExperiment,
  setExperimentLifecycle,
  setExperimentTag,
} from '../../store/experiments';
import { grantCreator } from '../auth/access-control';
import type { MlflowRouteDeps } from './deps';
import { MlflowError, experimentNameNotFound, experimentNotFound, invalidValue } from './errors';
import { requireActiveExperiment } from './guards';
import { KeyValueItem, OptString, ReqString, parse, validateKey, validateValue } from './wire';

// MLflow's experiment endpoints but search (experiment-search.ts): service.proto's ExperimentService
// part, handlers.py, and the SQL store's semantics and messages.

// Limits from mlflow/utils/validation.py.
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
export const MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000;
export const DEFAULT_EXPERIMENT_ID = '0';

// ---- requests ----------------------------------------------------------------------------------

export const CreateExperimentBody = z.object({
  name: ReqString,
  artifact_location: OptString,
  tags: z.array(KeyValueItem).nullish(),
});
export const GetExperimentQuery = z.object({ experiment_id: ReqString });
export const GetExperimentByNameQuery = z.object({ experiment_name: ReqString });
export const ExperimentRefBody = z.object({ experiment_id: ReqString });
export const UpdateExperimentBody = z.object({ experiment_id: ReqString, new_name: ReqString });
export const SetExperimentTagBody = z.object({ experiment_id: ReqString, key: ReqString, value: z.string().nullish() });
export const DeleteExperimentTagBody = z.object({ experiment_id: ReqString, key: ReqString });

// ---- handlers ------------------------------------------------------------------------------------

const nameTaken = (name: string): MlflowError => new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`);

function validateExperimentName(name: string): void {
  validateValue(name, 'Experiment name', MAX_EXPERIMENT_NAME_LENGTH);
}

function toExperimentTag(item: { key: string; value?: string | null | undefined }, path: string): { key: string; value: string } {
  const value = item.value ?? '';
  validateKey(item.key, `${path}key`, 'Tag key');
  validateValue(value, 'Tag value', MAX_EXPERIMENT_TAG_VAL_LENGTH);
  return { key: item.key, value };
}

/** Registers MLflow's experiment endpoints but search on an MLflow-prefixed scope (see routes.ts). */
export function registerExperimentRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.post('/experiments/create', async (request) => {
    const body = parse(CreateExperimentBody, request.body);
    validateExperimentName(body.name);
    const artifactLocation = body.artifact_location || undefined;
    if (artifactLocation?.startsWith('runs:')) {
      throw invalidValue(`Artifact location cannot be a runs:/ URI. Given: '${artifactLocation}'`);
    }
    const tags = (body.tags ?? []).map((tag, i) => toExperimentTag(tag, `tags[${i}].`));
    try {
      const experimentId = await createExperiment(pool, { name: body.name, artifactLocation, tags });
      await grantCreator(pool, request, experimentId);
      return { experiment_id: experimentId };
    } catch (err) {
      if (err instanceof ExperimentNameTakenError) throw nameTaken(body.name);
      throw err;
    }
  });

  scope.get('/experiments/get', async (request) => {
    const { experiment_id } = parse(GetExperimentQuery, request.query);
    const experiment = await getExperiment(pool, experiment_id);
    if (!experiment) throw experimentNotFound(experiment_id);
    return { experiment };
  });

  scope.get('/experiments/get-by-name', async (request) => {
    const { experiment_name } = parse(GetExperimentByNameQuery, request.query);
    const experiment = await getExperimentByName(pool, experiment_name);
    if (!experiment) throw experimentNameNotFound(experiment_name);
    return { experiment };
  });

  scope.post('/experiments/update', async (request) => {
    const body = parse(UpdateExperimentBody, request.body);
    validateExperimentName(body.new_name);
    const experiment = await getExperiment(pool, body.experiment_id);
    if (!experiment) throw experimentNotFound(body.experiment_id);
    if (experiment.lifecycle_stage !== 'active') throw new MlflowError('INVALID_STATE', 'Cannot rename a non-active experiment.');
    if (experiment.name === body.new_name) return {};
    try {
      await renameExperiment(pool, body.experiment_id, body.new_name);
    } catch (err) {
      if (err instanceof ExperimentNameTakenError) throw nameTaken(body.new_name);
      throw err;
    }
    return {};
  });

  scope.post('/experiments/delete', async (request) => {
    const { experiment_id } = parse(ExperimentRefBody, request.body);
    if (experiment_id === DEFAULT_EXPERIMENT_ID) {
      throw invalidValue(`Cannot delete the default experiment '${DEFAULT_EXPERIMENT_ID}'. This is an internally reserved experiment.`);
    }
    // Only an active experiment can be deleted; a deleted or unknown one is not found (ACTIVE_ONLY).
    if (!(await setExperimentLifecycle(pool, experiment_id, 'deleted'))) throw experimentNotFound(experiment_id);
    return {};
  });

  scope.post('/experiments/restore', async (request) => {
    const { experiment_id } = parse(ExperimentRefBody, request.body);
    // Only a deleted experiment can be restored; an active or unknown one is not found (DELETED_ONLY).
    if (!(await setExperimentLifecycle(pool, experiment_id, 'active'))) throw experimentNotFound(experiment_id);
    return {};
  });

  scope.post('/experiments/set-experiment-tag', async (request) => {
    const body = parse(SetExperimentTagBody, request.body);
    const tag = toExperimentTag(body, '');
    await requireActiveExperiment(pool, body.experiment_id);
    await setExperimentTag(pool, body.experiment_id, tag.key, tag.value);
    return {};
  });

  scope.post('/experiments/delete-experiment-tag', async (request) => {
    const body = parse(DeleteExperimentTagBody, request.body);
    await requireActiveExperiment(pool, body.experiment_id);
    if (!(await deleteExperimentTag(pool, body.experiment_id, body.key))) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${body.key} in experiment with id ${body.experiment_id}`);
    }
    return {};
  });
}
