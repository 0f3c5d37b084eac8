import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Principal } from '../../domain/auth';
import { Username } from '../../domain/auth';
import { useToken } from '../../store/api-tokens';
import { getUserByName } from '../../store/users';
import { MlflowError } from '../mlflow/errors';
import type { LoginThrottle } from './login-throttle';
import { hashPassword, verifyPassword } from './passwords';
import { hashToken, looksLikeToken } from './tokens';

/** MLflow's 401 wording (its client tests look for the first sentence). */
export const unauthenticated = (why = ''): MlflowError =>
  new MlflowError(
    'UNAUTHENTICATED',
    `You are not authenticated.${why ? ` ${why}` : ''} Send HTTP Basic credentials (MLFLOW_TRACKING_USERNAME and ` +
      'MLFLOW_TRACKING_PASSWORD) or an API token (MLFLOW_TRACKING_TOKEN).',
  );

/** A 401 or 429 that names the username tried, for the audit trail (never the password or token). */
export class AuthenticationFailure extends MlflowError {
  constructor(
    error: MlflowError,
    readonly attemptedUsername: string | undefined,
    readonly retryAfterSeconds?: number,
  ) {
    super(error.errorCode, error.message, error.httpStatus);
  }
}

export type Authenticator = (request: FastifyRequest) => Promise<Principal>;

// Verified (username, password) pairs, by a hash of both, against the password hash they matched:
// the MLflow client sends Basic credentials on every request, and scrypt on each would cap the API
// at ~20 requests/s per core. A changed password (a new hash) misses the cache.
const VERIFIED_CACHE_LIMIT = 10_000;

export function createAuthenticator(deps: { pool: pg.Pool; throttle: LoginThrottle; now?: () => number }): Authenticator {
  const verified = new Map<string, string>();
  // Unknown usernames still cost one scrypt, so timing does not tell which usernames exist (hashed
  // on first need, not at start: most apps never see an unknown username).
  let decoy: Promise<string> | undefined;
  const decoyHash = (): Promise<string> => (decoy ??= hashPassword('mlfleet decoy password'));
  const now = () => deps.now?.() ?? Date.now();

  async function byToken(token: string): Promise<Principal> {
    const found = looksLikeToken(token) ? await useToken(deps.pool, hashToken(token), now()) : undefined;
    if (!found) throw new AuthenticationFailure(unauthenticated('The API token is invalid, expired or revoked.'), undefined);
    return { kind: 'user', userId: found.userId, username: found.username, isAdmin: found.isAdmin, via: 'token' };
  }

  async function byPassword(username: string, password: string, clientIp: string): Promise<Principal> {
    // Clients that only speak Basic may carry a token as the password.
    if (looksLikeToken(password)) return byToken(password);
    if (!Username.safeParse(username).success) throw new AuthenticationFailure(unauthenticated('Wrong username or password.'), undefined);
    const retryAfter = deps.throttle.retryAfterSeconds(username, clientIp);
    if (retryAfter > 0) {
      throw new AuthenticationFailure(
        new MlflowError('REQUEST_LIMIT_EXCEEDED', `Too many failed sign-ins for '${username}'; try again in ${retryAfter} s.`),
        username,
        retryAfter,
      );
    }
    const user = await getUserByName(deps.pool, username);
    const key = createHash('sha256').update(`${username}\0${password}`).digest('base64');
    const ok = user
      ? verified.get(key) === user.passwordHash || (await verifyPassword(password, user.passwordHash))
      : (await verifyPassword(password, await decoyHash())) && false;
    if (!user || !ok) {
      deps.throttle.recordFailure(username, clientIp);
      throw new AuthenticationFailure(unauthenticated('Wrong username or password.'), username);
    }
    deps.throttle.recordSuccess(username);
    if (verified.size >= VERIFIED_CACHE_LIMIT) verified.clear();
    verified.set(key, user.passwordHash);
    return { kind: 'user', userId: user.userId, username: user.username, isAdmin: user.isAdmin, via: 'password' };
  }

  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'bearer') return byToken(value);
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new AuthenticationFailure(unauthenticated('The Basic credentials are malformed.'), undefined);
      return byPassword(decoded.slice(0, colon), decoded.slice(colon + 1), request.ip);
    }
    throw new AuthenticationFailure(unauthenticated(`The '${scheme.slice(0, 20)}' authorization scheme is not supported.`), undefined);
  };
}
