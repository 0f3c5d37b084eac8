import { z } from 'zod';
import { isExperimentId, type Permission, permissionOfRank, permissionRank } from '../domain/auth';
import type { Queryable } from './pool';

/**
 * Whose reads a query is narrowed to: a signed-in user without admin rights, and the permission
 * that applies where nothing is granted. Unrestricted callers (admins, auth off) pass none.
 */
export interface ExperimentViewer {
  userId: string;
  defaultPermission: Permission;
}

/**
 * A kind of resource that takes grants: the table of its grants and the table of the resources,
 * which name a resource by the same column. Experiments are one; registered models
 * (model-permissions.ts) another: every grant query below serves both.
 */
export interface GrantKind {
  grants: string;
  resources: string;
  key: string;
}

export const EXPERIMENT_GRANTS: GrantKind = { grants: 'experiment_permissions', resources: 'experiments', key: 'experiment_id' };

/**
 * The SQL of a user's permission rank on the resource in `resourceColumn`: their own grant wins
 * (even NO_PERMISSIONS, so one member can be shut out of a team's resource); else the best grant
 * of their teams; else the default.
 */
function rankExpression(kind: GrantKind, resourceColumn: string, userParam: string, defaultParam: string): string {
  return `COALESCE(
    (SELECT p.permission FROM ${kind.grants} p WHERE p.${kind.key} = ${resourceColumn} AND p.user_id = ${userParam}),
    (SELECT max(p.permission) FROM ${kind.grants} p JOIN team_members m ON m.team_id = p.team_id
      WHERE p.${kind.key} = ${resourceColumn} AND m.user_id = ${userParam}),
    ${defaultParam})`;
}

/**
 * A WHERE clause keeping the rows whose resource (in `column`) the viewer may read. `param`
 * appends a value to the caller's parameter list and returns its placeholder.
 */
export function readableWhere(kind: GrantKind, viewer: ExperimentViewer, column: string, param: (value: unknown, cast: string) => string): string {
  return `${rankExpression(kind, column, param(viewer.userId, '::bigint'), param(permissionRank(viewer.defaultPermission), '::smallint'))} >= 1`;
}

/** A WHERE clause keeping the rows whose experiment the viewer may read. */
export const readableBy = (viewer: ExperimentViewer, experimentColumn: string, param: (value: unknown, cast: string) => string): string =>
  readableWhere(EXPERIMENT_GRANTS, viewer, experimentColumn, param);

/** The viewer's permission on one resource; undefined when it does not exist. */
export async function permissionOnResource(db: Queryable, kind: GrantKind, viewer: ExperimentViewer, resource: string): Promise<Permission | undefined> {
  const { rows } = await db.query(
    `SELECT ${rankExpression(kind, `r.${kind.key}`, '$2::bigint', '$3::smallint')} AS permission FROM ${kind.resources} r WHERE r.${kind.key} = $1`,
    [resource, viewer.userId, permissionRank(viewer.defaultPermission)],
  );
  if (rows.length === 0) return undefined;
  return permissionOfRank(z.object({ permission: z.number().int() }).parse(rows[0]).permission);
}

/** The viewer's permission on one experiment; undefined when the experiment does not exist. */
export const permissionOn = (db: Queryable, viewer: ExperimentViewer, experimentId: string): Promise<Permission | undefined> =>
  permissionOnResource(db, EXPERIMENT_GRANTS, viewer, experimentId);

/** The ids among `experimentIds` the viewer may read, in the order given. */
export async function readableAmong(db: Queryable, viewer: ExperimentViewer, experimentIds: readonly string[]): Promise<string[]> {
  const numeric = experimentIds.filter(isExperimentId);
  if (numeric.length === 0) return [];
  const { rows } = await db.query(
    `SELECT e.experiment_id FROM experiments e
     WHERE e.experiment_id = ANY($1::bigint[]) AND ${rankExpression(EXPERIMENT_GRANTS, 'e.experiment_id', '$2::bigint', '$3::smallint')} >= 1`,
    [numeric, viewer.userId, permissionRank(viewer.defaultPermission)],
  );
  const readable = new Set(rows.map((row) => String(z.object({ experiment_id: z.number().int() }).parse(row).experiment_id)));
  return numeric.filter((id) => readable.has(id));
}

