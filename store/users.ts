import { z } from 'zod';
import type { Queryable } from './pool';

export interface User {
  userId: string;
  username: string;
  passwordHash: string;
  isAdmin: boolean;
  createdAt: number;
}

const UserRow = z.object({
  user_id: z.number().int(),
  username: z.string(),
  password_hash: z.string(),
  is_admin: z.boolean(),
  created_at: z.number().int(),
});

const toUser = (raw: unknown): User => {
  const row = UserRow.parse(raw);
  return { userId: String(row.user_id), username: row.username, passwordHash: row.password_hash, isAdmin: row.is_admin, createdAt: row.created_at };
};

const SELECT_USER = 'SELECT user_id, username, password_hash, is_admin, created_at FROM users';

/** A username already taken. */
export class UserExistsError extends Error {
  override readonly name = 'UserExistsError';
  constructor(readonly username: string) {
    super(`User '${username}' already exists.`);
  }
}

export async function createUser(db: Queryable, input: { username: string; passwordHash: string; isAdmin: boolean; now?: number }): Promise<User> {
  const { rows } = await db.query(
    `INSERT INTO users (username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (username) DO NOTHING
     RETURNING user_id, username, password_hash, is_admin, created_at`,
    [input.username, input.passwordHash, input.isAdmin, input.now ?? Date.now()],
  );
  if (rows.length === 0) throw new UserExistsError(input.username);
  return toUser(rows[0]);
}

export async function getUserByName(db: Queryable, username: string): Promise<User | undefined> {
  const { rows } = await db.query(`${SELECT_USER} WHERE username = $1`, [username]);
  return rows.length > 0 ? toUser(rows[0]) : undefined;
}

export async function getUserById(db: Queryable, userId: string): Promise<User | undefined> {
  const { rows } = await db.query(`${SELECT_USER} WHERE user_id = $1`, [userId]);
  return rows.length > 0 ? toUser(rows[0]) : undefined;
}

export async function listUsers(db: Queryable): Promise<User[]> {
  const { rows } = await db.query(`${SELECT_USER} ORDER BY username`);
  return rows.map(toUser);
}

/** Whether any admin exists: the first admin may be created only while none does. */
export async function hasAdmin(db: Queryable): Promise<boolean> {
  const { rows } = await db.query('SELECT EXISTS (SELECT 1 FROM users WHERE is_admin) AS present');
  return z.object({ present: z.boolean() }).parse(rows[0]).present;
}

/**
 * The admins' usernames, their rows locked until the transaction ends. Demoting or deleting an
 * admin checks this first: two such requests at once then run one after the other, and the second
 * sees the first's change, so together they cannot leave no admin.
 */
export async function lockAdmins(db: Queryable): Promise<string[]> {
  const { rows } = await db.query('SELECT username FROM users WHERE is_admin ORDER BY user_id FOR UPDATE');
  return rows.map((row) => z.object({ username: z.string() }).parse(row).username);
}

/** Sets the password hash; false when no such user. */
export async function setPasswordHash(db: Queryable, username: string, passwordHash: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET password_hash = $2 WHERE username = $1', [username, passwordHash]);
  return rowCount === 1;
}

export async function setAdmin(db: Queryable, username: string, isAdmin: boolean): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET is_admin = $2 WHERE username = $1', [username, isAdmin]);
  return rowCount === 1;
}

/** Deletes the user with its tokens, memberships and grants (cascades). */
export async function deleteUser(db: Queryable, username: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM users WHERE username = $1', [username]);
  return rowCount === 1;
}
