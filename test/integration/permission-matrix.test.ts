import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { routeAccessOf, type RouteAccess } from '../../api/auth/access-control';
import { hashPassword } from '../../api/auth/passwords';
import { generateToken, hashToken } from '../../api/auth/tokens';
import { type Permission, permits } from '../../domain/auth';
import { insertToken } from '../../store/api-tokens';
import { MODEL_GRANTS } from '../../store/model-permissions';
import { setGrant, setGrantOn } from '../../store/permissions';
import { createModelVersion } from '../../store/model-versions';
import { createRegisteredModel, setRegisteredModelAlias } from '../../store/registered-models';
import { addTeamMember, createTeam } from '../../store/teams';
import { createUser } from '../../store/users';
import { insertLaunch } from '../../store/launches';
import { eventually } from '../helpers/eventually';
import { makeCodeDir, uniqueId } from '../helpers/launches';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';
import { listCodeFiles, writeCodeArchive } from '../../storage/code-bundle';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The permission matrix: every route the app registers, called as each role, against a fresh
 * experiment the role holds a known permission on. The expected status comes from the route's
 * access rule, so a route without a rule fails registration and a route without a sample here
 * fails this test. No denied answer may carry the experiment's secrets.
 */

const ROLES = ['anonymous', 'no permission', 'READ', 'EDIT', 'MANAGE', 'team member', 'admin'] as const;
type Role = (typeof ROLES)[number];

/** What each signed-in role holds on a fixture experiment (the team member through a team's EDIT grant). */
const HELD: Record<Exclude<Role, 'anonymous'>, Permission> = {
  'no permission': 'NO_PERMISSIONS',
  READ: 'READ',
  EDIT: 'EDIT',
  MANAGE: 'MANAGE',
  'team member': 'EDIT',
  admin: 'MANAGE',
};

interface Identity {
  userId: string;
  username: string;
  token: string;
}

interface Fixture {
  experimentId: string;
  experimentName: string;
  runId: string;
  /** Written into the experiment's name, a tag, a param and an artifact name: never in a denied answer. */
  secret: string;
  artifactPath: string;
  launchId: string;
  scheduleName: string;
  pipelineName: string;
  /** A user made for this fixture, for the user-management routes that change or delete one. */
  victim: string;
  /** A team made for this fixture, with the victim in it. */
  victimTeam: string;
  /** A token of the caller's (the victim's for an anonymous caller), made for this fixture. */
  ownTokenId: string;
  /** A logged model in the experiment (with the 'model' need), its name and a tag holding the secret, and one file. */
  modelId: string;
  /** The victim team's id (a role, to the roles API) and its grant on the experiment. */
  victimTeamId: string;
  victimGrantId: string;
  /**
   * A registered model the roles hold what they hold on the experiment (with the need
   * `registered-model`): its name and a tag hold the secret; version 1, from the run, has the
   * alias champion and a tag.
   */
  registeredModel: string;
}

type Need = 'launch' | 'running-launch' | 'schedule' | 'pipeline' | 'artifact' | 'deleted-experiment' | 'deleted-run' | 'model' | 'registered-model';

/**
 * Who may call a route, stated here independently of the route table (MLflow's table, reference
 * §4.3, for its routes): an experiment permission (404 without READ), `name:` the same for an
 * experiment named in the body (403 without it), or a kind of caller.
 */
type Access = 'public' | 'signed-in' | 'admin' | 'self' | 'READ' | 'EDIT' | 'MANAGE' | 'name:EDIT';

interface Sample {
  access: Access;
  needs?: Need[];
  /** The request; for MLflow routes `url` is the part after the prefix. */
  request(f: Fixture, who: Identity | undefined): { url: string; body?: unknown; payload?: string | Buffer; headers?: Record<string, string> };
  /** The status a caller the rule lets through gets. */
  ok: number | number[];
  /** Sign in with the password instead of the token (what only a password may do). */
  password?: boolean;
  /** For filtered lists: whether the answer shows the fixture (it must exactly when the caller may read it). */
  shows?: (json: unknown, f: Fixture) => boolean;
}

let ctx: WorkflowTestContext;
let app: FastifyInstance;
let baseUrl: string;
const taskQueue = uniqueId('matrix');
const identities = new Map<Role, Identity>();
let team: string;
let bundleArchive: Buffer;
let bundleDigest: string;
let victimHash: string;
const PASSWORD = 'a password nobody uses';

const containsSecret = (json: unknown, f: Fixture): boolean => JSON.stringify(json ?? null).includes(f.secret);

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  app = buildApp({
    pool: ctx.pool,
    temporal: ctx.client,
    taskQueue,
    artifactRoot: ctx.artifactRoot,
    auth: { enabled: true, defaultPermission: 'NO_PERMISSIONS' },
  });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const passwordHash = await hashPassword(PASSWORD);
  victimHash = passwordHash;
  team = uniqueId('team');
  const teamRow = await createTeam(ctx.pool, team);
  for (const role of ROLES) {
    if (role === 'anonymous') continue;
    const username = uniqueId(role.replace(' ', '-'));
    const user = await createUser(ctx.pool, { username, passwordHash, isAdmin: role === 'admin' });
    const token = generateToken();
    await insertToken(ctx.pool, { userId: user.userId, name: 'matrix', tokenHash: hashToken(token), createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
    identities.set(role, { userId: user.userId, username, token });
    if (role === 'team member') await addTeamMember(ctx.pool, teamRow.teamId, user.userId);
  }
  const codeDir = makeCodeDir(ctx.dataDir);
  const archivePath = join(ctx.dataDir, 'matrix-bundle.tar.gz');
  await writeCodeArchive(codeDir, await listCodeFiles(codeDir), archivePath);
  bundleArchive = readFileSync(archivePath);
  const uploaded = await call('admin', { method: 'POST', url: '/api/v1/code-bundles', payload: bundleArchive, headers: { 'content-type': 'application/gzip' } });
  bundleDigest = (uploaded.json() as { digest: string }).digest;
}, 60_000);

