import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { LoginThrottle } from '../../api/auth/login-throttle';
import { hashPassword } from '../../api/auth/passwords';
import { generateToken, hashToken } from '../../api/auth/tokens';
import { insertToken, revokeToken } from '../../store/api-tokens';
import { listAuditEvents } from '../../store/audit';
import { setGrant } from '../../store/permissions';
import { addTeamMember, createTeam } from '../../store/teams';
import { createUser, type User } from '../../store/users';
import { uniqueId } from '../helpers/launches';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

let ctx: WorkflowTestContext;
let app: FastifyInstance;
let baseUrl: string;
let clock = Date.now();
const throttle = new LoginThrottle({ maxFailures: 5, windowMs: 60_000, now: () => clock });
const logged: string[] = [];
const PASSWORD = 'correct horse battery staple';
let admin: User;
let adminToken: string;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logged.push(chunk.toString('utf8')));
  app = buildApp({
    pool: ctx.pool,
    temporal: ctx.client,
    taskQueue: uniqueId('auth'),
    artifactRoot: ctx.artifactRoot,
    auth: { enabled: true, defaultPermission: 'NO_PERMISSIONS' },
    loginThrottle: throttle,
    // Everything Fastify would log, at its most talkative.
    logger: { stream, level: 'trace' },
  });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  admin = await createUser(ctx.pool, { username: uniqueId('admin'), passwordHash: await hashPassword(PASSWORD), isAdmin: true });
  adminToken = await tokenFor(admin);
});

afterAll(async () => {
  await app.close();
  await ctx.close();
});

