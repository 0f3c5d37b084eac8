import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import type { AuthConfig, Permission } from '../../domain/auth';

export interface AuthApi {
  url: string;
  auth: AuthConfig;
  close(): Promise<void>;
}

/** The API with access control on, over `pool` (a scratch database, usually), on a free port. */
export async function startAuthApi(opts: {
  pool: pg.Pool;
  temporal: Client;
  artifactRoot: string;
  defaultPermission?: Permission;
}): Promise<AuthApi> {
  const auth: AuthConfig = { enabled: true, defaultPermission: opts.defaultPermission ?? 'NO_PERMISSIONS' };
  const app = buildApp({ pool: opts.pool, temporal: opts.temporal, taskQueue: 'auth-tests-launch-nothing', artifactRoot: opts.artifactRoot, auth });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, auth, close: () => app.close() };
}
