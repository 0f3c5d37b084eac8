import type { Permission } from '../domain/auth';
import { type ExperimentViewer, type GrantKind, permissionOnResource, readableWhere } from './permissions';
import type { Queryable } from './pool';

// Grants on registered models, to users and teams, as experiment_permissions holds them for
// experiments (the queries are permissions.ts's, for this kind). A prompt is a registered model
// with a tag, so its grants are these too. They are keyed by the model's name: a rename carries
// them, a delete takes them (0013_model_permissions).

export const MODEL_GRANTS: GrantKind = { grants: 'registered_model_permissions', resources: 'registered_models', key: 'name' };

/**
 * A WHERE clause keeping the rows whose registered model (its name in `nameColumn`) the viewer may
 * read; for the registry's searches. `param` appends a value to the caller's parameter list and
 * returns its placeholder.
 */
export const modelReadableBy = (viewer: ExperimentViewer, nameColumn: string, param: (value: unknown, cast: string) => string): string =>
  readableWhere(MODEL_GRANTS, viewer, nameColumn, param);

/** The viewer's permission on one registered model; undefined when there is no model by that name. */
export const permissionOnModel = (db: Queryable, viewer: ExperimentViewer, name: string): Promise<Permission | undefined> =>
  permissionOnResource(db, MODEL_GRANTS, viewer, name);