/** The names among `names` of experiments the viewer may read (for lists of things naming their experiment). */
export async function readableNames(db: Queryable, viewer: ExperimentViewer, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const { rows } = await db.query(
    `SELECT e.name FROM experiments e
     WHERE e.name = ANY($1::text[]) AND ${rankExpression(EXPERIMENT_GRANTS, 'e.experiment_id', '$2::bigint', '$3::smallint')} >= 1`,
    [[...new Set(names)], viewer.userId, permissionRank(viewer.defaultPermission)],
  );
  return new Set(rows.map((row) => z.object({ name: z.string() }).parse(row).name));
}

export type GrantTarget = { userId: string } | { teamId: string };

/** One grant on a resource (an experiment id, a registered model's name) to a user or a team. */
export interface Grant {
  resource: string;
  username?: string;
  userId?: string;
  team?: string;
  permission: Permission;
}

const GrantRow = z.object({
  resource: z.string(),
  user_id: z.number().int().nullable(),
  username: z.string().nullable(),
  team: z.string().nullable(),
  permission: z.number().int(),
});

const toGrant = (raw: unknown): Grant => {
  const row = GrantRow.parse(raw);
  return {
    resource: row.resource,
    ...(row.user_id !== null && { userId: String(row.user_id) }),
    ...(row.username !== null && { username: row.username }),
    ...(row.team !== null && { team: row.team }),
    permission: permissionOfRank(row.permission),
  };
};

const selectGrant = (kind: GrantKind): string => `
  SELECT p.${kind.key}::text AS resource, p.user_id, u.username, t.name AS team, p.permission
  FROM ${kind.grants} p LEFT JOIN users u ON u.user_id = p.user_id LEFT JOIN teams t ON t.team_id = p.team_id`;

const targetColumn = (target: GrantTarget): ['user_id' | 'team_id', string] =>
  'userId' in target ? ['user_id', target.userId] : ['team_id', target.teamId];

/** Grants (or changes) a permission; returns the previous one, if any. */
export async function setGrantOn(db: Queryable, kind: GrantKind, resource: string, target: GrantTarget, permission: Permission): Promise<Permission | undefined> {
  const [column, id] = targetColumn(target);
  const { rows } = await db.query(
    `WITH previous AS (SELECT permission FROM ${kind.grants} WHERE ${kind.key} = $1 AND ${column} = $2),
     upserted AS (
       INSERT INTO ${kind.grants} (${kind.key}, ${column}, permission) VALUES ($1, $2, $3)
       ON CONFLICT (${column}, ${kind.key}) WHERE ${column} IS NOT NULL DO UPDATE SET permission = EXCLUDED.permission)
     SELECT (SELECT permission FROM previous) AS previous`,
    [resource, id, permissionRank(permission)],
  );
  const previous = z.object({ previous: z.number().int().nullable() }).parse(rows[0]).previous;
  return previous === null ? undefined : permissionOfRank(previous);
}

/** Removes a grant; false when there was none. */
export async function deleteGrantOn(db: Queryable, kind: GrantKind, resource: string, target: GrantTarget): Promise<boolean> {
  const [column, id] = targetColumn(target);
  const { rowCount } = await db.query(`DELETE FROM ${kind.grants} WHERE ${kind.key} = $1 AND ${column} = $2`, [resource, id]);
  return rowCount === 1;
}

export async function getGrantOn(db: Queryable, kind: GrantKind, resource: string, target: GrantTarget): Promise<Grant | undefined> {
  const [column, id] = targetColumn(target);
  const { rows } = await db.query(`${selectGrant(kind)} WHERE p.${kind.key} = $1 AND p.${column} = $2`, [resource, id]);
  return rows.length > 0 ? toGrant(rows[0]) : undefined;
}

/** Every grant on a resource, users first, then teams. */
export async function listGrantsOn(db: Queryable, kind: GrantKind, resource: string): Promise<Grant[]> {
  const { rows } = await db.query(`${selectGrant(kind)} WHERE p.${kind.key} = $1 ORDER BY u.username NULLS LAST, t.name`, [resource]);
  return rows.map(toGrant);
}

/** Users' own grants (not their teams'), by user then resource: one user's, or everyone's (the admin's user list). */
export async function listUserGrantsOn(db: Queryable, kind: GrantKind, userId?: string): Promise<Grant[]> {
  const where = userId === undefined ? 'p.user_id IS NOT NULL' : 'p.user_id = $1';
  const { rows } = await db.query(`${selectGrant(kind)} WHERE ${where} ORDER BY p.user_id, p.${kind.key}`, userId === undefined ? [] : [userId]);
  return rows.map(toGrant);
}

export const setGrant = (db: Queryable, experimentId: string, target: GrantTarget, permission: Permission): Promise<Permission | undefined> =>
  setGrantOn(db, EXPERIMENT_GRANTS, experimentId, target, permission);
