import { hashPassword } from '../../api/auth/passwords';
import { createUser } from '../../store/users';
import { startAuthApi, type AuthApi } from '../helpers/auth-api';
import { uniqueId } from '../helpers/launches';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Permissions on registered models (and prompts) over raw HTTP, with access control on and
// NO_PERMISSIONS as the default: MLflow's levels on the registry's routes, the creator's MANAGE,
// hidden models reading as missing, team grants, the grant routes of MLflow 2 and 3 and of
// /api/v1, the roles API over teams, and refusals of bad input (never a 500).
let ctx: WorkflowTestContext;
let api: AuthApi;

const PASSWORD = 'model permissions password';
type Who = { username: string; password: string };
let admin: Who;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

async function call(as: Who | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(as && { authorization: `Basic ${Buffer.from(`${as.username}:${as.password}`).toString('base64')}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  return { status: response.status, json };
}

const q = (params: Record<string, string>): string => `?${new URLSearchParams(params).toString()}`;
/** An MLflow 2.0 route (GETs take their fields as a query string). */
const mlflow = (as: Who, method: string, endpoint: string, fields: Record<string, unknown> = {}) =>
  method === 'GET' ? call(as, 'GET', `/api/2.0/mlflow/${endpoint}${q(fields as Record<string, string>)}`) : call(as, method, `/api/2.0/mlflow/${endpoint}`, fields);
const mlflow3 = (as: Who, method: string, endpoint: string, fields: Record<string, unknown> = {}) =>
  method === 'GET' ? call(as, 'GET', `/api/3.0/mlflow/${endpoint}${q(fields as Record<string, string>)}`) : call(as, method, `/api/3.0/mlflow/${endpoint}`, fields);

const error = (status: number, error_code: string, message?: string) => ({
  status,
  json: { error_code, message: message ?? (expect.any(String) as string) },
});

async function newUser(prefix: string, isAdmin = false): Promise<Who> {
  const username = uniqueId(prefix);
  await createUser(ctx.pool, { username, passwordHash: await hashPassword(PASSWORD), isAdmin });
  return { username, password: PASSWORD };
}

async function ok(answer: Promise<Answer>): Promise<Record<string, unknown>> {
  const { status, json } = await answer;
  if (status !== 200) throw new Error(`expected 200, got ${status} ${JSON.stringify(json)}`);
  return json;
}

/** A run in a new experiment of `owner`'s: a model version's source. */
async function newRun(owner: Who): Promise<{ experimentId: string; runId: string }> {
  const { experiment_id: experimentId } = (await ok(mlflow(owner, 'POST', 'experiments/create', { name: uniqueId('source') }))) as { experiment_id: string };
  const { run } = (await ok(mlflow(owner, 'POST', 'runs/create', { experiment_id: experimentId }))) as { run: { info: { run_id: string } } };
  return { experimentId, runId: run.info.run_id };
}

const grant = (as: Who, username: string, name: string, permission: string, resource_type = 'registered_model') =>
  mlflow3(as, 'POST', 'users/permissions/grant', { username, resource_type, resource_id: name, permission });
const revoke = (as: Who, username: string, name: string, resource_type = 'registered_model') =>
  mlflow3(as, 'POST', 'users/permissions/revoke', { username, resource_type, resource_id: name });
const searchNames = async (as: Who, filter: string): Promise<string[]> =>
  ((await ok(mlflow(as, 'GET', 'registered-models/search', { filter, max_results: '100' }))).registered_models as { name: string }[] | undefined)?.map((m) => m.name) ?? [];

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  api = await startAuthApi({ pool: ctx.pool, temporal: ctx.client, artifactRoot: ctx.artifactRoot });
  admin = await newUser('admin', true);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

test('the creator manages; READ sees a model but cannot register a version, EDIT can, MANAGE deletes and grants', async () => {
  const [alice, bob, carol] = [await newUser('alice'), await newUser('bob'), await newUser('carol')];
  const name = uniqueId('model');
  await ok(mlflow(alice, 'POST', 'registered-models/create', { name }));
  const { experimentId, runId } = await newRun(alice);
  const version = { name, source: `s3://bucket/${name}/model`, run_id: runId };
  expect((await ok(mlflow(alice, 'POST', 'model-versions/create', version))).model_version).toMatchObject({ name, version: '1' });

  // Nothing granted: bob cannot tell the model from a missing one.
  expect(await mlflow(bob, 'GET', 'registered-models/get', { name })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`));
  expect(await mlflow(bob, 'GET', 'model-versions/get', { name, version: '1' })).toEqual(
    error(404, 'RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=1) not found`),
  );
  expect(await searchNames(bob, `name = '${name}'`)).toEqual([]);

  // READ: reads, and is refused every change.
  await ok(grant(alice, bob.username, name, 'READ'));
  expect((await ok(mlflow(bob, 'GET', 'registered-models/get', { name }))).registered_model).toMatchObject({ name });
  expect(await searchNames(bob, `name = '${name}'`)).toEqual([name]);
  await ok(mlflow(bob, 'POST', 'registered-models/get-latest-versions', { name }));
  await ok(mlflow(bob, 'GET', 'model-versions/get-download-uri', { name, version: '1' }));
  expect((await mlflow(bob, 'POST', 'model-versions/create', version)).status).toBe(403);
  expect((await mlflow(bob, 'PATCH', 'registered-models/update', { name, description: 'no' })).status).toBe(403);
  expect((await mlflow(bob, 'POST', 'registered-models/set-tag', { name, key: 'k', value: 'v' })).status).toBe(403);
  expect((await mlflow(bob, 'DELETE', 'registered-models/delete', { name })).status).toBe(403);
  expect((await grant(bob, carol.username, name, 'READ')).status).toBe(403);

  // EDIT: registers a version, but only from a run it may read.
  await ok(revoke(alice, bob.username, name));
  await ok(grant(alice, bob.username, name, 'EDIT'));
  expect(await mlflow(bob, 'POST', 'model-versions/create', version)).toEqual(error(403, 'PERMISSION_DENIED', 'Permission denied: READ on the source run is required.'));
  expect(await mlflow(bob, 'POST', 'model-versions/create', { ...version, run_id: 'f'.repeat(32) })).toEqual(
    error(403, 'PERMISSION_DENIED', 'Permission denied: READ on the source run is required.'),
  );
  await ok(grant(alice, bob.username, experimentId, 'READ', 'experiment'));
  expect((await ok(mlflow(bob, 'POST', 'model-versions/create', version))).model_version).toMatchObject({ version: '2' });
  await ok(mlflow(bob, 'POST', 'model-versions/set-tag', { name, version: '2', key: 'k', value: 'v' }));
  await ok(mlflow(bob, 'POST', 'registered-models/alias', { name, alias: 'champion', version: '2' }));
  await ok(mlflow(bob, 'GET', 'registered-models/alias', { name, alias: 'champion' }));
  expect((await mlflow(bob, 'DELETE', 'registered-models/alias', { name, alias: 'champion' })).status).toBe(403);
  expect((await mlflow(bob, 'DELETE', 'model-versions/delete', { name, version: '1' })).status).toBe(403);
  expect((await mlflow(bob, 'DELETE', 'model-versions/delete-tag', { name, version: '2', key: 'k' })).status).toBe(403);

  // MANAGE: deletes, and grants.
  await ok(revoke(alice, bob.username, name));
  await ok(grant(alice, bob.username, name, 'MANAGE'));
  await ok(mlflow(bob, 'DELETE', 'model-versions/delete', { name, version: '1' }));
  await ok(grant(bob, carol.username, name, 'READ'));
  expect(await mlflow3(bob, 'GET', 'users/permissions/get', { username: carol.username, resource_type: 'registered_model', resource_id: name })).toEqual({
    status: 200,
    json: { allowed: false, permission: 'READ' },
  });
  await ok(mlflow(bob, 'DELETE', 'registered-models/delete', { name }));
  // The grants went with the model: one made again under the same name starts with none.
  await ok(mlflow(alice, 'POST', 'registered-models/create', { name }));
  expect((await mlflow(carol, 'GET', 'registered-models/get', { name })).status).toBe(404);
  const { user } = (await ok(mlflow(bob, 'GET', 'users/get', { username: bob.username }))) as { user: { registered_model_permissions: unknown[] } };
  expect(user.registered_model_permissions).toEqual([]);
});

