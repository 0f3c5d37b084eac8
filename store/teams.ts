import { z } from 'zod';
import type { Queryable } from './pool';

export interface Team {
  teamId: string;
  name: string;
  members: string[];
  createdAt: number;
}

const TeamRow = z.object({ team_id: z.number().int(), name: z.string(), created_at: z.number().int(), members: z.array(z.string()) });

const toTeam = (raw: unknown): Team => {
  const row = TeamRow.parse(raw);
  return { teamId: String(row.team_id), name: row.name, members: row.members, createdAt: row.created_at };
};

const SELECT_TEAM = `
  SELECT t.team_id, t.name, t.created_at,
    COALESCE((SELECT array_agg(u.username ORDER BY u.username) FROM team_members m JOIN users u USING (user_id)
              WHERE m.team_id = t.team_id), '{}') AS members
  FROM teams t`;

export class TeamExistsError extends Error {
  override readonly name = 'TeamExistsError';
  constructor(readonly team: string) {
    super(`Team '${team}' already exists.`);
  }
}

export async function createTeam(db: Queryable, name: string, now = Date.now()): Promise<Team> {
  const { rowCount } = await db.query('INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, now]);
  if (rowCount === 0) throw new TeamExistsError(name);
  return (await getTeam(db, name)) as Team;
}

export async function getTeam(db: Queryable, name: string): Promise<Team | undefined> {
  const { rows } = await db.query(`${SELECT_TEAM} WHERE t.name = $1`, [name]);
  return rows.length > 0 ? toTeam(rows[0]) : undefined;
}

export async function listTeams(db: Queryable): Promise<Team[]> {
  const { rows } = await db.query(`${SELECT_TEAM} ORDER BY t.name`);
  return rows.map(toTeam);
}

/** The names of the teams a user belongs to. */
export async function teamsOf(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query('SELECT t.name FROM team_members m JOIN teams t USING (team_id) WHERE m.user_id = $1 ORDER BY t.name', [userId]);
  return rows.map((row) => z.object({ name: z.string() }).parse(row).name);
}

export async function deleteTeam(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM teams WHERE name = $1', [name]);
  return rowCount === 1;
}

/** Adds a member (idempotent); false when they already were one. */
export async function addTeamMember(db: Queryable, teamId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [teamId, userId]);
  return rowCount === 1;
}

export async function removeTeamMember(db: Queryable, teamId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM team_members WHERE team_id = $1 AND user_id = $2', [teamId, userId]);
  return rowCount === 1;
}