async function tokenFor(user: User, expiresAt = Date.now() + 3_600_000): Promise<string> {
  const token = generateToken();
  await insertToken(ctx.pool, { userId: user.userId, name: 'test', tokenHash: hashToken(token), createdAt: Date.now(), expiresAt });
  return token;
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

async function call(authorization: string | undefined, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(authorization && { authorization }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
}

test('a user who may read 6 of 10 experiments finds exactly those, and their runs, across page boundaries', async () => {
  const reader = await createUser(ctx.pool, { username: uniqueId('reader'), passwordHash: await hashPassword(PASSWORD), isAdmin: false });
  const team = await createTeam(ctx.pool, uniqueId('readers'));
  await addTeamMember(ctx.pool, team.teamId, reader.userId);
  const prefix = uniqueId('paged');
  const ids: string[] = [];
  const readable: string[] = [];
  for (let i = 0; i < 10; i++) {
    const created = await call(`Bearer ${adminToken}`, 'POST', '/api/2.0/mlflow/experiments/create', { name: `${prefix}-${i}` });
    const id = created.json.experiment_id as string;
    ids.push(id);
    for (let r = 0; r < 2; r++) await call(`Bearer ${adminToken}`, 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: id, run_name: `${prefix}-${i}-${r}` });
    // Three through their own grants, three through their team's; one own NO_PERMISSIONS overrides a team grant.
    if (i < 3) await setGrant(ctx.pool, id, { userId: reader.userId }, i === 0 ? 'MANAGE' : 'READ');
    if (i >= 3 && i < 7) await setGrant(ctx.pool, id, { teamId: team.teamId }, 'READ');
    if (i === 6) await setGrant(ctx.pool, id, { userId: reader.userId }, 'NO_PERMISSIONS');
    if (i < 6) readable.push(`${prefix}-${i}`);
  }
  const auth = basic(reader.username, PASSWORD);

  const names: string[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const page = await call(auth, 'POST', '/api/2.0/mlflow/experiments/search', {
      filter: `name LIKE '${prefix}-%'`,
      max_results: 4,
      order_by: ['name ASC'],
      ...(pageToken && { page_token: pageToken }),
    });
    expect(page.status).toBe(200);
    names.push(...((page.json.experiments as { name: string }[] | undefined) ?? []).map((e) => e.name));
    pageToken = page.json.next_page_token as string | undefined;
    pages++;
  } while (pageToken);
  expect(names).toEqual(readable);
  expect(pages).toBe(2);

  const runNames: string[] = [];
  pageToken = undefined;
  pages = 0;
  do {
    const page = await call(auth, 'POST', '/api/2.0/mlflow/runs/search', {
      experiment_ids: ids,
      max_results: 5,
      order_by: ['attributes.run_name ASC'],
      ...(pageToken && { page_token: pageToken }),
    });
    expect(page.status).toBe(200);
    runNames.push(...((page.json.runs as { info: { run_name: string } }[] | undefined) ?? []).map((r) => r.info.run_name));
    pageToken = page.json.next_page_token as string | undefined;
    pages++;
  } while (pageToken);
  expect(runNames).toEqual(readable.flatMap((name) => [`${name}-0`, `${name}-1`]));
  expect(pages).toBe(3);

  // The admin sees all ten.
  const all = await call(`Bearer ${adminToken}`, 'POST', '/api/2.0/mlflow/experiments/search', { filter: `name LIKE '${prefix}-%'`, max_results: 100 });
  expect((all.json.experiments as unknown[]).length).toBe(10);
});

test('no credentials, wrong ones and unknown schemes are 401 UNAUTHENTICATED with a challenge; the right ones pass', async () => {
  for (const authorization of [undefined, basic(admin.username, 'wrong password!!'), basic(uniqueId('nobody'), PASSWORD), 'Bearer mlf_nope', 'Digest x']) {
    const answer = await call(authorization, 'GET', '/api/2.0/mlflow/experiments/search');
    expect(answer.status).toBe(401);
    expect(answer.json.error_code).toBe('UNAUTHENTICATED');
    expect(answer.json.message).toMatch(/^You are not authenticated\./);
    expect(answer.headers.get('www-authenticate')).toBe('Basic realm="mlfleet", charset="UTF-8"');
  }
  expect((await call(basic(admin.username, PASSWORD), 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  expect((await call(`Bearer ${adminToken}`, 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  // A client that speaks only Basic may send a token as the password.
  expect((await call(basic('anyone', adminToken), 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  // Public routes stay open.
  expect((await fetch(`${baseUrl}/health`)).status).toBe(200);
});

test('wrong passwords are throttled per username, even for the right password, until the window passes', async () => {
  const user = await createUser(ctx.pool, { username: uniqueId('guessed'), passwordHash: await hashPassword(PASSWORD), isAdmin: false });
  for (let i = 0; i < 5; i++) expect((await call(basic(user.username, `guess number ${i}`), 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(401);
  const blocked = await call(basic(user.username, PASSWORD), 'GET', '/api/2.0/mlflow/experiments/search');
  expect(blocked.status).toBe(429);
  expect(blocked.json.error_code).toBe('REQUEST_LIMIT_EXCEEDED');
  expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  // Other users are not locked out by it.
  expect((await call(basic(admin.username, PASSWORD), 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  clock += 61_000;
  expect((await call(basic(user.username, PASSWORD), 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  // The failures are in the audit trail, under the username tried.
  const { events } = await listAuditEvents(ctx.pool, { limit: 100, action: 'access.denied' });
  expect(events.filter((e) => e.detail.username === user.username).map((e) => e.detail.reason)).toEqual(
    expect.arrayContaining(['UNAUTHENTICATED', 'REQUEST_LIMIT_EXCEEDED']),
  );
});

test('revoked and expired tokens fail; tokens and passwords never reach the log or the audit trail', async () => {
  const user = await createUser(ctx.pool, { username: uniqueId('tokened'), passwordHash: await hashPassword(PASSWORD), isAdmin: false });
  const live = await tokenFor(user);
  const expired = await tokenFor(user, Date.now() - 1);
  const revoked = await tokenFor(user);
  const { rows } = await ctx.pool.query<{ token_id: number }>('SELECT token_id FROM api_tokens WHERE token_hash = $1', [hashToken(revoked)]);
  await revokeToken(ctx.pool, String(rows[0]!.token_id), Date.now());

  expect((await call(`Bearer ${live}`, 'GET', '/api/2.0/mlflow/experiments/search')).status).toBe(200);
  for (const token of [expired, revoked]) {
    const answer = await call(`Bearer ${token}`, 'GET', '/api/2.0/mlflow/experiments/search');
    expect(answer.status).toBe(401);
    expect(answer.json.message).toContain('The API token is invalid, expired or revoked.');
  }
  // A request that fails inside a handler logs at error level: still no credentials.
  await call(`Bearer ${live}`, 'GET', '/api/2.0/mlflow/runs/get?run_id=nope');
  await call(basic(user.username, PASSWORD), 'GET', '/api/2.0/mlflow/experiments/search');
  await new Promise((resolve) => setImmediate(resolve));
  const log = logged.join('');
  expect(log.length).toBeGreaterThan(0);
  for (const secret of [live, expired, revoked, PASSWORD, Buffer.from(`${user.username}:${PASSWORD}`).toString('base64')]) {
    expect(log).not.toContain(secret);
  }
  const audit = JSON.stringify((await listAuditEvents(ctx.pool, { limit: 1000 })).events);
  for (const secret of [live, expired, revoked, PASSWORD]) expect(audit).not.toContain(secret);
  // Stored hashed: the database holds sha256 digests only.
  const stored = await ctx.pool.query<{ token_hash: Buffer }>('SELECT token_hash FROM api_tokens WHERE user_id = $1', [user.userId]);
  expect(stored.rows.map((r) => r.token_hash.toString('hex')).sort()).toEqual([live, expired, revoked].map((t) => hashToken(t).toString('hex')).sort());
  const hashes = await ctx.pool.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE user_id = $1', [user.userId]);
  expect(hashes.rows[0]!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
});

test('denied requests are recorded with who, what and when', async () => {
  const outsider = await createUser(ctx.pool, { username: uniqueId('outsider'), passwordHash: await hashPassword(PASSWORD), isAdmin: false });
  const token = await tokenFor(outsider);
  const created = await call(`Bearer ${adminToken}`, 'POST', '/api/2.0/mlflow/experiments/create', { name: uniqueId('private') });
  const before = Date.now();
  const denied = await call(`Bearer ${token}`, 'POST', '/api/2.0/mlflow/experiments/delete', { experiment_id: created.json.experiment_id });
  expect(denied.status).toBe(404);
  const { events } = await listAuditEvents(ctx.pool, { limit: 10, actor: outsider.username });
  expect(events[0]).toMatchObject({
    actor: outsider.username,
    action: 'access.denied',
    target: 'POST /api/2.0/mlflow/experiments/delete',
    detail: { reason: 'RESOURCE_DOES_NOT_EXIST', rule: 'experiment', need: 'MANAGE' },
  });
  expect(events[0]!.at).toBeGreaterThanOrEqual(before);
});