test('a model nobody granted is hidden in both searches and answers as a missing one on every route', async () => {
  const [owner, outsider] = [await newUser('owner'), await newUser('outsider')];
  const prefix = uniqueId('hidden');
  const { runId } = await newRun(owner);
  for (const suffix of ['a', 'b', 'c']) {
    await ok(mlflow(owner, 'POST', 'registered-models/create', { name: `${prefix}-${suffix}` }));
    await ok(mlflow(owner, 'POST', 'model-versions/create', { name: `${prefix}-${suffix}`, source: `s3://bucket/${prefix}/${suffix}`, run_id: runId }));
  }
  await ok(grant(owner, outsider.username, `${prefix}-b`, 'READ'));
  expect(await searchNames(outsider, `name LIKE '${prefix}-%'`)).toEqual([`${prefix}-b`]);
  expect(await searchNames(owner, `name LIKE '${prefix}-%'`)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
  // Paged one at a time, the page holds the readable model, not an empty page before it.
  const page = await ok(mlflow(outsider, 'GET', 'registered-models/search', { filter: `name LIKE '${prefix}-%'`, max_results: '1' }));
  expect((page.registered_models as { name: string }[]).map((m) => m.name)).toEqual([`${prefix}-b`]);
  const versions = await ok(mlflow(outsider, 'GET', 'model-versions/search', { filter: `name LIKE '${prefix}-%'`, max_results: '100' }));
  expect((versions.model_versions as { name: string }[]).map((v) => v.name)).toEqual([`${prefix}-b`]);

  const hidden = `${prefix}-a`;
  const missing = uniqueId('missing');
  const sameAsMissing = async (method: string, endpoint: string, fields: Record<string, unknown>) => {
    const a = await mlflow(outsider, method, endpoint, { ...fields, name: hidden });
    const b = await mlflow(outsider, method, endpoint, { ...fields, name: missing });
    expect([endpoint, a.status, JSON.stringify(a.json).replaceAll(hidden, '<name>')]).toEqual([endpoint, b.status, JSON.stringify(b.json).replaceAll(missing, '<name>')]);
    expect(a.status).toBe(404);
  };
  await sameAsMissing('GET', 'registered-models/get', {});
  await sameAsMissing('POST', 'registered-models/get-latest-versions', {});
  await sameAsMissing('GET', 'model-versions/get', { version: '1' });
  await sameAsMissing('GET', 'model-versions/get-download-uri', { version: '1' });
  await sameAsMissing('GET', 'registered-models/alias', { alias: 'champion' });
  await sameAsMissing('PATCH', 'registered-models/update', { description: 'x' });
  await sameAsMissing('POST', 'registered-models/rename', { new_name: uniqueId('renamed') });
  await sameAsMissing('DELETE', 'registered-models/delete', {});
  await sameAsMissing('POST', 'registered-models/set-tag', { key: 'k', value: 'v' });
  await sameAsMissing('PATCH', 'model-versions/update', { version: '1', description: 'x' });
  await sameAsMissing('POST', 'model-versions/transition-stage', { version: '1', stage: 'Staging', archive_existing_versions: false });
  await sameAsMissing('DELETE', 'model-versions/delete', { version: '1' });
});

test('a team grant reaches its members; a rename carries the grants; the user views list them', async () => {
  const [owner, member, outsider] = [await newUser('owner'), await newUser('member'), await newUser('outsider')];
  const team = uniqueId('team');
  await ok(call(admin, 'POST', '/api/v1/teams', { name: team }).then((a) => ({ ...a, status: a.status === 201 ? 200 : a.status })));
  await ok(call(admin, 'POST', `/api/v1/teams/${team}/members`, { username: member.username }));
  const name = uniqueId('model');
  await ok(mlflow(owner, 'POST', 'registered-models/create', { name }));

  const grants = `/api/v1/registered-models/${name}/grants`;
  expect(await call(owner, 'PUT', grants, { team, permission: 'EDIT' })).toEqual({ status: 200, json: { name, team, permission: 'EDIT' } });
  expect(await call(member, 'GET', grants)).toEqual(error(403, 'PERMISSION_DENIED'));
  expect(await call(outsider, 'GET', grants)).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`));
  await ok(mlflow(member, 'PATCH', 'registered-models/update', { name, description: 'by the team' }));
  expect((await mlflow(outsider, 'GET', 'registered-models/get', { name })).status).toBe(404);

  // EDIT renames; every grant follows the model to its new name.
  const renamed = uniqueId('renamed');
  await ok(mlflow(member, 'POST', 'registered-models/rename', { name, new_name: renamed }));
  expect(await call(owner, 'GET', `/api/v1/registered-models/${renamed}/grants`)).toEqual({
    status: 200,
    json: { grants: [{ name: renamed, username: owner.username, permission: 'MANAGE' }, { name: renamed, team, permission: 'EDIT' }] },
  });
  expect((await ok(mlflow(member, 'GET', 'registered-models/get', { name: renamed }))).registered_model).toMatchObject({ description: 'by the team' });
  const { user } = (await ok(mlflow(owner, 'GET', 'users/current'))) as { user: { id: number; registered_model_permissions: unknown[] } };
  expect(user.registered_model_permissions).toEqual([{ name: renamed, user_id: user.id, permission: 'MANAGE' }]);

  expect(await call(owner, 'DELETE', `/api/v1/registered-models/${renamed}/grants`, { team })).toEqual({ status: 200, json: {} });
  expect((await mlflow(member, 'GET', 'registered-models/get', { name: renamed })).status).toBe(404);
  expect(await call(owner, 'DELETE', `/api/v1/registered-models/${renamed}/grants`, { team })).toEqual(
    error(404, 'RESOURCE_DOES_NOT_EXIST', `No grant to team '${team}' on registered model '${renamed}'`),
  );
});

test("MLflow 2's registered-models/permissions/* and a prompt's grants", async () => {
  const [owner, reader] = [await newUser('owner'), await newUser('reader')];
  const name = uniqueId('model');
  await ok(mlflow(owner, 'POST', 'registered-models/create', { name }));
  const fields = { name, username: reader.username };
  const { user: readerUser } = (await ok(mlflow(admin, 'GET', 'users/get', { username: reader.username }))) as { user: { id: number } };

  expect(await mlflow(owner, 'GET', 'registered-models/permissions/get', fields)).toEqual(
    error(404, 'RESOURCE_DOES_NOT_EXIST', `Registered model permission with name=${name} and username=${reader.username} not found`),
  );
  expect(await mlflow(owner, 'POST', 'registered-models/permissions/create', { ...fields, permission: 'READ' })).toEqual({
    status: 200,
    json: { registered_model_permission: { name, user_id: readerUser.id, permission: 'READ' } },
  });
  expect(await mlflow(owner, 'POST', 'registered-models/permissions/create', { ...fields, permission: 'EDIT' })).toEqual(
    error(400, 'RESOURCE_ALREADY_EXISTS', `Registered model permission (name=${name}, username=${reader.username}) already exists.`),
  );
  await ok(mlflow(owner, 'PATCH', 'registered-models/permissions/update', { ...fields, permission: 'EDIT' }));
  expect(await mlflow(owner, 'GET', 'registered-models/permissions/get', fields)).toEqual({
    status: 200,
    json: { registered_model_permission: { name, user_id: readerUser.id, permission: 'EDIT' } },
  });
  // The reader holds EDIT, not MANAGE: they may not see or change grants.
  expect((await mlflow(reader, 'GET', 'registered-models/permissions/get', fields)).status).toBe(403);
  await ok(mlflow(owner, 'DELETE', 'registered-models/permissions/delete', fields));
  expect((await mlflow(reader, 'GET', 'registered-models/get', { name })).status).toBe(404);

  // A prompt is a registered model with a tag: granted as a prompt or as a model, the grant is one.
  const prompt = uniqueId('prompt');
  await ok(mlflow(owner, 'POST', 'registered-models/create', { name: prompt, tags: [{ key: 'mlflow.prompt.is_prompt', value: 'true' }] }));
  expect((await mlflow(reader, 'GET', 'registered-models/get', { name: prompt })).status).toBe(404);
  await ok(grant(owner, reader.username, prompt, 'READ', 'prompt'));
  await ok(mlflow(reader, 'GET', 'registered-models/get', { name: prompt }));
  expect(await grant(owner, reader.username, prompt, 'EDIT', 'registered_model')).toEqual(
    error(400, 'RESOURCE_ALREADY_EXISTS', `Permission for user=${reader.username} on resource_type=registered_model, resource_id=${prompt} already exists.`),
  );
});

test('the roles API shows teams: a role permission on a model reaches the users assigned the role', async () => {
  const [owner, user] = [await newUser('owner'), await newUser('holder')];
  const name = uniqueId('model');
  await ok(mlflow(owner, 'POST', 'registered-models/create', { name }));
  const roleName = uniqueId('role');

  const { role } = (await ok(mlflow3(admin, 'POST', 'roles/create', { workspace: 'default', name: roleName, description: 'model readers' }))) as {
    role: { id: number };
  };
  expect(await mlflow3(admin, 'POST', 'roles/create', { workspace: 'default', name: roleName })).toEqual(
    error(400, 'RESOURCE_ALREADY_EXISTS', `Role (name=${roleName}, workspace=default) already exists.`),
  );
  const added = await ok(mlflow3(admin, 'POST', 'roles/permissions/add', { role_id: role.id, resource_type: 'registered_model', resource_pattern: name, permission: 'READ' }));
  const permission = added.role_permission as { id: number };
  expect(added.role_permission).toEqual({ id: permission.id, role_id: role.id, resource_type: 'registered_model', resource_pattern: name, permission: 'READ' });
  expect((await mlflow(user, 'GET', 'registered-models/get', { name })).status).toBe(404);
  expect((await mlflow3(user, 'GET', 'roles/get', { role_id: String(role.id) })).status).toBe(403);

  const assigned = await ok(mlflow3(admin, 'POST', 'roles/assign', { username: user.username, role_id: role.id }));
  expect(assigned.assignment).toMatchObject({ role_id: role.id });
  await ok(mlflow(user, 'GET', 'registered-models/get', { name }));
  expect(await mlflow3(user, 'GET', 'roles/get', { role_id: String(role.id) })).toEqual({
    status: 200,
    json: { role: { id: role.id, name: roleName, workspace: 'default', description: 'model readers', permissions: [added.role_permission] } },
  });
  // The team is the role: /api/v1 shows the same members.
  expect((await ok(call(admin, 'GET', `/api/v1/teams/${roleName}`))).members).toEqual([user.username]);
  const listed = (await ok(mlflow3(user, 'GET', 'roles/list', { workspace: 'default' }))).roles as { id: number }[];
  expect(listed.map((r) => r.id)).toEqual([role.id]);

  const updated = await ok(mlflow3(admin, 'PATCH', 'roles/update', { role_id: role.id, description: 'readers of one model' }));
  expect(updated.role).toMatchObject({ name: roleName, description: 'readers of one model' });
  await ok(mlflow3(admin, 'PATCH', 'roles/permissions/update', { role_permission_id: permission.id, permission: 'EDIT' }));
  await ok(mlflow(user, 'PATCH', 'registered-models/update', { name, description: 'edited through a role' }));
  await ok(mlflow3(admin, 'DELETE', 'roles/unassign', { username: user.username, role_id: role.id }));
  expect((await mlflow(user, 'GET', 'registered-models/get', { name })).status).toBe(404);
  expect(await mlflow3(admin, 'DELETE', 'roles/unassign', { username: user.username, role_id: role.id })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST'));
  await ok(mlflow3(admin, 'DELETE', 'roles/delete', { role_id: role.id }));
  expect(await mlflow3(admin, 'GET', 'roles/get', { role_id: String(role.id) })).toEqual(error(404, 'RESOURCE_DOES_NOT_EXIST', `Role with id=${role.id} not found`));
  // Only admins change roles.
  expect((await mlflow3(owner, 'POST', 'roles/create', { workspace: 'default', name: uniqueId('role') })).status).toBe(403);
});

test('bad input to the grant, permission and role routes is a 4xx with an MLflow error body, never a 500', async () => {
  const owner = await newUser('owner');
  const name = uniqueId('model');
  await ok(mlflow(owner, 'POST', 'registered-models/create', { name }));
  const someone = owner.username;
  const requests: Array<[Who, string, string, unknown]> = [
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: someone, resource_type: 'registered_model', resource_id: name }],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: someone, resource_type: 'registered_model', resource_id: name, permission: 'ALL' }],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: someone, resource_type: 'scorer', resource_id: name, permission: 'READ' }],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: 'nobody-at-all', resource_type: 'registered_model', resource_id: name, permission: 'READ' }],
    [admin, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: someone, resource_type: 'registered_model', resource_id: uniqueId('missing'), permission: 'READ' }],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', { username: [someone], resource_type: { x: 1 }, resource_id: null, permission: 7 }],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/grant', '{not json'],
    [owner, 'POST', '/api/3.0/mlflow/users/permissions/revoke', { username: someone, resource_type: 'prompt', resource_id: `${name}-missing` }],
    [owner, 'GET', `/api/3.0/mlflow/users/permissions/get${q({ username: someone, resource_type: 'registered_model' })}`, undefined],
    [owner, 'POST', '/api/2.0/mlflow/registered-models/permissions/create', { name, username: someone }],
    [owner, 'POST', '/api/2.0/mlflow/registered-models/permissions/create', { name: 12, username: someone, permission: 'READ' }],
    [owner, 'PATCH', '/api/2.0/mlflow/registered-models/permissions/update', { name, username: someone, permission: 'nope' }],
    [owner, 'DELETE', '/api/2.0/mlflow/registered-models/permissions/delete', {}],
    [owner, 'PUT', `/api/v1/registered-models/${name}/grants`, { username: someone, team: 'both', permission: 'READ' }],
    [owner, 'PUT', `/api/v1/registered-models/${name}/grants`, { username: someone, permission: 'OWNER' }],
    [owner, 'PUT', `/api/v1/registered-models/${encodeURIComponent('a:b')}/grants`, { username: someone, permission: 'READ' }],
    [owner, 'DELETE', `/api/v1/registered-models/${name}/grants`, { team: 'no-such-team' }],
    [admin, 'POST', '/api/3.0/mlflow/roles/create', { workspace: 'default' }],
    [admin, 'POST', '/api/3.0/mlflow/roles/create', { workspace: 'elsewhere', name: uniqueId('role') }],
    [admin, 'POST', '/api/3.0/mlflow/roles/create', { workspace: 'default', name: 'not a team name!' }],
    [admin, 'POST', '/api/3.0/mlflow/roles/create', { workspace: 'default', name: uniqueId('role'), description: 5 }],
    [admin, 'GET', `/api/3.0/mlflow/roles/get${q({ role_id: 'abc' })}`, undefined],
    [admin, 'GET', `/api/3.0/mlflow/roles/get${q({ role_id: '99999999999999999999999' })}`, undefined],
    [admin, 'GET', '/api/3.0/mlflow/roles/get', undefined],
    [admin, 'PATCH', '/api/3.0/mlflow/roles/update', { role_id: 1 }],
    [admin, 'POST', '/api/3.0/mlflow/roles/permissions/add', { role_id: 1, resource_type: 'registered_model', resource_pattern: '*', permission: 'READ' }],
    [admin, 'POST', '/api/3.0/mlflow/roles/permissions/add', { role_id: 987654321, resource_type: 'registered_model', resource_pattern: name, permission: 'READ' }],
    [admin, 'POST', '/api/3.0/mlflow/roles/assign', { username: someone, role_id: 'x' }],
    [admin, 'DELETE', '/api/3.0/mlflow/roles/unassign', { username: 'nobody-at-all', role_id: 1 }],
    [admin, 'DELETE', '/api/3.0/mlflow/roles/permissions/remove', { role_permission_id: 987654321 }],
    [admin, 'PATCH', '/api/3.0/mlflow/roles/permissions/update', { role_permission_id: 987654321, permission: 'READ' }],
  ];
  const problems: string[] = [];
  for (const [who, method, path, body] of requests) {
    const answer = await call(who, method, path, body);
    const label = `${method} ${path} ${JSON.stringify(body)}`;
    if (answer.status < 400 || answer.status >= 500) problems.push(`${label}: ${answer.status}`);
    if (Object.keys(answer.json).sort().join() !== 'error_code,message') problems.push(`${label}: body ${JSON.stringify(answer.json)}`);
  }
  expect(problems).toEqual([]);
});
