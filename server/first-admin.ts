import type pg from 'pg';
import type { z } from 'zod';
import { Password, Username } from '../domain/auth';
import { withTransaction } from '../store/pool';
import { createUser, getUserByName, hasAdmin, setAdmin, setPasswordHash, UserExistsError } from '../store/users';
import { auditSystemChange } from '../api/auth/audit-trail';
import { hashPassword } from '../api/auth/passwords';

// How the first admin comes to be: mlfleet has no open sign-up, so with auth on somebody must exist
// who can create the others. Either the server's environment names one (MLFLEET_ADMIN_USERNAME and
// MLFLEET_ADMIN_PASSWORD, checked at every start) or an operator with database access runs
// `mlfleet admin create`.

/** A bad admin username or password, named by where it came from; never holds the password. */
export class AdminSetupError extends Error {
  override readonly name = 'AdminSetupError';
}

function checked<T>(schema: z.ZodType<T>, value: string, source: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AdminSetupError(`${source}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

export type FirstAdminOutcome =
  /** Neither variable is set. */
  | { action: 'none' }
  /** The user did not exist and was created as an admin. */
  | { action: 'created'; username: string }
  /** The user existed without admin rights and now has them (its password is left alone). */
  | { action: 'promoted'; username: string }
  /** The user existed and was an admin already. */
  | { action: 'unchanged'; username: string };

/**
 * Makes sure the admin named by MLFLEET_ADMIN_USERNAME exists and is an admin, creating it with
 * MLFLEET_ADMIN_PASSWORD if it does not. An existing user keeps its password: the variable is a
 * bootstrap secret, and a password changed since must not be reset by a restart.
 */
export async function ensureFirstAdmin(pool: pg.Pool, env: NodeJS.ProcessEnv = process.env): Promise<FirstAdminOutcome> {
  const rawUsername = env.MLFLEET_ADMIN_USERNAME ?? '';
  const rawPassword = env.MLFLEET_ADMIN_PASSWORD ?? '';
  if (rawUsername === '' && rawPassword === '') return { action: 'none' };
  if (rawUsername === '' || rawPassword === '') {
    throw new AdminSetupError('MLFLEET_ADMIN_USERNAME and MLFLEET_ADMIN_PASSWORD go together: set both, or neither');
  }
  const username = checked(Username, rawUsername, 'MLFLEET_ADMIN_USERNAME');
  const password = checked(Password, rawPassword, 'MLFLEET_ADMIN_PASSWORD');
  const via = 'MLFLEET_ADMIN_USERNAME';

  const existing = await getUserByName(pool, username);
  if (!existing) {
    const passwordHash = await hashPassword(password);
    try {
      await withTransaction(pool, async (tx) => {
        await createUser(tx, { username, passwordHash, isAdmin: true });
        await auditSystemChange(tx, 'user.create', `user:${username}`, { username, is_admin: true, via });
      });
      return { action: 'created', username };
    } catch (err) {
      // Another replica starting at the same moment created it first: then it is as if it existed.
      if (!(err instanceof UserExistsError)) throw err;
    }
  }
  return withTransaction(pool, async (tx) => {
    const user = await getUserByName(tx, username);
    if (user?.isAdmin) return { action: 'unchanged', username };
    await setAdmin(tx, username, true);
    await auditSystemChange(tx, 'user.update-admin', `user:${username}`, { username, is_admin: true, previous: false, via });
    return { action: 'promoted', username };
  });
}

/**
 * `mlfleet admin create`: a new admin, straight in the database (for the first one, or when every
 * admin's password is lost). An existing user is refused unless `replace` is set; then its
 * password is replaced and it becomes an admin.
 */
export async function createAdmin(
  pool: pg.Pool,
  rawUsername: string,
  rawPassword: string,
  opts: { replace?: boolean } = {},
): Promise<'created' | 'replaced'> {
  const username = checked(Username, rawUsername, '--username');
  const password = checked(Password, rawPassword, 'the password');
  const passwordHash = await hashPassword(password);
  const via = 'mlfleet admin create';
  return withTransaction(pool, async (tx) => {
    const existing = await getUserByName(tx, username);
    if (!existing) {
      await createUser(tx, { username, passwordHash, isAdmin: true });
      await auditSystemChange(tx, 'user.create', `user:${username}`, { username, is_admin: true, via });
      return 'created';
    }
    if (!opts.replace) throw new AdminSetupError(`user '${username}' exists; pass --force to replace its password and make it an admin`);
    await setPasswordHash(tx, username, passwordHash);
    await auditSystemChange(tx, 'user.update-password', `user:${username}`, { username, via });
    if (!existing.isAdmin) {
      await setAdmin(tx, username, true);
      await auditSystemChange(tx, 'user.update-admin', `user:${username}`, { username, is_admin: true, previous: false, via });
    }
    return 'replaced';
  });
}

/** The start-up line about the first admin and whether anyone can sign in yet; undefined when auth is off. */
export async function firstAdminNotice(pool: pg.Pool, auth: { enabled: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (!auth.enabled) return undefined;
  const outcome = await ensureFirstAdmin(pool, env);
  if (outcome.action === 'created') return `admin '${outcome.username}' created from MLFLEET_ADMIN_USERNAME`;
  if (outcome.action === 'promoted') return `user '${outcome.username}' made an admin (MLFLEET_ADMIN_USERNAME)`;
  if (await hasAdmin(pool)) return undefined;
  return 'no admin yet: set MLFLEET_ADMIN_USERNAME and MLFLEET_ADMIN_PASSWORD, or run `mlfleet admin create --username NAME`';
}
