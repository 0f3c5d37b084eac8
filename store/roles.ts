import { z } from 'zod';
import { type Permission, permissionOfRank, permissionRank } from '../domain/auth';
import { MODEL_GRANTS } from './model-permissions';
import { EXPERIMENT_GRANTS, type GrantKind } from './permissions';
import type { Queryable } from './pool';
import { TeamExistsError } from './teams';

// Teams as MLflow's roles API sees them: a role is a team (same id and name, and a description),
// its permissions are the team's grants (each with the id that API addresses it by), its
// assignments the team's memberships. Teams and grants are written by teams.ts and permissions.ts;
// this adds what only the roles view reads or changes.

/** The kinds of grant a role holds, by MLflow's resource_type. */
export const ROLE_GRANT_KINDS: ReadonlyArray<{ type: 'experiment' | 'registered_model'; kind: GrantKind }> = [
  { type: 'experiment', kind: EXPERIMENT_GRANTS },
  { type: 'registered_model', kind: MODEL_GRANTS },
];

export interface Role {
  roleId: string;
  name: string;
  description?: string;
}

export interface RoleGrant {
  grantId: string;
  roleId: string;
  resourceType: 'experiment' | 'registered_model';
  resource: string;
  permission: Permission;
}

const RoleRow = z.object({ team_id: z.number().int(), name: z.string(), description: z.string().nullable() });

const toRole = (raw: unknown): Role => {
  const row = RoleRow.parse(raw);
  return { roleId: String(row.team_id), name: row.name, ...(row.description !== null && { description: row.description }) };
};

const GrantRow = z.object({
  grant_id: z.number().int(),
  team_id: z.number().int(),
  resource_type: z.enum(['experiment', 'registered_model']),
  resource: z.string(),
  permission: z.number().int(),
});

const toGrant = (raw: unknown): RoleGrant => {
  const row = GrantRow.parse(raw);
  return { grantId: String(row.grant_id), roleId: String(row.team_id), resourceType: row.resource_type, resource: row.resource, permission: permissionOfRank(row.permission) };
};

/** Every team grant of either kind, as one relation. */
const TEAM_GRANTS = ROLE_GRANT_KINDS.map(
  ({ type, kind }) => `SELECT grant_id, team_id, '${type}' AS resource_type, ${kind.key}::text AS resource, permission FROM ${kind.grants} WHERE team_id IS NOT NULL`,
).join(' UNION ALL ');

export async function getRole(db: Queryable, roleId: string): Promise<Role | undefined> {
  const { rows } = await db.query('SELECT team_id, name, description FROM teams WHERE team_id = $1', [roleId]);
  return rows.length > 0 ? toRole(rows[0]) : undefined;
}

/** Every role, or those of the teams a user is in, by id. */
export async function listRoles(db: Queryable, memberId?: string): Promise<Role[]> {
  const { rows } =
    memberId === undefined
      ? await db.query('SELECT team_id, name, description FROM teams ORDER BY team_id')
      : await db.query('SELECT t.team_id, t.name, t.description FROM teams t JOIN team_members m USING (team_id) WHERE m.user_id = $1 ORDER BY t.team_id', [memberId]);
  return rows.map(toRole);
}

/** Renames a team or sets its description; TeamExistsError when the name is another team's. */
export async function updateRole(db: Queryable, roleId: string, change: { name?: string; description?: string }): Promise<void> {
  const { rows } = await db.query(
    `UPDATE teams SET name = COALESCE($2, name), description = COALESCE($3, description)
     WHERE team_id = $1 AND NOT EXISTS (SELECT 1 FROM teams o WHERE o.name = $2 AND o.team_id <> $1)
     RETURNING team_id`,
    [roleId, change.name ?? null, change.description ?? null],
  );
  if (rows.length === 0 && change.name !== undefined) throw new TeamExistsError(change.name);
}

/** The grants of some roles, by role then grant id. */
export async function listRoleGrants(db: Queryable, roleIds: readonly string[]): Promise<RoleGrant[]> {
  if (roleIds.length === 0) return [];
  const { rows } = await db.query(`SELECT * FROM (${TEAM_GRANTS}) g WHERE team_id = ANY($1::bigint[]) ORDER BY team_id, grant_id`, [roleIds]);
  return rows.map(toGrant);
}

/** One team grant by its id. */
export async function getRoleGrant(db: Queryable, grantId: string): Promise<RoleGrant | undefined> {
  const { rows } = await db.query(`SELECT * FROM (${TEAM_GRANTS}) g WHERE grant_id = $1`, [grantId]);
  return rows.length > 0 ? toGrant(rows[0]) : undefined;
}

/** A team's grant on one resource. */
export async function findRoleGrant(db: Queryable, type: RoleGrant['resourceType'], resource: string, roleId: string): Promise<RoleGrant | undefined> {
  const { rows } = await db.query(`SELECT * FROM (${TEAM_GRANTS}) g WHERE resource_type = $1 AND resource = $2 AND team_id = $3`, [type, resource, roleId]);
  return rows.length > 0 ? toGrant(rows[0]) : undefined;
}

/** Changes or removes a team grant by its id; false when there is none. */
export async function changeRoleGrant(db: Queryable, grantId: string, permission: Permission | 'remove'): Promise<boolean> {
  let changed = 0;
  for (const { kind } of ROLE_GRANT_KINDS) {
    const { rowCount } =
      permission === 'remove'
        ? await db.query(`DELETE FROM ${kind.grants} WHERE grant_id = $1 AND team_id IS NOT NULL`, [grantId])
        : await db.query(`UPDATE ${kind.grants} SET permission = $2 WHERE grant_id = $1 AND team_id IS NOT NULL`, [grantId, permissionRank(permission)]);
    changed += rowCount ?? 0;
  }
  return changed > 0;
}

/** The id of a user's membership of a team, as an assignment. */
export async function assignmentId(db: Queryable, roleId: string, userId: string): Promise<string | undefined> {
  const { rows } = await db.query('SELECT assignment_id FROM team_members WHERE team_id = $1 AND user_id = $2', [roleId, userId]);
  return rows.length > 0 ? String(z.object({ assignment_id: z.number().int() }).parse(rows[0]).assignment_id) : undefined;
}

/** A team's memberships, as assignments, by id. */
export async function listAssignments(db: Queryable, roleId: string): Promise<Array<{ assignmentId: string; userId: string }>> {
  const { rows } = await db.query('SELECT assignment_id, user_id FROM team_members WHERE team_id = $1 ORDER BY assignment_id', [roleId]);
  return rows.map((row) => {
    const parsed = z.object({ assignment_id: z.number().int(), user_id: z.number().int() }).parse(row);
    return { assignmentId: String(parsed.assignment_id), userId: String(parsed.user_id) };
  });
}