afterAll(async () => {
  // Launches the fixtures started (sleepers among them) end with the test.
  for await (const workflow of ctx.client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) {
    await ctx.client.workflow.getHandle(workflow.workflowId).terminate('test over').catch(() => undefined);
  }
  for await (const schedule of ctx.client.schedule.list()) {
    if (schedule.scheduleId.includes('matrix-')) await ctx.client.schedule.getHandle(schedule.scheduleId).delete().catch(() => undefined);
  }
  await app.close();
  await ctx.close();
});

interface CallOptions {
  method: string;
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  password?: boolean;
}

interface Answer {
  statusCode: number;
  body: string;
  contentType: string;
  json(): unknown;
}

async function call(role: Role, opts: CallOptions): Promise<Answer> {
  const who = identities.get(role);
  const raw = typeof opts.payload === 'string' || Buffer.isBuffer(opts.payload);
  const response = await fetch(`${baseUrl}${opts.url}`, {
    method: opts.method,
    headers: {
      ...(opts.payload !== undefined && !raw && { 'content-type': 'application/json' }),
      ...opts.headers,
      ...(who && { authorization: opts.password ? `Basic ${Buffer.from(`${who.username}:${PASSWORD}`).toString('base64')}` : `Bearer ${who.token}` }),
    },
    ...(opts.payload !== undefined && { body: raw ? (opts.payload as string | Buffer) : JSON.stringify(opts.payload) }),
  });
  const body = await response.text();
  return { statusCode: response.status, body, contentType: response.headers.get('content-type') ?? '', json: () => JSON.parse(body) as unknown };
}

async function asAdmin(method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await call('admin', { method, url, ...(body !== undefined && { payload: body }) });
  if (response.statusCode >= 300) throw new Error(`${String(method)} ${url}: ${response.statusCode} ${response.body}`);
  return response.json();
}

const spec = (f: Pick<Fixture, 'experimentName'>, command = 'true') => ({ experiment: f.experimentName, stages: { only: { command } } });

