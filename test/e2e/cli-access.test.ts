import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createAdmin } from '../../server/first-admin';
import { ensureExperiment } from '../../store/experiments';
import { createRegisteredModel } from '../../store/registered-models';
import { startAuthApi, type AuthApi } from '../helpers/auth-api';
import { uniqueId } from '../helpers/launches';
import { runMlfleet } from '../helpers/processes';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Access control from the outside: the `mlfleet` command (admin bootstrap through the database,
// then tokens and grants through the API with credentials from the environment), and MLflow's own
// Python AuthServiceClient against the same server.
let ctx: WorkflowTestContext;
let db: ScratchDatabase;
let api: AuthApi;

const ROOT = join(__dirname, '..', '..');
const NO_CREDENTIALS = { MLFLOW_TRACKING_TOKEN: '', MLFLOW_TRACKING_USERNAME: '', MLFLOW_TRACKING_PASSWORD: '' };

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  db = await createScratchDatabase('cli_access');
  api = await startAuthApi({ pool: db.pool, temporal: ctx.client, artifactRoot: ctx.artifactRoot });
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  await ctx?.close();
});

async function mlfleet(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  const run = runMlfleet([...args, ...(args[0] === 'admin' ? [] : ['--url', api.url])], { ...NO_CREDENTIALS, DATABASE_URL: db.databaseUrl, ...env });
  const code = await run.exited;
  return { code, output: run.output() };
}

