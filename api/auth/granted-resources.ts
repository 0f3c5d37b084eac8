import { isExperimentId } from '../../domain/auth';
import { getExperiment } from '../../store/experiments';
import { MODEL_GRANTS } from '../../store/model-permissions';
import { EXPERIMENT_GRANTS, type GrantKind } from '../../store/permissions';
import type { Queryable } from '../../store/pool';
import { registeredModelKind } from '../../store/registered-models';
import { experimentNotFound, type MlflowError } from '../mlflow/errors';
import { registeredModelNotFound } from '../mlflow/registered-models-wire';
import type { AuditTarget } from './audit-trail';

/**
 * A kind of resource users and teams are granted permissions on, as the API names, finds and
 * reports one: experiments by id, registered models (and prompts) by name. Every grant route
 * (MLflow's 2.0 and 3.0 ones, /api/v1, the roles view) and every check works through one of these.
 */
export interface GrantedResource {
  kind: GrantKind;
  /** MLflow's resource_type (3.0 grants, role permissions). */
  type: 'experiment' | 'registered_model';
  /** How a denial names one: `experiment 3`, `registered model 'churn'`. */
  describe(id: string): string;
  /** The audit trail's target: `experiment:3`, `registered_model:churn`. */
  auditTarget(id: string): AuditTarget;
  /** The id (canonical) of the existing resource `raw` names; undefined when there is none. */
  find(db: Queryable, raw: string): Promise<string | undefined>;
  notFound(raw: string): MlflowError;
}

/** The experiment id in canonical form (`007` is experiment 7); undefined when it can name none. */
export const canonicalExperimentId = (raw: string): string | undefined => (isExperimentId(raw) ? BigInt(raw).toString() : undefined);

export const EXPERIMENTS: GrantedResource = {
  kind: EXPERIMENT_GRANTS,
  type: 'experiment',
  describe: (id) => `experiment ${id}`,
  auditTarget: (id) => `experiment:${id}`,
  find: async (db, raw) => {
    const id = canonicalExperimentId(raw);
    return id !== undefined && (await getExperiment(db, id)) ? id : undefined;
  },
  notFound: experimentNotFound,
};

export const REGISTERED_MODELS: GrantedResource = {
  kind: MODEL_GRANTS,
  type: 'registered_model',
  describe: (name) => `registered model '${name}'`,
  auditTarget: (name) => `registered_model:${name}`,
  find: async (db, name) => (name !== '' && (await registeredModelKind(db, name)) !== undefined ? name : undefined),
  notFound: registeredModelNotFound,
};

/** MLflow 3's resource types mlfleet grants on; a prompt is a registered model (and its grants are the model's). */
const BY_TYPE: Readonly<Record<string, GrantedResource>> = { experiment: EXPERIMENTS, prompt: REGISTERED_MODELS, registered_model: REGISTERED_MODELS };

export const RESOURCE_TYPES = Object.keys(BY_TYPE).sort();

/** The resource kind of an MLflow 3 resource_type; undefined for one mlfleet does not have. */
export const grantedResourceOf = (resourceType: unknown): GrantedResource | undefined =>
  typeof resourceType === 'string' && Object.hasOwn(BY_TYPE, resourceType) ? BY_TYPE[resourceType] : undefined;

/** The resource it finds, or its not-found error. */
export async function requireResource(db: Queryable, resource: GrantedResource, raw: string): Promise<string> {
  const id = await resource.find(db, raw);
  if (id === undefined) throw resource.notFound(raw);
  return id;
}
