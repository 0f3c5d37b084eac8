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
 * The SQL of a user's permission rank on the experiment in `experimentColumn`: their own grant
 * wins (even NO_PERMISSIONS, so one member can be shut out of a team's experiment); else the
 * best grant of their teams; else the default.
 */
function rankExpression(experimentColumn: string, userParam: string, defaultParam: string): string {
  return `COALESCE(
    (SELECT p.permission FROM experiment_permissions p WHERE p.experiment_id = ${experimentColumn} AND p.user_id = ${userParam}),
    (SELECT max(p.permission) FROM experiment_permissions p JOIN team_members m ON m.team_id = p.team_id
      WHERE p.experiment_id = ${experimentColumn} AND m.user_id = ${userParam}),
    ${defaultParam})`;
}

/**
 * A WHERE clause keeping the rows whose experiment the viewer may read. `param` appends a value
 * to the caller's parameter list and returns its placeholder.
 */
export function readableBy(viewer: ExperimentViewer, experimentColumn: string, param: (value: unknown, cast: string) => string): string {
  return `${rankExpression(experimentColumn, param(viewer.userId, '::bigint'), param(permissionRank(viewer.defaultPermission), '::smallint'))} >= 1`;
}

/** The viewer's permission on one experiment; undefined when the experiment does not exist. */
export async function permissionOn(db: Queryable, viewer: ExperimentViewer, experimentId: string): Promise<Permission | undefined> {
  const { rows } = await db.query(
    `SELECT ${rankExpression('e.experiment_id', '$2::bigint', '$3::smallint')} AS permission FROM experiments e WHERE e.experiment_id = $1`,
    [experimentId, viewer.userId, permissionRank(viewer.defaultPermission)],
  );
  if (rows.length === 0) return undefined;
  return permissionOfRank(z.object({ permission: z.number().int() }).parse(rows[0]).permission);
}

/** The ids among `experimentIds` the viewer may read, in the order given. */
export async function readableAmong(db: Queryable, viewer: ExperimentViewer, experimentIds: readonly string[]): Promise<string[]> {
  const numeric = experimentIds.filter(isExperimentId);
  if (numeric.length === 0) return [];
  const { rows } = await db.query(
    `SELECT e.experiment_id FROM experiments e
     WHERE e.experiment_id = ANY($1::bigint[]) AND ${rankExpression('e.experiment_id', '$2::bigint', '$3::smallint')} >= 1`,
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
     WHERE e.name = ANY($1::text[]) AND ${rankExpression('e.experiment_id', '$2::bigint', '$3::smallint')} >= 1`,
    [[...new Set(names)], viewer.userId, permissionRank(viewer.defaultPermission)],
  );
  return new Set(rows.map((row) => z.object({ name: z.string() }).parse(row).name));
}

export type GrantTarget = { userId: string } | { teamId: string };

export interface ExperimentGrant {
  experimentId: string;
  username?: string;
  userId?: string;
  team?: string;
  permission: Permission;
}

const GrantRow = z.object({
  experiment_id: z.number().int(),
  user_id: z.number().int().nullable(),
  username: z.string().nullable(),
  team: z.string().nullable(),
  permission: z.number().int(),
});

const toGrant = (raw: unknown): ExperimentGrant => {
  const row = GrantRow.parse(raw);
  return {
    experimentId: String(row.experiment_id),
    ...(row.user_id !== null && { userId: String(row.user_id) }),
    ...(row.username !== null && { username: row.username }),
    ...(row.team !== null && { team: row.team }),
    permission: permissionOfRank(row.permission),
  };
};

const SELECT_GRANT = `
  SELECT p.experiment_id, p.user_id, u.username, t.name AS team, p.permission
  FROM experiment_permissions p LEFT JOIN users u ON u.user_id = p.user_id LEFT JOIN teams t ON t.team_id = p.team_id`;

const targetColumn = (target: GrantTarget): ['user_id' | 'team_id', string] =>
  'userId' in target ? ['user_id', target.userId] : ['team_id', target.teamId];

/** Grants (or changes) a permission; returns the previous one, if any. */
export async function setGrant(db: Queryable, experimentId: string, target: GrantTarget, permission: Permission): Promise<Permission | undefined> {
  const [column, id] = targetColumn(target);
  const { rows } = await db.query(
    `WITH previous AS (SELECT permission FROM experiment_permissions WHERE experiment_id = $1 AND ${column} = $2),
     upserted AS (
       INSERT INTO experiment_permissions (experiment_id, ${column}, permission) VALUES ($1, $2, $3)
       ON CONFLICT (${column}, experiment_id) WHERE ${column} IS NOT NULL DO UPDATE SET permission = EXCLUDED.permission)
     SELECT (SELECT permission FROM previous) AS previous`,
    [experimentId, id, permissionRank(permission)],
  );
  const previous = z.object({ previous: z.number().int().nullable() }).parse(rows[0]).previous;
  return previous === null ? undefined : permissionOfRank(previous);
}

/** Removes a grant; false when there was none. */
export async function deleteGrant(db: Queryable, experimentId: string, target: GrantTarget): Promise<boolean> {
  const [column, id] = targetColumn(target);
  const { rowCount } = await db.query(`DELETE FROM experiment_permissions WHERE experiment_id = $1 AND ${column} = $2`, [experimentId, id]);
  return rowCount === 1;
}

export async function getGrant(db: Queryable, experimentId: string, target: GrantTarget): Promise<ExperimentGrant | undefined> {
  const [column, id] = targetColumn(target);
  const { rows } = await db.query(`${SELECT_GRANT} WHERE p.experiment_id = $1 AND p.${column} = $2`, [experimentId, id]);
  return rows.length > 0 ? toGrant(rows[0]) : undefined;
}

/** Every grant on an experiment, users first, then teams. */
export async function listGrants(db: Queryable, experimentId: string): Promise<ExperimentGrant[]> {
  const { rows } = await db.query(`${SELECT_GRANT} WHERE p.experiment_id = $1 ORDER BY u.username NULLS LAST, t.name`, [experimentId]);
  return rows.map(toGrant);
}

/** A user's own grants (not their teams'), by experiment. */
export async function listUserGrants(db: Queryable, userId: string): Promise<ExperimentGrant[]> {
  const { rows } = await db.query(`${SELECT_GRANT} WHERE p.user_id = $1 ORDER BY p.experiment_id`, [userId]);
  return rows.map(toGrant);
}

/** Every user's own grants, by user then experiment (the admin's user list shows them). */
export async function listAllUserGrants(db: Queryable): Promise<ExperimentGrant[]> {
  const { rows } = await db.query(`${SELECT_GRANT} WHERE p.user_id IS NOT NULL ORDER BY p.user_id, p.experiment_id`);
  return rows.map(toGrant);
}
