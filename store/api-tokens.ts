import { z } from 'zod';
import type { Queryable } from './pool';

export interface ApiToken {
  tokenId: string;
  userId: string;
  username: string;
  isAdmin: boolean;
  name: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
  lastUsedAt?: number;
}

const TokenRow = z.object({
  token_id: z.number().int(),
  user_id: z.number().int(),
  username: z.string(),
  is_admin: z.boolean(),
  name: z.string(),
  created_at: z.number().int(),
  expires_at: z.number().int(),
  revoked_at: z.number().int().nullable(),
  last_used_at: z.number().int().nullable(),
});

const toToken = (raw: unknown): ApiToken => {
  const row = TokenRow.parse(raw);
  return {
    tokenId: String(row.token_id),
    userId: String(row.user_id),
    username: row.username,
    isAdmin: row.is_admin,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
  };
};

const SELECT_TOKEN = `
  SELECT t.token_id, t.user_id, u.username, u.is_admin, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
  FROM api_tokens t JOIN users u USING (user_id)`;

/** Records a token by the hash of its secret (the secret itself is never stored). */
export async function insertToken(
  db: Queryable,
  input: { userId: string; name: string; tokenHash: Buffer; createdAt: number; expiresAt: number },
): Promise<ApiToken> {
  const { rows } = await db.query(
    `WITH t AS (
       INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
       RETURNING token_id, user_id, name, created_at, expires_at, revoked_at, last_used_at)
     SELECT t.*, u.username, u.is_admin FROM t JOIN users u USING (user_id)`,
    [input.userId, input.name, input.tokenHash, input.createdAt, input.expiresAt],
  );
  return toToken(rows[0]);
}

// last_used_at is rewritten at most once a minute: a client logging with a token would otherwise
// write (and commit) a row on every request.
const LAST_USE_RESOLUTION_MS = 60_000;

/**
 * The live token whose secret hashes to `tokenHash` (not revoked, not expired at `now`), marking it
 * used; undefined otherwise.
 */
export async function useToken(db: Queryable, tokenHash: Buffer, now: number): Promise<ApiToken | undefined> {
  const { rows } = await db.query(
    `WITH t AS (
       SELECT token_id, user_id, name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens
       WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2),
     touched AS (
       UPDATE api_tokens SET last_used_at = $2
       WHERE token_id IN (SELECT token_id FROM t WHERE last_used_at IS NULL OR last_used_at < $2 - $3::bigint))
     SELECT t.*, u.username, u.is_admin FROM t JOIN users u USING (user_id)`,
    [tokenHash, now, LAST_USE_RESOLUTION_MS],
  );
  return rows.length > 0 ? toToken(rows[0]) : undefined;
}

export async function listTokens(db: Queryable, userId?: string): Promise<ApiToken[]> {
  const { rows } = await db.query(`${SELECT_TOKEN} WHERE $1::bigint IS NULL OR t.user_id = $1 ORDER BY t.created_at DESC, t.token_id DESC`, [
    userId ?? null,
  ]);
  return rows.map(toToken);
}

export async function getToken(db: Queryable, tokenId: string): Promise<ApiToken | undefined> {
  const { rows } = await db.query(`${SELECT_TOKEN} WHERE t.token_id = $1`, [tokenId]);
  return rows.length > 0 ? toToken(rows[0]) : undefined;
}

/** Revokes a token (idempotent: the first revocation time stays). */
export async function revokeToken(db: Queryable, tokenId: string, now: number): Promise<void> {
  await db.query('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE token_id = $1', [tokenId, now]);
}
