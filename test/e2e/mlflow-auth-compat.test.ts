import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../api/auth/passwords';
import { createUser } from '../../store/users';
import { uniqueId } from '../helpers/launches';
import { expectSuitePasses, ReferenceServers, type ReferenceServer } from '../helpers/mlflow-server';
import { testEnv } from '../helpers/services';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

/**
 * The access-control suite (test/compat-auth/, the stock MLflow client and its basic-auth app
 * client) against mlfleet with auth on and against `mlflow server --app-name basic-auth`, both
 * with NO_PERMISSIONS as the default permission: the same tests must pass against both.
 */

const SUITE = ['test/compat-auth'];
const ADMIN_PASSWORD = 'the admin password of the suite';

let ctx: WorkflowTestContext;
const references = new ReferenceServers();
let reference: ReferenceServer;
let mlfleet: string;
let mlfleetAdmin: string;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  mlfleet = await ctx.startApi(uniqueId('auth-compat'), { auth: { enabled: true, defaultPermission: 'NO_PERMISSIONS' } });
  mlfleetAdmin = uniqueId('admin');
  await createUser(ctx.pool, { username: mlfleetAdmin, passwordHash: await hashPassword(ADMIN_PASSWORD), isAdmin: true });

  const dir = mkdtempSync(join(testEnv().dataDir, 'mlflow-auth-'));
  const config = join(dir, 'basic_auth.ini');
  writeFileSync(
    config,
    [
      '[mlflow]',
      'default_permission = NO_PERMISSIONS',
      `database_uri = ${await references.database()}`,
      'admin_username = admin',
      `admin_password = ${ADMIN_PASSWORD}`,
      '',
    ].join('\n'),
  );
  reference = await references.start(join(dir, 'artifacts'), {
    args: ['--app-name', 'basic-auth'],
    env: { MLFLOW_AUTH_CONFIG_PATH: config, MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString('hex') },
  });
}, 180_000);

afterAll(async () => {
  await references.stopAll();
  await ctx?.close();
});

test('passes against mlflow server --app-name basic-auth', async () => {
  await expectSuitePasses(
    SUITE,
    { MLFLOW_TRACKING_URI: reference.url, COMPAT_ADMIN_USERNAME: 'admin', COMPAT_ADMIN_PASSWORD: ADMIN_PASSWORD, COMPAT_SERVER: 'mlflow' },
    `mlflow basic-auth ${reference.url}`,
  );
}, 240_000);

test('passes against mlfleet with MLFLEET_AUTH=on', async () => {
  await expectSuitePasses(
    SUITE,
    { MLFLOW_TRACKING_URI: mlfleet, COMPAT_ADMIN_USERNAME: mlfleetAdmin, COMPAT_ADMIN_PASSWORD: ADMIN_PASSWORD, COMPAT_SERVER: 'mlfleet' },
    `mlfleet ${mlfleet}`,
  );
}, 240_000);
