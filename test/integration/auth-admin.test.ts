import { createHash } from 'node:crypto';
import { createAdmin, ensureFirstAdmin } from '../../server/first-admin';
import { ensureExperiment } from '../../store/experiments';
import { getUserByName } from '../../store/users';
import { startAuthApi, type AuthApi } from '../helpers/auth-api';
import { uniqueId } from '../helpers/launches';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Users, permissions, teams, tokens and the audit trail through the API with access control on,
// on a database of this file's own: "every user" and "the last admin" mean this file's.
let ctx: WorkflowTestContext;
let db: ScratchDatabase;
let api: AuthApi;

const PASSWORD = 'correct horse battery';
const ADMIN = { username: 'root', password: 'root password 1234' };

type Credentials = { username: string; password: string } | { token: string } | undefined;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, opts: { as?: Credentials; body?: unknown; query?: Record<string, string> } = {}): Promise<Answer> {
  const as = opts.as;
  const authorization =
    as === undefined ? undefined : 'token' in as ? `Bearer ${as.token}` : `Basic ${Buffer.from(`${as.username}:${as.password}`).toString('base64')}`;
  const query = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
  const response = await fetch(`${api.url}${path}${query}`, {
    method,
    headers: {
      ...(authorization !== undefined && { authorization }),
      ...(opts.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const mlflow = (method: string, endpoint: string, opts: Parameters<typeof call>[2] = {}) => call(method, `/api/2.0/mlflow/${endpoint}`, opts);
const mlflow3 = (method: string, endpoint: string, opts: Parameters<typeof call>[2] = {}) => call(method, `/api/3.0/mlflow/${endpoint}`, opts);

const error = (status: number, error_code: string, message?: string | RegExp) => ({
  status,
  json: { error_code, message: (message === undefined ? expect.any(String) : typeof message === 'string' ? message : expect.stringMatching(message)) as string },
});

/** A new user (created by the admin), with the credentials to act as them. */
async function newUser(prefix: string): Promise<{ username: string; password: string; id: number }> {
  const username = uniqueId(prefix);
  const { status, json } = await mlflow('POST', 'users/create', { as: ADMIN, body: { username, password: PASSWORD } });
  expect(status).toBe(200);
  return { username, password: PASSWORD, id: (json.user as { id: number }).id };
}

async function newExperiment(): Promise<string> {
  const { experiment } = await ensureExperiment(db.pool, uniqueId('auth-exp'), ctx.artifactRoot);
  return experiment.experiment_id;
}

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  db = await createScratchDatabase('auth_admin');
  expect(await createAdmin(db.pool, ADMIN.username, ADMIN.password)).toBe('created');
  api = await startAuthApi({ pool: db.pool, temporal: ctx.client, artifactRoot: ctx.artifactRoot });
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  await ctx?.close();
});

describe('users (MLflow basic-auth API)', () => {
  test('users/create: admins only, validated, unique; users/get: the user or an admin', async () => {
    const alice = await newUser('alice');
    const created = await mlflow('GET', 'users/get', { as: ADMIN, query: { username: alice.username } });
    expect(created).toEqual({
      status: 200,
      json: { user: { id: alice.id, username: alice.username, is_admin: false, experiment_permissions: [], registered_model_permissions: [] } },
    });
    expect(await mlflow('GET', 'users/get', { as: alice, query: { username: alice.username } })).toEqual(created);
    expect(await mlflow('GET', 'users/current', { as: alice })).toMatchObject({ status: 200, json: { user: { username: alice.username }, is_basic_auth: true } });

    // No sign-up: anonymous callers are not authenticated, users are not admins.
    expect(await mlflow('POST', 'users/create', { body: { username: uniqueId('x'), password: PASSWORD } })).toEqual(
      error(401, 'UNAUTHENTICATED', /^You are not authenticated\./),
    );
    expect(await mlflow('POST', 'users/create', { as: alice, body: { username: uniqueId('x'), password: PASSWORD } })).toEqual(error(403, 'PERMISSION_DENIED'));
    expect(await mlflow('POST', 'users/create', { as: ADMIN, body: { username: alice.username, password: PASSWORD } })).toEqual(
      error(400, 'RESOURCE_ALREADY_EXISTS', `User (username=${alice.username}) already exists.`),
    );
    expect(await mlflow('POST', 'users/create', { as: ADMIN, body: { username: uniqueId('x'), password: 'short' } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', 'the password must be at least 12 characters'),
    );
    expect(await mlflow('POST', 'users/create', { as: ADMIN, body: { username: 'no spaces allowed', password: PASSWORD } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', /^invalid username 'no spaces allowed'/),
    );
    expect(await mlflow('POST', 'users/create', { as: ADMIN, body: { password: PASSWORD } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', "Missing value for required parameter 'username'. See the API docs for more information about request parameters."),
    );

    const bob = await newUser('bob');
    expect(await mlflow('GET', 'users/get', { as: bob, query: { username: alice.username } })).toEqual(error(403, 'PERMISSION_DENIED'));
    expect(await mlflow('GET', 'users/get', { as: ADMIN, query: { username: 'nobody-here' } })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', 'User with username=nobody-here not found'),
    );
    // The UI's path reaches the same handlers.
    expect((await call('GET', '/ajax-api/2.0/mlflow/users/get', { as: bob, query: { username: bob.username } })).status).toBe(200);
  });

  test('users/list is for admins and lists every user', async () => {
    const carol = await newUser('carol');
    expect(await mlflow('GET', 'users/list', { as: carol })).toEqual(error(403, 'PERMISSION_DENIED'));
    const { status, json } = await mlflow('GET', 'users/list', { as: ADMIN });
    expect(status).toBe(200);
    const users = json.users as Array<{ username: string; is_admin: boolean }>;
    expect(users.map((u) => u.username)).toEqual(expect.arrayContaining([ADMIN.username, carol.username]));
    expect(users.find((u) => u.username === ADMIN.username)?.is_admin).toBe(true);
    expect(JSON.stringify(users)).not.toMatch(/password|scrypt/);
  });

  test('update-password: yourself with the current password, or an admin for anyone', async () => {
    const dave = await newUser('dave');
    const next = 'a new password 5678';
    expect(await mlflow('PATCH', 'users/update-password', { as: dave, body: { username: dave.username, password: next } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', 'Current password is required when changing your own password.'),
    );
    expect(
      await mlflow('PATCH', 'users/update-password', { as: dave, body: { username: dave.username, password: next, current_password: 'wrong password 000' } }),
    ).toEqual(error(400, 'INVALID_PARAMETER_VALUE', 'Current password does not match.'));
    expect(
      await mlflow('PATCH', 'users/update-password', { as: dave, body: { username: dave.username, password: 'short', current_password: dave.password } }),
    ).toEqual(error(400, 'INVALID_PARAMETER_VALUE', 'the password must be at least 12 characters'));
    expect(await mlflow('PATCH', 'users/update-password', { as: dave, body: { username: dave.username, password: next, current_password: dave.password } })).toEqual({
      status: 200,
      json: {},
    });
    expect((await mlflow('GET', 'users/current', { as: dave })).status).toBe(401);
    expect((await mlflow('GET', 'users/current', { as: { username: dave.username, password: next } })).status).toBe(200);

    const erin = await newUser('erin');
    expect(await mlflow('PATCH', 'users/update-password', { as: erin, body: { username: dave.username, password: 'erin was here 123' } })).toEqual(
      error(403, 'PERMISSION_DENIED'),
    );
    // An admin resets it without knowing it.
    const reset = 'reset by the admin 99';
    expect((await mlflow('PATCH', 'users/update-password', { as: ADMIN, body: { username: dave.username, password: reset } })).status).toBe(200);
    expect((await mlflow('GET', 'users/current', { as: { username: dave.username, password: reset } })).status).toBe(200);
    expect(await mlflow('PATCH', 'users/update-password', { as: ADMIN, body: { username: 'nobody-here', password: reset } })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', 'User with username=nobody-here not found'),
    );
  });

  test('update-admin and delete: admins only; nobody deletes themselves or the last admin', async () => {
    const frank = await newUser('frank');
    const grace = await newUser('grace');
    expect(await mlflow('PATCH', 'users/update-admin', { as: frank, body: { username: frank.username, is_admin: true } })).toEqual(error(403, 'PERMISSION_DENIED'));
    expect(await mlflow('PATCH', 'users/update-admin', { as: ADMIN, body: { username: frank.username, is_admin: true } })).toEqual({ status: 200, json: {} });
    expect((await mlflow('GET', 'users/list', { as: frank })).status).toBe(200);

    // MLflow's client sends DELETE with a JSON body.
    expect(await mlflow('DELETE', 'users/delete', { as: grace, body: { username: frank.username } })).toEqual(error(403, 'PERMISSION_DENIED'));
    expect(await mlflow('DELETE', 'users/delete', { as: frank, body: { username: grace.username } })).toEqual({ status: 200, json: {} });
    expect(await mlflow('GET', 'users/current', { as: grace })).toEqual(error(401, 'UNAUTHENTICATED'));
    expect(await mlflow('DELETE', 'users/delete', { as: frank, body: { username: grace.username } })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', `User with username=${grace.username} not found`),
    );
    expect(await mlflow('DELETE', 'users/delete', { as: frank, body: { username: frank.username } })).toEqual(
      error(400, 'BAD_REQUEST', 'Users cannot delete their own account. Ask another admin to delete this user instead.'),
    );

    // Every other admin demoted, frank is the last one and stays one.
    const { json } = await mlflow('GET', 'users/list', { as: ADMIN });
    const admins = (json.users as Array<{ username: string; is_admin: boolean }>).filter((u) => u.is_admin).map((u) => u.username);
    for (const admin of admins.filter((name) => name !== frank.username)) {
      expect((await mlflow('PATCH', 'users/update-admin', { as: frank, body: { username: admin, is_admin: false } })).status).toBe(200);
    }
    expect(await mlflow('PATCH', 'users/update-admin', { as: frank, body: { username: frank.username, is_admin: false } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', `Cannot demote '${frank.username}': it is the last admin. Make another user an admin first.`),
    );
    for (const admin of admins.filter((name) => name !== frank.username)) {
      expect((await mlflow('PATCH', 'users/update-admin', { as: frank, body: { username: admin, is_admin: true } })).status).toBe(200);
    }
    expect((await mlflow('PATCH', 'users/update-admin', { as: ADMIN, body: { username: frank.username, is_admin: false } })).status).toBe(200);
    expect(await mlflow('GET', 'users/list', { as: frank })).toEqual(error(403, 'PERMISSION_DENIED'));
  });
});

describe('experiment permissions', () => {
  test('experiments/permissions/create|get|update|delete need MANAGE on the experiment', async () => {
    const experimentId = await newExperiment();
    const owner = await newUser('owner');
    const reader = await newUser('reader');
    const grant = (as: Credentials, username: string, permission: string) =>
      mlflow('POST', 'experiments/permissions/create', { as, body: { experiment_id: experimentId, username, permission } });
    const get = (as: Credentials, username: string) => mlflow('GET', 'experiments/permissions/get', { as, query: { experiment_id: experimentId, username } });

    // Without READ the experiment is hidden: the same 404 as a missing one.
    expect(await get(owner, owner.username)).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`));
    expect(await grant(owner, owner.username, 'MANAGE')).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`));

    expect(await grant(ADMIN, owner.username, 'READ')).toEqual({
      status: 200,
      json: { experiment_permission: { experiment_id: experimentId, user_id: owner.id, permission: 'READ' } },
    });
    expect(await grant(ADMIN, owner.username, 'EDIT')).toEqual(
      error(400, 'RESOURCE_ALREADY_EXISTS', `Experiment permission (experiment_id=${experimentId}, username=${owner.username}) already exists.`),
    );
    expect(await get(ADMIN, owner.username)).toMatchObject({ status: 200, json: { experiment_permission: { permission: 'READ' } } });
    // READ is not MANAGE: now a 403.
    expect(await get(owner, owner.username)).toEqual(error(403, 'PERMISSION_DENIED', /MANAGE on experiment/));

    expect(
      await mlflow('PATCH', 'experiments/permissions/update', { as: ADMIN, body: { experiment_id: experimentId, username: owner.username, permission: 'MANAGE' } }),
    ).toEqual({ status: 200, json: {} });
    expect(await get(owner, owner.username)).toMatchObject({ status: 200, json: { experiment_permission: { permission: 'MANAGE' } } });

    // A manager grants to others.
    expect(await grant(owner, reader.username, 'READ')).toMatchObject({ status: 200, json: { experiment_permission: { user_id: reader.id } } });
    expect(await grant(owner, reader.username, 'OWNER')).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', "Invalid permission 'OWNER'. Valid permissions are: ('NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE')"),
    );
    expect(await grant(owner, 'nobody-here', 'READ')).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', 'User with username=nobody-here not found'));
    expect(await mlflow('GET', 'experiments/permissions/get', { as: ADMIN, query: { experiment_id: '999999999', username: owner.username } })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=999999999 exists'),
    );
    expect(await mlflow('GET', 'users/get', { as: reader, query: { username: reader.username } })).toMatchObject({
      json: { user: { experiment_permissions: [{ experiment_id: experimentId, user_id: reader.id, permission: 'READ' }] } },
    });

    expect(
      await mlflow('DELETE', 'experiments/permissions/delete', { as: owner, body: { experiment_id: experimentId, username: reader.username } }),
    ).toEqual({ status: 200, json: {} });
    const missing = error(404, 'RESOURCE_DOES_NOT_EXIST', `Experiment permission with experiment_id=${experimentId} and username=${reader.username} not found`);
    expect(await get(owner, reader.username)).toEqual(missing);
    expect(await mlflow('DELETE', 'experiments/permissions/delete', { as: owner, body: { experiment_id: experimentId, username: reader.username } })).toEqual(missing);
    expect(
      await mlflow('PATCH', 'experiments/permissions/update', { as: owner, body: { experiment_id: experimentId, username: reader.username, permission: 'EDIT' } }),
    ).toEqual(missing);
  });

  test('3.0 users/permissions/grant|revoke|get on experiments; get is the effective permission', async () => {
    const experimentId = await newExperiment();
    const henry = await newUser('henry');
    const body = { username: henry.username, resource_type: 'experiment', resource_id: experimentId };
    const effective = () => mlflow3('GET', 'users/permissions/get', { as: ADMIN, query: body });

    expect(await effective()).toEqual({ status: 200, json: { allowed: false, permission: 'NO_PERMISSIONS' } }); // the default
    expect(await mlflow3('POST', 'users/permissions/grant', { as: ADMIN, body: { ...body, permission: 'READ' } })).toEqual({ status: 200, json: {} });
    // MLflow's `allowed` is "may use": READ alone is not.
    expect(await effective()).toEqual({ status: 200, json: { allowed: false, permission: 'READ' } });
    expect(await mlflow3('POST', 'users/permissions/grant', { as: ADMIN, body: { ...body, permission: 'EDIT' } })).toEqual(
      error(400, 'RESOURCE_ALREADY_EXISTS', `Permission for user=${henry.username} on resource_type=experiment, resource_id=${experimentId} already exists.`),
    );
    // henry may ask about himself, but holds READ, not MANAGE, so not about others.
    expect(await mlflow3('GET', 'users/permissions/get', { as: henry, query: body })).toEqual({ status: 200, json: { allowed: false, permission: 'READ' } });
    expect(await mlflow3('GET', 'users/permissions/get', { as: henry, query: { ...body, username: ADMIN.username } })).toEqual(error(403, 'PERMISSION_DENIED'));

    // A team's grant counts in the effective permission.
    const team = uniqueId('team');
    expect((await call('POST', '/api/v1/teams', { as: ADMIN, body: { name: team } })).status).toBe(201);
    expect((await call('POST', `/api/v1/teams/${team}/members`, { as: ADMIN, body: { username: henry.username } })).status).toBe(200);
    expect((await call('PUT', `/api/v1/experiments/${experimentId}/grants`, { as: ADMIN, body: { team, permission: 'EDIT' } })).status).toBe(200);
    expect((await mlflow3('POST', 'users/permissions/revoke', { as: ADMIN, body })).status).toBe(200);
    expect(await effective()).toEqual({ status: 200, json: { allowed: true, permission: 'EDIT' } });
    expect(await mlflow3('POST', 'users/permissions/revoke', { as: ADMIN, body })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', `Permission for user=${henry.username} on resource_type=experiment, resource_id=${experimentId} not found.`),
    );

    expect(await mlflow3('GET', 'users/permissions/get', { as: ADMIN, query: { ...body, username: ADMIN.username } })).toEqual({
      status: 200,
      json: { allowed: true, permission: 'MANAGE' },
    });
    expect(await mlflow3('POST', 'users/permissions/grant', { as: ADMIN, body: { ...body, resource_type: 'scorer', permission: 'READ' } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', "Invalid resource type 'scorer'. Valid resource types are: ('experiment', 'prompt', 'registered_model')"),
    );
    // A non-admin asking about another resource type passes the experiment rule and gets the 400 too.
    expect((await mlflow3('POST', 'users/permissions/grant', { as: henry, body: { ...body, resource_type: 'scorer', permission: 'READ' } })).status).toBe(400);
    expect(await call('GET', '/ajax-api/3.0/mlflow/users/permissions/get', { as: ADMIN, query: { ...body, resource_id: '999999999' } })).toEqual({
      status: 200,
      json: { allowed: false, permission: 'NO_PERMISSIONS' },
    });
  });

  test('/api/v1/experiments/:id/grants: users and teams, MANAGE on the experiment', async () => {
    const experimentId = await newExperiment();
    const ivy = await newUser('ivy');
    const jack = await newUser('jack');
    const team = uniqueId('crew');
    expect((await call('POST', '/api/v1/teams', { as: ADMIN, body: { name: team } })).status).toBe(201);
    const path = `/api/v1/experiments/${experimentId}/grants`;

    expect(await call('GET', path, { as: ivy })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`));
    expect(await call('PUT', path, { as: ADMIN, body: { username: ivy.username, permission: 'READ' } })).toEqual({
      status: 200,
      json: { experiment_id: experimentId, username: ivy.username, permission: 'READ' },
    });
    expect(await call('PUT', path, { as: ivy, body: { username: ivy.username, permission: 'MANAGE' } })).toEqual(error(403, 'PERMISSION_DENIED'));
    expect((await call('PUT', path, { as: ADMIN, body: { username: ivy.username, permission: 'MANAGE' } })).json).toMatchObject({ permission: 'MANAGE' });
    expect(await call('PUT', path, { as: ivy, body: { team, permission: 'EDIT' } })).toEqual({ status: 200, json: { experiment_id: experimentId, team, permission: 'EDIT' } });
    expect(await call('GET', path, { as: ivy })).toEqual({
      status: 200,
      json: {
        grants: [
          { experiment_id: experimentId, username: ivy.username, permission: 'MANAGE' },
          { experiment_id: experimentId, team, permission: 'EDIT' },
        ],
      },
    });
    expect(await call('PUT', path, { as: ivy, body: { username: jack.username, team, permission: 'EDIT' } })).toEqual(
      error(400, 'INVALID_PARAMETER_VALUE', 'body: give exactly one of username or team'),
    );
    expect(await call('PUT', path, { as: ivy, body: { team: 'no-such-team', permission: 'EDIT' } })).toEqual(
      error(404, 'RESOURCE_DOES_NOT_EXIST', "Team 'no-such-team' not found"),
    );
    expect(await call('DELETE', path, { as: ivy, body: { team } })).toEqual({ status: 200, json: {} });
    expect(await call('DELETE', path, { as: ivy, body: { team } })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `No grant to team '${team}' on experiment ${experimentId}`));
    expect(await call('GET', path, { as: jack })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST'));
    expect(await call('GET', '/api/v1/experiments/999999999/grants', { as: ADMIN })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', 'No Experiment with id=999999999 exists'));
  });
});

test('teams and their members: admins change them, signed-in users read them', async () => {
  const kim = await newUser('kim');
  const name = uniqueId('team');
  expect(await call('POST', '/api/v1/teams', { as: kim, body: { name } })).toEqual(error(403, 'PERMISSION_DENIED'));
  expect(await call('POST', '/api/v1/teams', { as: ADMIN, body: { name } })).toEqual({ status: 201, json: { name, members: [], created_at: expect.any(Number) as number } });
  expect(await call('POST', '/api/v1/teams', { as: ADMIN, body: { name } })).toEqual(error(400, 'RESOURCE_ALREADY_EXISTS', `Team '${name}' already exists.`));
  expect(await call('POST', '/api/v1/teams', { as: ADMIN, body: { name: 'bad name' } })).toEqual(error(400, 'INVALID_PARAMETER_VALUE', /^name: invalid team name 'bad name'/));

  expect(await call('POST', `/api/v1/teams/${name}/members`, { as: ADMIN, body: { username: kim.username } })).toMatchObject({ status: 200, json: { members: [kim.username] } });
  expect(await call('POST', `/api/v1/teams/${name}/members`, { as: ADMIN, body: { username: 'nobody-here' } })).toEqual(
    error(404, 'RESOURCE_DOES_NOT_EXIST', "User 'nobody-here' not found"),
  );
  expect(await call('GET', `/api/v1/teams/${name}`, { as: kim })).toMatchObject({ status: 200, json: { name, members: [kim.username] } });
  expect((await call('GET', '/api/v1/teams', { as: kim })).json.teams).toEqual(expect.arrayContaining([expect.objectContaining({ name })]));
  expect(await call('GET', '/api/v1/teams')).toEqual(error(401, 'UNAUTHENTICATED'));

  expect(await call('DELETE', `/api/v1/teams/${name}/members/${kim.username}`, { as: kim })).toEqual(error(403, 'PERMISSION_DENIED'));
  expect(await call('DELETE', `/api/v1/teams/${name}/members/${kim.username}`, { as: ADMIN })).toMatchObject({ status: 200, json: { members: [] } });
  expect(await call('DELETE', `/api/v1/teams/${name}/members/${kim.username}`, { as: ADMIN })).toEqual(
    error(404, 'RESOURCE_DOES_NOT_EXIST', `User '${kim.username}' is not a member of team '${name}'`),
  );
  expect(await call('DELETE', `/api/v1/teams/${name}`, { as: ADMIN })).toEqual({ status: 200, json: {} });
  expect(await call('GET', `/api/v1/teams/${name}`, { as: kim })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `Team '${name}' not found`));
});

test('API tokens: the secret is shown once and stored hashed; revoked and expired tokens get 401', async () => {
  const lee = await newUser('lee');
  const mia = await newUser('mia');
  const created = await call('POST', '/api/v1/tokens', { as: lee, body: { name: 'laptop', expires_in_days: 7 } });
  expect(created).toEqual({
    status: 201,
    json: {
      token_id: expect.stringMatching(/^\d+$/) as string,
      username: lee.username,
      name: 'laptop',
      created_at: expect.any(Number) as number,
      expires_at: expect.any(Number) as number,
      token: expect.stringMatching(/^mlf_[A-Za-z0-9_-]{43}$/) as string,
    },
  });
  const token = created.json.token as string;
  const tokenId = created.json.token_id as string;
  expect((created.json.expires_at as number) - (created.json.created_at as number)).toBe(7 * 86_400_000);

  // Only the SHA-256 of the secret is kept.
  const { rows } = await db.pool.query<{ token_hash: Buffer }>('SELECT token_hash FROM api_tokens WHERE token_id = $1', [tokenId]);
  expect(rows[0]?.token_hash.equals(createHash('sha256').update(token).digest())).toBe(true);
  const { rows: dump } = await db.pool.query<{ row: string }>('SELECT row_to_json(t)::text AS row FROM api_tokens t');
  expect(dump.map((r) => r.row).join('\n')).not.toContain(token.slice(4));

  // It signs in as Bearer, and as a Basic password for clients that only speak Basic.
  expect(await mlflow('GET', 'users/current', { as: { token } })).toMatchObject({ status: 200, json: { user: { username: lee.username } } });
  expect((await mlflow('GET', 'users/current', { as: { username: lee.username, password: token } })).status).toBe(200);

  // A token cannot mint its successors (a stolen one would outlive its expiry); a password can.
  expect(await call('POST', '/api/v1/tokens', { as: { token }, body: { name: 'successor' } })).toEqual(error(403, 'PERMISSION_DENIED'));

  const listed = await call('GET', '/api/v1/tokens', { as: { token } });
  expect(listed.status).toBe(200);
  expect(listed.json.tokens).toEqual([expect.objectContaining({ token_id: tokenId, name: 'laptop', last_used_at: expect.any(Number) as number })]);
  expect(JSON.stringify(listed.json)).not.toContain(token);
  expect(await call('GET', '/api/v1/tokens', { as: lee, query: { username: mia.username } })).toEqual(error(403, 'PERMISSION_DENIED'));
  const all = await call('GET', '/api/v1/tokens', { as: ADMIN, query: { username: lee.username } });
  expect(all.json.tokens).toEqual([expect.objectContaining({ token_id: tokenId })]);

  // Only admins create tokens for others; nobody but the owner (or an admin) sees one to revoke.
  expect(await call('POST', '/api/v1/tokens', { as: lee, body: { name: 'x', username: mia.username } })).toEqual(error(403, 'PERMISSION_DENIED'));
  expect(await call('POST', '/api/v1/tokens', { as: ADMIN, body: { name: 'ci', username: mia.username } })).toMatchObject({ status: 201, json: { username: mia.username } });
  expect(await call('POST', `/api/v1/tokens/${tokenId}/revoke`, { as: mia, body: {} })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `Token with id=${tokenId} not found`));
  expect(await call('POST', '/api/v1/tokens', { as: lee, body: { name: 'forever', expires_in_days: 400 } })).toEqual(error(400, 'INVALID_PARAMETER_VALUE', /^expires_in_days: /));

  const revoked = await call('POST', `/api/v1/tokens/${tokenId}/revoke`, { as: lee, body: {} });
  expect(revoked).toMatchObject({ status: 200, json: { token_id: tokenId, revoked_at: expect.any(Number) as number } });
  expect(await mlflow('GET', 'users/current', { as: { token } })).toEqual(error(401, 'UNAUTHENTICATED', /The API token is invalid, expired or revoked/));

  const second = await call('POST', '/api/v1/tokens', { as: lee, body: { name: 'short-lived', expires_in_days: 1 } });
  await db.pool.query('UPDATE api_tokens SET expires_at = $2 WHERE token_id = $1', [second.json.token_id, Date.now() - 1]);
  expect(await mlflow('GET', 'users/current', { as: { token: second.json.token as string } })).toEqual(error(401, 'UNAUTHENTICATED'));
});

test('the audit trail lists every change with its actor and time, newest first, for admins only', async () => {
  const started = Date.now();
  const nora = await newUser('nora');
  const experimentId = await newExperiment();
  await mlflow('POST', 'experiments/permissions/create', { as: ADMIN, body: { experiment_id: experimentId, username: nora.username, permission: 'READ' } });
  await mlflow('PATCH', 'experiments/permissions/update', { as: ADMIN, body: { experiment_id: experimentId, username: nora.username, permission: 'EDIT' } });
  const token = await call('POST', '/api/v1/tokens', { as: nora, body: { name: 'audit' } });
  await call('POST', `/api/v1/tokens/${String(token.json.token_id)}/revoke`, { as: nora, body: {} });
  await mlflow('DELETE', 'experiments/permissions/delete', { as: ADMIN, body: { experiment_id: experimentId, username: nora.username } });

  expect(await call('GET', '/api/v1/audit', { as: nora })).toEqual(error(403, 'PERMISSION_DENIED'));
  const { status, json } = await call('GET', '/api/v1/audit', { as: ADMIN, query: { limit: '50' } });
  expect(status).toBe(200);
  const events = (json.events as Array<{ at: number; actor?: string; action: string; target: string; detail: Record<string, unknown> }>).filter(
    (e) => e.at >= started && (e.detail.username === nora.username || e.target === `user:${nora.username}`),
  );
  expect(events.map((e) => [e.actor, e.action, e.target])).toEqual([
    [ADMIN.username, 'permission.revoke', `experiment:${experimentId}`],
    [nora.username, 'token.revoke', `token:${String(token.json.token_id)}`],
    [nora.username, 'token.create', `token:${String(token.json.token_id)}`],
    [ADMIN.username, 'permission.update', `experiment:${experimentId}`],
    [ADMIN.username, 'permission.grant', `experiment:${experimentId}`],
    [ADMIN.username, 'user.create', `user:${nora.username}`],
  ]);
  expect(events[3]?.detail).toEqual({ username: nora.username, permission: 'EDIT', previous: 'READ' });
  // Nothing secret in the trail: no password, no token.
  const everything = JSON.stringify((await call('GET', '/api/v1/audit', { as: ADMIN, query: { limit: '1000' } })).json);
  expect(everything).not.toContain(PASSWORD);
  expect(everything).not.toContain(String(token.json.token));

  // Paging: the pages follow each other without overlap; an action filter keeps one kind.
  const first = await call('GET', '/api/v1/audit', { as: ADMIN, query: { limit: '2' } });
  const next = await call('GET', '/api/v1/audit', { as: ADMIN, query: { limit: '2', page_token: String(first.json.next_page_token) } });
  const ids = [...(first.json.events as Array<{ event_id: string }>), ...(next.json.events as Array<{ event_id: string }>)].map((e) => Number(e.event_id));
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
  expect(new Set(ids).size).toBe(4);
  const creates = await call('GET', '/api/v1/audit', { as: ADMIN, query: { action: 'user.create', actor: ADMIN.username } });
  expect((creates.json.events as Array<{ action: string }>).every((e) => e.action === 'user.create')).toBe(true);
  expect(await call('GET', '/api/v1/audit', { as: ADMIN, query: { page_token: 'garbage' } })).toEqual(error(400, 'INVALID_PARAMETER_VALUE', /^page_token: /));
});

test('the first admin from MLFLEET_ADMIN_USERNAME/PASSWORD: created once, then only kept an admin', async () => {
  const username = uniqueId('boot');
  const env = { MLFLEET_ADMIN_USERNAME: username, MLFLEET_ADMIN_PASSWORD: 'bootstrap password 1' };
  expect(await ensureFirstAdmin(db.pool, {})).toEqual({ action: 'none' });
  expect(await ensureFirstAdmin(db.pool, env)).toEqual({ action: 'created', username });
  expect(await ensureFirstAdmin(db.pool, env)).toEqual({ action: 'unchanged', username });
  expect((await mlflow('GET', 'users/list', { as: { username, password: env.MLFLEET_ADMIN_PASSWORD } })).status).toBe(200);

  // Demoted and its password changed: a restart makes it an admin again and leaves the password.
  await mlflow('PATCH', 'users/update-admin', { as: ADMIN, body: { username, is_admin: false } });
  await mlflow('PATCH', 'users/update-password', { as: ADMIN, body: { username, password: 'changed since 12345' } });
  const before = await getUserByName(db.pool, username);
  expect(await ensureFirstAdmin(db.pool, { ...env, MLFLEET_ADMIN_PASSWORD: 'another one 123456' })).toEqual({ action: 'promoted', username });
  expect(await getUserByName(db.pool, username)).toEqual({ ...before, isAdmin: true });

  await expect(ensureFirstAdmin(db.pool, { MLFLEET_ADMIN_USERNAME: username })).rejects.toThrow('MLFLEET_ADMIN_USERNAME and MLFLEET_ADMIN_PASSWORD go together');
  await expect(ensureFirstAdmin(db.pool, { ...env, MLFLEET_ADMIN_PASSWORD: 'short' })).rejects.toThrow('MLFLEET_ADMIN_PASSWORD: the password must be at least 12 characters');
  await expect(createAdmin(db.pool, username, 'whatever password 1')).rejects.toThrow(`user '${username}' exists; pass --force to replace its password`);
});