async function createFixture(needs: readonly Need[], who?: Identity): Promise<Fixture> {
  const secret = `secret-${randomBytes(6).toString('hex')}`;
  const experimentName = `${secret}-experiment`;
  const { experiment_id: experimentId } = (await asAdmin('POST', '/api/2.0/mlflow/experiments/create', {
    name: experimentName,
    tags: [{ key: 'note', value: secret }],
  })) as { experiment_id: string };
  const { run } = (await asAdmin('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId, tags: [{ key: 'note', value: secret }] })) as {
    run: { info: { run_id: string } };
  };
  const runId = run.info.run_id;
  await asAdmin('POST', '/api/2.0/mlflow/runs/log-batch', {
    run_id: runId,
    params: [{ key: 'source', value: `s3://${secret}/train/` }],
    metrics: [{ key: 'm', value: 1, timestamp: Date.now(), step: 0 }],
  });
  const f: Fixture = {
    experimentId,
    experimentName,
    runId,
    secret,
    artifactPath: `${experimentId}/${runId}/artifacts/${secret}.txt`,
    launchId: uniqueId('matrix-launch'),
    scheduleName: uniqueId('matrix-schedule'),
    pipelineName: uniqueId('matrix-pipeline'),
    victim: uniqueId('victim'),
    victimTeam: uniqueId('victim-team'),
    ownTokenId: '',
    modelId: '',
    victimTeamId: '',
    victimGrantId: '',
    registeredModel: `${secret}-registered`,
  };
  await setGrant(ctx.pool, experimentId, { userId: identities.get('READ')!.userId }, 'READ');
  await setGrant(ctx.pool, experimentId, { userId: identities.get('EDIT')!.userId }, 'EDIT');
  await setGrant(ctx.pool, experimentId, { userId: identities.get('MANAGE')!.userId }, 'MANAGE');
  const teamId = (await ctx.pool.query<{ team_id: number }>('SELECT team_id FROM teams WHERE name = $1', [team])).rows[0]!.team_id;
  await setGrant(ctx.pool, experimentId, { teamId: String(teamId) }, 'EDIT');
  const victim = await createUser(ctx.pool, { username: f.victim, passwordHash: victimHash, isAdmin: false });
  f.victimTeamId = (await createTeam(ctx.pool, f.victimTeam)).teamId;
  await addTeamMember(ctx.pool, f.victimTeamId, victim.userId);
  await setGrant(ctx.pool, experimentId, { teamId: f.victimTeamId }, 'READ');
  const victimGrant = await ctx.pool.query<{ grant_id: number }>('SELECT grant_id FROM experiment_permissions WHERE team_id = $1', [f.victimTeamId]);
  f.victimGrantId = String(victimGrant.rows[0]!.grant_id);
  const owner = who?.userId ?? victim.userId;
  const ownToken = await insertToken(ctx.pool, { userId: owner, name: 'own', tokenHash: hashToken(generateToken()), createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
  f.ownTokenId = ownToken.tokenId;

  if (needs.includes('registered-model')) {
    await createRegisteredModel(ctx.pool, { name: f.registeredModel, tags: [{ key: 'note', value: secret }], now: Date.now() });
    const source = `s3://bucket/${secret}/model`;
    await createModelVersion(ctx.pool, { name: f.registeredModel, source, runId, tags: [{ key: 'note', value: secret }], now: Date.now() });
    await setRegisteredModelAlias(ctx.pool, f.registeredModel, 'champion', 1);
    for (const role of ['READ', 'EDIT', 'MANAGE'] as const) await setGrantOn(ctx.pool, MODEL_GRANTS, f.registeredModel, { userId: identities.get(role)!.userId }, role);
    await setGrantOn(ctx.pool, MODEL_GRANTS, f.registeredModel, { teamId: String(teamId) }, 'EDIT');
  }
  if (needs.includes('artifact')) {
    const put = await call('admin', { method: 'PUT', url: `/api/2.0/mlflow-artifacts/artifacts/${f.artifactPath}`, payload: secret });
    expect(put.statusCode).toBe(200);
  }
  if (needs.includes('launch')) {
    await insertLaunch(ctx.pool, {
      launchId: f.launchId,
      workflowId: `launch-${f.launchId}`,
      experimentId,
      trigger: 'api',
      spec: spec(f),
      createdAt: Date.now(),
    });
  }
  if (needs.includes('running-launch')) {
    const started = (await asAdmin('POST', '/api/v1/launches', { spec: spec(f, 'sleep 60') })) as { launch_id: string };
    f.launchId = started.launch_id;
    await eventually(async () => ((await ctx.pool.query('SELECT 1 FROM launches WHERE launch_id = $1', [f.launchId])).rowCount === 1 ? true : undefined));
  }
  if (needs.includes('schedule')) await asAdmin('POST', '/api/v1/schedules', { name: f.scheduleName, every: '24h', spec: spec(f) });
  if (needs.includes('pipeline')) await asAdmin('POST', '/api/v1/pipelines', { name: f.pipelineName, spec: spec(f) });
  if (needs.includes('deleted-experiment')) await asAdmin('POST', '/api/2.0/mlflow/experiments/delete', { experiment_id: experimentId });
  if (needs.includes('deleted-run')) await asAdmin('POST', '/api/2.0/mlflow/runs/delete', { run_id: runId });
  if (needs.includes('model')) {
    const { model } = (await asAdmin('POST', '/api/2.0/mlflow/logged-models', {
      experiment_id: experimentId,
      name: `${secret}-model`,
      tags: [{ key: 'note', value: secret }],
    })) as { model: { info: { model_id: string } } };
    f.modelId = model.info.model_id;
    const put = await call('admin', { method: 'PUT', url: `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${f.modelId}/artifacts/MLmodel`, payload: secret });
    expect(put.statusCode).toBe(200);
  }
  return f;
}

const reader = (): string => identities.get('READ')!.username;
const q = (params: Record<string, string>): string => `?${new URLSearchParams(params).toString()}`;
const listed = (key: string) => (json: unknown, f: Fixture) => containsSecret((json as Record<string, unknown>)[key], f);

/** MLflow tracking routes, by the path after `/api/2.0/mlflow` (both prefixes share them). */
const TRACKING: Record<string, Sample> = {
  'POST /experiments/create': {
    access: 'signed-in', request: () => ({ url: '/experiments/create', body: { name: uniqueId('created') } }), ok: 200 },
  'GET /experiments/search': {
    access: 'signed-in',
    request: (f) => ({ url: `/experiments/search${q({ filter: `name = '${f.experimentName}'`, max_results: '10' })}` }),
    ok: 200,
    shows: listed('experiments'),
  },
  'POST /experiments/search': {
    access: 'signed-in',
    request: (f) => ({ url: '/experiments/search', body: { filter: `name = '${f.experimentName}'` } }),
    ok: 200,
    shows: listed('experiments'),
  },
  'GET /experiments/get': {
    access: 'READ', request: (f) => ({ url: `/experiments/get${q({ experiment_id: f.experimentId })}` }), ok: 200 },
  'GET /experiments/get-by-name': {
    access: 'READ', request: (f) => ({ url: `/experiments/get-by-name${q({ experiment_name: f.experimentName })}` }), ok: 200 },
  'POST /experiments/update': {
    access: 'EDIT', request: (f) => ({ url: '/experiments/update', body: { experiment_id: f.experimentId, new_name: uniqueId('renamed') } }), ok: 200 },
  'POST /experiments/set-experiment-tag': {
    access: 'EDIT',
    request: (f) => ({ url: '/experiments/set-experiment-tag', body: { experiment_id: f.experimentId, key: 'k', value: 'v' } }),
    ok: 200,
  },
  'POST /experiments/delete-experiment-tag': {
    access: 'EDIT',
    request: (f) => ({ url: '/experiments/delete-experiment-tag', body: { experiment_id: f.experimentId, key: 'note' } }),
    ok: 200,
  },
  'POST /experiments/delete': {
    access: 'MANAGE', request: (f) => ({ url: '/experiments/delete', body: { experiment_id: f.experimentId } }), ok: 200 },
  'POST /experiments/restore': {
    access: 'MANAGE',
    needs: ['deleted-experiment'],
    request: (f) => ({ url: '/experiments/restore', body: { experiment_id: f.experimentId } }),
    ok: 200,
  },
  'POST /runs/create': {
    access: 'EDIT', request: (f) => ({ url: '/runs/create', body: { experiment_id: f.experimentId } }), ok: 200 },
  'GET /runs/get': {
    access: 'READ', request: (f) => ({ url: `/runs/get${q({ run_id: f.runId })}` }), ok: 200 },
  'POST /runs/search': {
    access: 'signed-in', request: (f) => ({ url: '/runs/search', body: { experiment_ids: [f.experimentId] } }), ok: 200, shows: listed('runs') },
  'GET /runs/search': {
    access: 'signed-in', request: (f) => ({ url: `/runs/search${q({ experiment_ids: f.experimentId })}` }), ok: 200, shows: listed('runs') },
  'POST /runs/update': {
    access: 'EDIT', request: (f) => ({ url: '/runs/update', body: { run_id: f.runId, status: 'FINISHED' } }), ok: 200 },
  'POST /runs/log-metric': {
    access: 'EDIT',
    request: (f) => ({ url: '/runs/log-metric', body: { run_id: f.runId, key: 'm2', value: 1, timestamp: Date.now(), step: 0 } }),
    ok: 200,
  },
  'POST /runs/log-parameter': {
    access: 'EDIT', request: (f) => ({ url: '/runs/log-parameter', body: { run_id: f.runId, key: 'p2', value: '1' } }), ok: 200 },
  'POST /runs/set-tag': {
    access: 'EDIT', request: (f) => ({ url: '/runs/set-tag', body: { run_id: f.runId, key: 't', value: 'v' } }), ok: 200 },
  'POST /runs/delete-tag': {
    access: 'EDIT', request: (f) => ({ url: '/runs/delete-tag', body: { run_id: f.runId, key: 'note' } }), ok: 200 },
  'POST /runs/log-batch': {
    access: 'EDIT', request: (f) => ({ url: '/runs/log-batch', body: { run_id: f.runId, tags: [{ key: 'b', value: '1' }] } }), ok: 200 },
  'POST /runs/log-model': {
    access: 'EDIT',
    request: (f) => ({
      url: '/runs/log-model',
      body: {
        run_id: f.runId,
        model_json: JSON.stringify({ run_id: f.runId, artifact_path: 'model', utc_time_created: '2026-12-01 00:00:00.000000', flavors: {} }),
      },
    }),
    ok: 200,
  },
  'POST /runs/log-inputs': {
    access: 'EDIT',
    request: (f) => ({
      url: '/runs/log-inputs',
      body: { run_id: f.runId, datasets: [{ tags: [], dataset: { name: 'd', digest: 'abc', source_type: 'local', source: '{}' } }] },
    }),
    ok: 200,
  },
  'POST /runs/delete': {
    access: 'MANAGE', request: (f) => ({ url: '/runs/delete', body: { run_id: f.runId } }), ok: 200 },
  'POST /runs/restore': {
    access: 'MANAGE', needs: ['deleted-run'], request: (f) => ({ url: '/runs/restore', body: { run_id: f.runId } }), ok: 200 },
  'GET /metrics/get-history': {
    access: 'READ', request: (f) => ({ url: `/metrics/get-history${q({ run_id: f.runId, metric_key: 'm' })}` }), ok: 200 },
  'GET /metrics/get-history-bulk-interval': {
    access: 'signed-in',
    request: (f) => ({ url: `/metrics/get-history-bulk-interval${q({ run_ids: f.runId, metric_key: 'm' })}` }),
    ok: 200,
    shows: (json, f) => JSON.stringify(json).includes(f.runId),
  },
  'GET /artifacts/list': {
    access: 'READ', request: (f) => ({ url: `/artifacts/list${q({ run_id: f.runId })}` }), ok: 200 },
  // MLflow's basic-auth app: users and experiment permissions (2.0), the unified grants (3.0).
  'POST /users/create': { access: 'admin', request: () => ({ url: '/users/create', body: { username: uniqueId('new'), password: PASSWORD } }), ok: 200 },
  'GET /users/get': { access: 'self', request: (f) => ({ url: `/users/get${q({ username: f.victim })}` }), ok: 200 },
  'GET /users/current': { access: 'signed-in', request: () => ({ url: '/users/current' }), ok: 200 },
  'GET /users/list': { access: 'admin', request: () => ({ url: '/users/list' }), ok: 200 },
  'PATCH /users/update-password': {
    access: 'self',
    request: (f) => ({ url: '/users/update-password', body: { username: f.victim, password: 'another password of the victim' } }),
    ok: 200,
  },
  'PATCH /users/update-admin': { access: 'admin', request: (f) => ({ url: '/users/update-admin', body: { username: f.victim, is_admin: true } }), ok: 200 },
  'DELETE /users/delete': { access: 'admin', request: (f) => ({ url: '/users/delete', body: { username: f.victim } }), ok: 200 },
  'POST /experiments/permissions/create': {
    access: 'MANAGE',
    request: (f) => ({ url: '/experiments/permissions/create', body: { experiment_id: f.experimentId, username: f.victim, permission: 'READ' } }),
    ok: 200,
  },
  'GET /experiments/permissions/get': {
    access: 'MANAGE',
    request: (f) => ({ url: `/experiments/permissions/get${q({ experiment_id: f.experimentId, username: reader() })}` }),
    ok: 200,
  },
  'PATCH /experiments/permissions/update': {
    access: 'MANAGE',
    request: (f) => ({ url: '/experiments/permissions/update', body: { experiment_id: f.experimentId, username: reader(), permission: 'EDIT' } }),
    ok: 200,
  },
  'DELETE /experiments/permissions/delete': {
    access: 'MANAGE',
    request: (f) => ({ url: '/experiments/permissions/delete', body: { experiment_id: f.experimentId, username: reader() } }),
    ok: 200,
  },
  'POST /users/permissions/grant': {
    access: 'MANAGE',
    request: (f) => ({
      url: '/users/permissions/grant',
      body: { username: f.victim, resource_type: 'experiment', resource_id: f.experimentId, permission: 'READ' },
    }),
    ok: 200,
  },
  'POST /users/permissions/revoke': {
    access: 'MANAGE',
    request: (f) => ({ url: '/users/permissions/revoke', body: { username: reader(), resource_type: 'experiment', resource_id: f.experimentId } }),
    ok: 200,
  },
  'GET /users/permissions/get': {
    access: 'MANAGE',
    // About another user (anyone may ask about themselves).
    request: (f) => ({ url: `/users/permissions/get${q({ username: f.victim, resource_type: 'experiment', resource_id: f.experimentId })}` }),
    ok: 200,
  },
  // The registry: READ reads, EDIT changes, MANAGE deletes; searches show what the caller may read.
  'POST /registered-models/create': {
    access: 'signed-in', request: () => ({ url: '/registered-models/create', body: { name: uniqueId('matrix-registered') } }), ok: 200 },
  'GET /registered-models/search': {
    access: 'signed-in',
    needs: ['registered-model'],
    request: (f) => ({ url: `/registered-models/search${q({ filter: `name = '${f.registeredModel}'`, max_results: '10' })}` }),
    ok: 200,
    shows: listed('registered_models'),
  },
  'GET /registered-models/get': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: `/registered-models/get${q({ name: f.registeredModel })}` }), ok: 200 },
  'POST /registered-models/get-latest-versions': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/get-latest-versions', body: { name: f.registeredModel } }), ok: 200 },
  'GET /registered-models/get-latest-versions': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: `/registered-models/get-latest-versions${q({ name: f.registeredModel })}` }), ok: 200 },
  'GET /registered-models/alias': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: `/registered-models/alias${q({ name: f.registeredModel, alias: 'champion' })}` }), ok: 200 },
  'PATCH /registered-models/update': {
    access: 'EDIT', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/update', body: { name: f.registeredModel, description: 'changed' } }), ok: 200 },
  'POST /registered-models/rename': {
    access: 'EDIT',
    needs: ['registered-model'],
    request: (f) => ({ url: '/registered-models/rename', body: { name: f.registeredModel, new_name: uniqueId('matrix-renamed') } }),
    ok: 200,
  },
  'POST /registered-models/set-tag': {
    access: 'EDIT', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/set-tag', body: { name: f.registeredModel, key: 'k', value: 'v' } }), ok: 200 },
  'DELETE /registered-models/delete-tag': {
    access: 'EDIT', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/delete-tag', body: { name: f.registeredModel, key: 'note' } }), ok: 200 },
  'POST /registered-models/alias': {
    access: 'EDIT',
    needs: ['registered-model'],
    request: (f) => ({ url: '/registered-models/alias', body: { name: f.registeredModel, alias: 'challenger', version: '1' } }),
    ok: 200,
  },
  'DELETE /registered-models/alias': {
    access: 'MANAGE', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/alias', body: { name: f.registeredModel, alias: 'champion' } }), ok: 200 },
  'DELETE /registered-models/delete': {
    access: 'MANAGE', needs: ['registered-model'], request: (f) => ({ url: '/registered-models/delete', body: { name: f.registeredModel } }), ok: 200 },
  // EDIT on the model, and READ on the source run's experiment, which the roles hold alike.
  'POST /model-versions/create': {
    access: 'EDIT',
    needs: ['registered-model'],
    request: (f) => ({ url: '/model-versions/create', body: { name: f.registeredModel, source: `s3://bucket/${f.secret}/again`, run_id: f.runId } }),
    ok: 200,
  },
  'GET /model-versions/search': {
    access: 'signed-in',
    needs: ['registered-model'],
    request: (f) => ({ url: `/model-versions/search${q({ filter: `name = '${f.registeredModel}'`, max_results: '10' })}` }),
    ok: 200,
    shows: listed('model_versions'),
  },
  'GET /model-versions/get': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: `/model-versions/get${q({ name: f.registeredModel, version: '1' })}` }), ok: 200 },
  'GET /model-versions/get-download-uri': {
    access: 'READ', needs: ['registered-model'], request: (f) => ({ url: `/model-versions/get-download-uri${q({ name: f.registeredModel, version: '1' })}` }), ok: 200 },
  'PATCH /model-versions/update': {
    access: 'EDIT', needs: ['registered-model'], request: (f) => ({ url: '/model-versions/update', body: { name: f.registeredModel, version: '1', description: 'd' } }), ok: 200 },
  'POST /model-versions/transition-stage': {
    access: 'EDIT',
    needs: ['registered-model'],
    request: (f) => ({ url: '/model-versions/transition-stage', body: { name: f.registeredModel, version: '1', stage: 'Staging', archive_existing_versions: false } }),
    ok: 200,
  },
  'POST /model-versions/set-tag': {
    access: 'EDIT', needs: ['registered-model'], request: (f) => ({ url: '/model-versions/set-tag', body: { name: f.registeredModel, version: '1', key: 'k', value: 'v' } }), ok: 200 },
  'DELETE /model-versions/delete-tag': {
    access: 'MANAGE', needs: ['registered-model'], request: (f) => ({ url: '/model-versions/delete-tag', body: { name: f.registeredModel, version: '1', key: 'note' } }), ok: 200 },
  'DELETE /model-versions/delete': {
    access: 'MANAGE', needs: ['registered-model'], request: (f) => ({ url: '/model-versions/delete', body: { name: f.registeredModel, version: '1' } }), ok: 200 },
  'POST /registered-models/permissions/create': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: '/registered-models/permissions/create', body: { name: f.registeredModel, username: f.victim, permission: 'READ' } }),
    ok: 200,
  },
  'GET /registered-models/permissions/get': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: `/registered-models/permissions/get${q({ name: f.registeredModel, username: reader() })}` }),
    ok: 200,
  },
  'PATCH /registered-models/permissions/update': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: '/registered-models/permissions/update', body: { name: f.registeredModel, username: reader(), permission: 'EDIT' } }),
    ok: 200,
  },
  'DELETE /registered-models/permissions/delete': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: '/registered-models/permissions/delete', body: { name: f.registeredModel, username: reader() } }),
    ok: 200,
  },
  // MLflow 3's roles API over teams: changes are for admins; a role is read by admins and its
  // holders (none of the roles holds the victim's team).
  'POST /roles/create': { access: 'admin', request: () => ({ url: '/roles/create', body: { workspace: 'default', name: uniqueId('matrix-role') } }), ok: 200 },
  'GET /roles/get': { access: 'admin', request: (f) => ({ url: `/roles/get${q({ role_id: f.victimTeamId })}` }), ok: 200 },
  'GET /roles/list': { access: 'signed-in', request: () => ({ url: `/roles/list${q({ workspace: 'default' })}` }), ok: 200 },
  'PATCH /roles/update': { access: 'admin', request: (f) => ({ url: '/roles/update', body: { role_id: f.victimTeamId, description: 'changed' } }), ok: 200 },
  'DELETE /roles/delete': { access: 'admin', request: (f) => ({ url: '/roles/delete', body: { role_id: f.victimTeamId } }), ok: 200 },
  'POST /roles/permissions/add': {
    access: 'admin',
    request: (f) => ({ url: '/roles/permissions/add', body: { role_id: f.victimTeamId, resource_type: 'experiment', resource_pattern: '0', permission: 'READ' } }),
    ok: 200,
  },
  'DELETE /roles/permissions/remove': { access: 'admin', request: (f) => ({ url: '/roles/permissions/remove', body: { role_permission_id: f.victimGrantId } }), ok: 200 },
  'GET /roles/permissions/list': { access: 'admin', request: (f) => ({ url: `/roles/permissions/list${q({ role_id: f.victimTeamId })}` }), ok: 200 },
  'PATCH /roles/permissions/update': {
    access: 'admin',
    request: (f) => ({ url: '/roles/permissions/update', body: { role_permission_id: f.victimGrantId, permission: 'EDIT' } }),
    ok: 200,
  },
  'POST /roles/assign': { access: 'admin', request: (f) => ({ url: '/roles/assign', body: { username: reader(), role_id: f.victimTeamId } }), ok: 200 },
  'DELETE /roles/unassign': { access: 'admin', request: (f) => ({ url: '/roles/unassign', body: { username: f.victim, role_id: f.victimTeamId } }), ok: 200 },
  'GET /users/roles/list': { access: 'self', request: (f) => ({ url: `/users/roles/list${q({ username: f.victim })}` }), ok: 200 },
  'GET /roles/users/list': { access: 'admin', request: (f) => ({ url: `/roles/users/list${q({ role_id: f.victimTeamId })}` }), ok: 200 },
  'POST /logged-models': {
    access: 'EDIT', request: (f) => ({ url: '/logged-models', body: { experiment_id: f.experimentId } }), ok: 200 },
  'GET /logged-models/:model_id': {
    access: 'READ', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}` }), ok: 200 },
  'PATCH /logged-models/:model_id': {
    access: 'EDIT', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}`, body: { model_id: f.modelId, status: 'LOGGED_MODEL_READY' } }), ok: 200 },
  'DELETE /logged-models/:model_id': {
    access: 'MANAGE', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}` }), ok: 200 },
  'PATCH /logged-models/:model_id/tags': {
    access: 'EDIT', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}/tags`, body: { tags: [{ key: 'k', value: 'v' }] } }), ok: 200 },
  'DELETE /logged-models/:model_id/tags/:tag_key': {
    access: 'EDIT', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}/tags/note` }), ok: 200 },
  'POST /logged-models/:model_id/params': {
    access: 'EDIT', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}/params`, body: { model_id: f.modelId, params: [{ key: 'p', value: '1' }] } }), ok: 200 },
  'GET /logged-models/:model_id/artifacts/directories': {
    access: 'READ', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}/artifacts/directories` }), ok: 200 },
  'GET /logged-models/:model_id/artifacts/files': {
    access: 'READ', needs: ['model'], request: (f) => ({ url: `/logged-models/${f.modelId}/artifacts/files${q({ artifact_file_path: 'MLmodel' })}` }), ok: 200 },
  'POST /runs/outputs': {
    access: 'EDIT', needs: ['model'], request: (f) => ({ url: '/runs/outputs', body: { run_id: f.runId, models: [{ model_id: f.modelId, step: 0 }] } }), ok: 200 },
  'POST /logged-models/search': {
    access: 'signed-in',
    needs: ['model'],
    request: (f) => ({ url: '/logged-models/search', body: { experiment_ids: [f.experimentId] } }),
    ok: 200,
    shows: listed('models'),
  },
};

/** The proxied artifact service, by the path after `/api/2.0/mlflow-artifacts`. */
const ARTIFACTS: Record<string, Sample> = {
  'GET /artifacts': {
    access: 'READ',
    needs: ['artifact'],
    request: (f) => ({ url: `/artifacts${q({ path: `${f.experimentId}/${f.runId}/artifacts` })}` }),
    ok: 200,
    shows: containsSecret,
  },
  'GET /artifacts/*': {
    access: 'READ', needs: ['artifact'], request: (f) => ({ url: `/artifacts/${f.artifactPath}` }), ok: 200 },
  'PUT /artifacts/*': {
    access: 'EDIT', request: (f) => ({ url: `/artifacts/${f.experimentId}/${f.runId}/artifacts/new.txt`, payload: 'new' }), ok: 200 },
  'DELETE /artifacts/*': {
    access: 'MANAGE', needs: ['artifact'], request: (f) => ({ url: `/artifacts/${f.artifactPath}` }), ok: 200 },
  'POST /mpu/create/*': {
    access: 'EDIT', request: (f) => ({ url: `/mpu/create/${f.artifactPath}`, payload: '{}' }), ok: 501 },
  'POST /mpu/complete/*': {
    access: 'EDIT', request: (f) => ({ url: `/mpu/complete/${f.artifactPath}`, payload: '{}' }), ok: 501 },
  'POST /mpu/abort/*': {
    access: 'EDIT', request: (f) => ({ url: `/mpu/abort/${f.artifactPath}`, payload: '{}' }), ok: 501 },
};

/** Everything else, by full path. */
const OTHERS: Record<string, Sample> = {
  'GET /health': {
    access: 'public', request: () => ({ url: '/health' }), ok: 200 },
  'GET /version': {
    access: 'public', request: () => ({ url: '/version' }), ok: 200 },
  'GET /api/v1/openapi.json': {
    access: 'public', request: () => ({ url: '/api/v1/openapi.json' }), ok: 200 },
  'GET /api/v1/agent.js': {
    access: 'public', request: () => ({ url: '/api/v1/agent.js' }), ok: 200 },
  'GET /api/v1/offers': {
    access: 'signed-in', request: () => ({ url: '/api/v1/offers' }), ok: 200 },
  'POST /api/v1/code-bundles': {
    access: 'signed-in',
    request: () => ({ url: '/api/v1/code-bundles', payload: bundleArchive, headers: { 'content-type': 'application/gzip' } }),
    ok: [200, 201],
  },
  'GET /api/v1/code-bundles/:digest': {
    access: 'signed-in', request: () => ({ url: `/api/v1/code-bundles/${bundleDigest}` }), ok: 200 },
  'POST /api/v1/launches': {
    access: 'name:EDIT', request: (f) => ({ url: '/api/v1/launches', body: { spec: spec(f) } }), ok: 201 },
  'GET /api/v1/launches': {
    access: 'signed-in',
    needs: ['launch'],
    request: (f) => ({ url: `/api/v1/launches${q({ experiment: f.experimentId })}` }),
    ok: 200,
    shows: (json, f) => JSON.stringify(json).includes(f.launchId),
  },
  'GET /api/v1/launches/:id': {
    access: 'READ', needs: ['launch'], request: (f) => ({ url: `/api/v1/launches/${f.launchId}` }), ok: 200 },
  'GET /api/v1/launches/:id/attempts': {
    access: 'READ', needs: ['launch'], request: (f) => ({ url: `/api/v1/launches/${f.launchId}/attempts` }), ok: 200 },
  'POST /api/v1/launches/:id/cancel': {
    access: 'EDIT', needs: ['running-launch'], request: (f) => ({ url: `/api/v1/launches/${f.launchId}/cancel` }), ok: 200 },
  'POST /api/v1/schedules': {
    access: 'name:EDIT',
    request: (f) => ({ url: '/api/v1/schedules', body: { name: uniqueId('matrix-new'), every: '24h', spec: spec(f) } }),
    ok: 201,
  },
  'GET /api/v1/schedules': {
    access: 'signed-in',
    needs: ['schedule'],
    request: () => ({ url: '/api/v1/schedules' }),
    ok: 200,
    shows: (json, f) => JSON.stringify(json).includes(f.scheduleName),
  },
  'GET /api/v1/schedules/:name': {
    access: 'READ', needs: ['schedule'], request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}` }), ok: 200 },
  'PUT /api/v1/schedules/:name': {
    access: 'EDIT',
    needs: ['schedule'],
    request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}`, body: { spec: spec(f, 'echo updated') } }),
    ok: 200,
  },
  'DELETE /api/v1/schedules/:name': {
    access: 'MANAGE', needs: ['schedule'], request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}` }), ok: 200 },
  'POST /api/v1/schedules/:name/pause': {
    access: 'EDIT', needs: ['schedule'], request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}/pause`, body: {} }), ok: 200 },
  'POST /api/v1/schedules/:name/unpause': {
    access: 'EDIT', needs: ['schedule'], request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}/unpause`, body: {} }), ok: 200 },
  'POST /api/v1/schedules/:name/trigger': {
    access: 'EDIT', needs: ['schedule'], request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}/trigger`, body: {} }), ok: 200 },
  'POST /api/v1/schedules/:name/backfill': {
    access: 'EDIT',
    needs: ['schedule'],
    request: (f) => ({ url: `/api/v1/schedules/${f.scheduleName}/backfill`, body: { start: '2026-01-01T00:00:00Z', end: '2026-01-01T00:00:01Z' } }),
    ok: 200,
  },
  'POST /api/v1/pipelines': {
    access: 'name:EDIT', request: (f) => ({ url: '/api/v1/pipelines', body: { name: uniqueId('matrix-p'), spec: spec(f) } }), ok: 201 },
  'GET /api/v1/pipelines': {
    access: 'signed-in',
    needs: ['pipeline'],
    request: (f) => ({ url: `/api/v1/pipelines${q({ name: f.pipelineName })}` }),
    ok: 200,
    shows: (json, f) => JSON.stringify(json).includes(f.pipelineName),
  },
  'POST /api/v1/teams': { access: 'admin', request: () => ({ url: '/api/v1/teams', body: { name: uniqueId('new-team') } }), ok: 201 },
  'GET /api/v1/teams': { access: 'signed-in', request: () => ({ url: '/api/v1/teams' }), ok: 200 },
  'GET /api/v1/teams/:name': { access: 'signed-in', request: (f) => ({ url: `/api/v1/teams/${f.victimTeam}` }), ok: 200 },
  'DELETE /api/v1/teams/:name': { access: 'admin', request: (f) => ({ url: `/api/v1/teams/${f.victimTeam}` }), ok: 200 },
  'POST /api/v1/teams/:name/members': {
    access: 'admin',
    request: (f) => ({ url: `/api/v1/teams/${f.victimTeam}/members`, body: { username: reader() } }),
    ok: 200,
  },
  'DELETE /api/v1/teams/:name/members/:username': {
    access: 'admin',
    request: (f) => ({ url: `/api/v1/teams/${f.victimTeam}/members/${f.victim}` }),
    ok: 200,
  },
  // Only a password may create a token (a token may not mint its successors).
  'POST /api/v1/tokens': { access: 'signed-in', password: true, request: () => ({ url: '/api/v1/tokens', body: { name: 'matrix' } }), ok: 201 },
  'GET /api/v1/tokens': { access: 'signed-in', request: () => ({ url: '/api/v1/tokens' }), ok: 200 },
  'POST /api/v1/tokens/:id/revoke': { access: 'signed-in', request: (f) => ({ url: `/api/v1/tokens/${f.ownTokenId}/revoke`, body: {} }), ok: 200 },
  'GET /api/v1/experiments/:id/grants': { access: 'MANAGE', request: (f) => ({ url: `/api/v1/experiments/${f.experimentId}/grants` }), ok: 200 },
  'PUT /api/v1/experiments/:id/grants': {
    access: 'MANAGE',
    request: (f) => ({ url: `/api/v1/experiments/${f.experimentId}/grants`, body: { username: f.victim, permission: 'READ' } }),
    ok: 200,
  },
  'DELETE /api/v1/experiments/:id/grants': {
    access: 'MANAGE',
    request: (f) => ({ url: `/api/v1/experiments/${f.experimentId}/grants`, body: { username: reader() } }),
    ok: 200,
  },
  'GET /api/v1/registered-models/:name/grants': {
    access: 'MANAGE', needs: ['registered-model'], request: (f) => ({ url: `/api/v1/registered-models/${f.registeredModel}/grants` }), ok: 200 },
  'PUT /api/v1/registered-models/:name/grants': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: `/api/v1/registered-models/${f.registeredModel}/grants`, body: { username: f.victim, permission: 'READ' } }),
    ok: 200,
  },
  'DELETE /api/v1/registered-models/:name/grants': {
    access: 'MANAGE',
    needs: ['registered-model'],
    request: (f) => ({ url: `/api/v1/registered-models/${f.registeredModel}/grants`, body: { username: reader() } }),
    ok: 200,
  },
  'GET /api/v1/audit': { access: 'admin', request: () => ({ url: `/api/v1/audit${q({ limit: '5' })}` }), ok: 200 },
  'GET /api/v1/pipelines/:name/versions/:version': {
    access: 'READ',
    needs: ['pipeline'],
    request: (f) => ({ url: `/api/v1/pipelines/${f.pipelineName}/versions/1` }),
    ok: 200,
  },
};

const MLFLOW_PREFIX = /^\/(?:api|ajax-api)\/[23]\.0\/mlflow(-artifacts)?(?=\/)/;

function sampleOf(route: RouteAccess): { sample: Sample; prefix: string } | undefined {
  const match = MLFLOW_PREFIX.exec(route.url);
  if (!match) {
    const sample = OTHERS[`${route.method} ${route.url}`];
    return sample && { sample, prefix: '' };
  }
  const sample = (match[1] ? ARTIFACTS : TRACKING)[`${route.method} ${route.url.slice(match[0].length)}`];
  return sample && { sample, prefix: match[0] };
}

/** What a role must get from a route: the allowed status, or the denial. */
function expectedOutcome(access: Access, role: Role): 'allowed' | 401 | 403 | 404 {
  if (access === 'public') return 'allowed';
  if (role === 'anonymous') return 401;
  if (role === 'admin' || access === 'signed-in') return 'allowed';
  if (access === 'admin' || access === 'self') return 403; // the samples name the fixture's victim, who is none of the roles
  const held = HELD[role];
  if (access === 'name:EDIT') return permits(held, 'EDIT') ? 'allowed' : 403;
  if (!permits(held, 'READ')) return 404;
  return permits(held, access) ? 'allowed' : 403;
}

test('every route has an access rule and a sample, and answers each role as its rule says, leaking nothing when it refuses', async () => {
  const routes = routeAccessOf.get(app) ?? [];
  expect(routes.length).toBeGreaterThan(60);
  const unsampled = routes.filter((route) => !sampleOf(route)).map((route) => `${route.method} ${route.url}`);
  expect(unsampled).toEqual([]);

  const mismatches: string[] = [];
  for (const route of routes) {
    const { sample, prefix } = sampleOf(route)!;
    for (const role of ROLES) {
      const f = await createFixture(sample.needs ?? [], identities.get(role));
      const req = sample.request(f, identities.get(role));
      const response = await call(role, {
        method: route.method,
        url: `${prefix}${req.url}`,
        ...(req.body !== undefined && { payload: req.body }),
        ...(req.payload !== undefined && { payload: req.payload }),
        headers: req.headers ?? (req.payload !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
        ...(sample.password && { password: true }),
      });
      const expected = expectedOutcome(sample.access, role);
      const okStatuses = Array.isArray(sample.ok) ? sample.ok : [sample.ok];
      const label = `${route.method} ${route.url} as ${role}`;
      const json = response.contentType.includes('json') ? response.json() : response.body;
      if (expected === 'allowed') {
        if (!okStatuses.includes(response.statusCode)) mismatches.push(`${label}: expected ${okStatuses.join('|')}, got ${response.statusCode} ${response.body.slice(0, 200)}`);
        if (sample.shows) {
          const mayRead = role === 'admin' || (role !== 'anonymous' && permits(HELD[role], 'READ'));
          if (sample.shows(json, f) !== mayRead) mismatches.push(`${label}: the list ${mayRead ? 'misses' : 'shows'} the fixture`);
        }
      } else {
        const code = { 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'RESOURCE_DOES_NOT_EXIST' }[expected];
        if (response.statusCode !== expected || (json as { error_code?: string }).error_code !== code) {
          mismatches.push(`${label}: expected ${expected} ${code}, got ${response.statusCode} ${response.body.slice(0, 200)}`);
        }
        // Only what the caller sent may come back: never the experiment's name, tags, params or files.
        const sent = JSON.stringify(req.body ?? '') + req.url;
        if (!sent.includes(f.secret) && response.body.includes(f.secret)) mismatches.push(`${label}: the refusal leaks ${response.body}`);
        if (Object.keys(json as object).sort().join() !== 'error_code,message') mismatches.push(`${label}: refusal body ${response.body}`);
      }
    }
  }
  expect(mismatches).toEqual([]);
}, 600_000);

test('a hidden run or experiment answers exactly as a missing one does', async () => {
  const f = await createFixture([]);
  const asOutsider = (url: string) => call('no permission', { method: 'GET', url });
  const hidden = await asOutsider(`/api/2.0/mlflow/runs/get${q({ run_id: f.runId })}`);
  const missing = await asOutsider(`/api/2.0/mlflow/runs/get${q({ run_id: 'f'.repeat(32) })}`);
  expect(hidden.statusCode).toBe(404);
  expect(hidden.body).toBe(missing.body.replace('f'.repeat(32), f.runId));
  const hiddenExperiment = await asOutsider(`/api/2.0/mlflow/experiments/get${q({ experiment_id: f.experimentId })}`);
  const missingExperiment = await asOutsider(`/api/2.0/mlflow/experiments/get${q({ experiment_id: '987654321987' })}`);
  expect(hiddenExperiment.statusCode).toBe(missingExperiment.statusCode);
  expect(hiddenExperiment.body).toBe(missingExperiment.body.replace('987654321987', f.experimentId));
});