test('mlfleet admin create, then token create and grant with the credentials it gives', async () => {
  const admin = uniqueId('root');
  const password = 'cli admin password 1';
  expect(await mlfleet(['admin', 'create', '--username', admin], { MLFLEET_ADMIN_PASSWORD: password })).toEqual({ code: 0, output: `created admin ${admin}\n` });
  expect(await mlfleet(['admin', 'create', '--username', admin], { MLFLEET_ADMIN_PASSWORD: password })).toEqual({
    code: 2,
    output: `mlfleet admin create: user '${admin}' exists; pass --force to replace its password and make it an admin\n`,
  });
  const asAdmin = { MLFLOW_TRACKING_USERNAME: admin, MLFLOW_TRACKING_PASSWORD: password };

  // The token is printed once, alone on standard output; the note goes to standard error.
  const created = runMlfleet(['token', 'create', '--name', 'ci', '--days', '30', '--url', api.url], { ...NO_CREDENTIALS, ...asAdmin });
  let stdout = '';
  created.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  expect(await created.exited).toBe(0);
  const token = stdout.trim();
  expect(token).toMatch(/^mlf_[A-Za-z0-9_-]{43}$/);
  expect(created.output()).toContain('it will not be shown again');
  const asToken = { MLFLOW_TRACKING_TOKEN: token };

  const listed = await mlfleet(['token', 'list'], asToken);
  expect(listed.code).toBe(0);
  expect(listed.output).toMatch(new RegExp(`^ID +NAME +USER +STATE .*\\n\\d+ +ci +${admin} +active `));
  expect(listed.output).not.toContain(token);

  const { experiment } = await ensureExperiment(db.pool, uniqueId('cli-grants'), ctx.artifactRoot);
  const id = experiment.experiment_id;
  const bob = uniqueId('bob');
  const createBob = await fetch(`${api.url}/api/2.0/mlflow/users/create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: bob, password: 'bob password 1234' }),
  });
  expect(createBob.status).toBe(200);

  expect(await mlfleet(['grant', id, '--user', bob, 'read'], asToken)).toEqual({ code: 0, output: `granted READ on experiment ${id} to user ${bob}\n` });
  expect(await mlfleet(['grants', id], asToken)).toEqual({ code: 0, output: `GRANTEE${' '.repeat(bob.length)}PERMISSION\nuser ${bob}  READ\n` });
  expect(await mlfleet(['grant', id, '--user', bob], asToken)).toEqual({
    code: 2,
    output: 'mlfleet grant: give a PERMISSION (NO_PERMISSIONS, READ, EDIT, MANAGE), or --revoke\n',
  });
  expect(await mlfleet(['grant', '--revoke', id, '--user', bob], asToken)).toEqual({ code: 0, output: `revoked the grant of user ${bob} on experiment ${id}\n` });

  // A registered model, by name: the same commands with --model.
  const model = uniqueId('cli-model');
  await createRegisteredModel(db.pool, { name: model, tags: [], now: Date.now() });
  expect(await mlfleet(['grant', '--model', model, 'edit', '--user', bob], asToken)).toEqual({
    code: 0,
    output: `granted EDIT on registered model ${model} to user ${bob}\n`,
  });
  expect(await mlfleet(['grants', '--model', model], asToken)).toEqual({ code: 0, output: `GRANTEE${' '.repeat(bob.length)}PERMISSION\nuser ${bob}  EDIT\n` });
  expect(await mlfleet(['grant', '--model', model, id, 'read', '--user', bob], asToken)).toEqual({ code: 2, output: 'mlfleet grant: with --model, give no EXPERIMENT_ID\n' });
  expect(await mlfleet(['grant', '--revoke', '--model', model, '--user', bob], asToken)).toEqual({
    code: 0,
    output: `revoked the grant of user ${bob} on registered model ${model}\n`,
  });
  expect(await mlfleet(['grants', '--model', model], asToken)).toEqual({ code: 0, output: 'no grants (everyone but admins holds the default permission)\n' });

  // Nobody signed in is told how to sign in.
  const anonymous = await mlfleet(['grants', id]);
  expect(anonymous.code).toBe(1);
  expect(anonymous.output).toMatch(/^mlfleet: You are not authenticated\./);

  const tokenId = /^\d+/.exec(listed.output.split('\n')[1] ?? '')?.[0] ?? '';
  expect(await mlfleet(['token', 'revoke', tokenId], asAdmin)).toEqual({ code: 0, output: `revoked token ${tokenId} 'ci' of ${admin}\n` });
  expect((await mlfleet(['token', 'list'], asToken)).output).toMatch(/^mlfleet: You are not authenticated\. The API token is invalid, expired or revoked\./);
}, 240_000);

// MLflow's own client (mlflow.server.auth.client), as `mlflow.server.get_app_client("basic-auth")` returns it.
// Importing it runs mlflow/server/auth/__init__.py, which needs Flask-WTF for the server's CSRF
// check: without mlflow's `auth` extra installed, a stand-in module will do for the client.
const PYTHON_CLIENT = `
import os, sys, types
try:
    import flask_wtf.csrf
except ImportError:
    csrf = types.ModuleType("flask_wtf.csrf")
    csrf.CSRFProtect = object
    sys.modules.update({"flask_wtf": types.ModuleType("flask_wtf"), "flask_wtf.csrf": csrf})
from mlflow.exceptions import RestException
from mlflow.server.auth.client import AuthServiceClient

client = AuthServiceClient(os.environ["URI"])
name, exp = os.environ["NEW_USER"], os.environ["EXPERIMENT_ID"]
user = client.create_user(name, "python password 123")
assert (user.username, user.is_admin) == (name, False), user.to_json()
assert client.get_user(name).id == user.id
client.update_user_admin(name, True)
assert client.get_user(name).is_admin
client.update_user_admin(name, False)
client.grant_user_permission(name, "experiment", exp, "EDIT")
result = client.get_user_permission(name, "experiment", exp)
assert (result.allowed, result.permission) == (True, "EDIT"), result.to_json()
client.revoke_user_permission(name, "experiment", exp)
assert client.get_user_permission(name, "experiment", exp).permission == "NO_PERMISSIONS"
try:
    client.get_user("nobody-here")
    raise SystemExit("expected RESOURCE_DOES_NOT_EXIST")
except RestException as e:
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code

# The user changes their own password: MLflow 3 sends the current one.
os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = name, "python password 123"
client.update_user_password(name, "python password 456", current_password="python password 123")
os.environ["MLFLOW_TRACKING_PASSWORD"] = "python password 456"
assert client.get_user(name).username == name
try:
    client.delete_user(name)
    raise SystemExit("expected PERMISSION_DENIED")
except RestException as e:
    assert e.error_code == "PERMISSION_DENIED", e.error_code

os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = os.environ["ADMIN_USER"], os.environ["ADMIN_PASSWORD"]
client.delete_user(name)
print("ok")
`;

test("MLflow's Python AuthServiceClient manages users and permissions on mlfleet", async () => {
  const admin = uniqueId('py-root');
  const password = 'python admin pw 12';
  await createAdmin(db.pool, admin, password);
  const { experiment } = await ensureExperiment(db.pool, uniqueId('py-grants'), ctx.artifactRoot);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MLFLOW_')) delete env[key];
  Object.assign(env, {
    MLFLOW_DISABLE_TELEMETRY: 'true',
    DO_NOT_TRACK: 'true',
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_TRACKING_USERNAME: admin,
    MLFLOW_TRACKING_PASSWORD: password,
    ADMIN_USER: admin,
    ADMIN_PASSWORD: password,
    URI: api.url,
    NEW_USER: uniqueId('py-user'),
    EXPERIMENT_ID: experiment.experiment_id,
  });
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(join(ROOT, '.tools', 'bin', 'python'), ['-c', PYTHON_CLIENT], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, output: text }));
  });
  expect({ code, output: output.trim().split('\n').pop() }).toEqual({ code: 0, output: 'ok' });
}, 120_000);
